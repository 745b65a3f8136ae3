"""Architecture and input size by measurement: held-out accuracy per CPU-second of inference.

Each variant (a model, an inference size, optionally ``--slice``) is evaluated with
``detector.evaluate.evaluate_model`` on the same held-out split (the survey's own detect stage,
so the same letterboxing, precision and slicing as a survey) and scored by

    AP50 (true boxes of 6 px and up) / CPU-seconds of inference per image,

with precision, recall, false detections per image and recall of 8-16 px and > 16 px boxes at
the model card's operating threshold beside it. CPU-seconds are user + system time of this
process and its children, so they do not depend on how busy the shared machine is as much as
wall time does (they still grow a little under contention).

Run: ``python -m scripts.bench.inference_variants --data DATA.yaml --variant NAME@640
--variant NAME@960 --variant NAME@640/320:0.2 --json table.json``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import detector  # noqa: F401  (offline ultralytics before importing it)


def parse_variant(text: str) -> tuple[str, int, str | None]:
    """``MODEL@IMGSZ[/SLICE]`` -> (model, imgsz px, slice spec or None)."""
    model, _, rest = text.partition("@")
    size, _, slicing = rest.partition("/")
    return model, int(size or 640), slicing or None


def recall_between(scores: dict, lo: float, hi: float) -> float | None:
    """Recall of true boxes with lo <= sqrt(area) < hi px, pooled over the fine size bands."""
    rows = [r for r in scores["by_size"] if r["lo_px"] >= lo and r["hi_px"] <= hi]
    n = sum(r["n"] for r in rows)
    return sum(r["found"] for r in rows) / n if n else None


def row_from_scores(name: str, scores: dict) -> dict:
    per_image = scores["cpu_seconds"] / max(scores["n_images"], 1)
    ap50 = scores["ap50_any_class"]
    return {"variant": name, "ap50": ap50, "precision": scores["precision"], "recall": scores["recall"],
            "false_per_image": scores["false_per_image"], "recall_8_16": recall_between(scores, 8, 16),
            "recall_16_up": recall_between(scores, 16, 1e9), "cpu_ms_per_image": round(1000 * per_image, 1),
            "ap50_per_cpu_s": None if ap50 is None or per_image <= 0 else round(ap50 / per_image, 2),
            "conf": scores["conf"]}


def markdown(rows: list[dict]) -> str:
    def f(v, digits=3):
        return "n/a" if v is None else f"{v:.{digits}f}"

    lines = ["| variant | AP50 (>= 6 px) | precision | recall | false / image | recall 8-16 px | recall > 16 px "
             "| CPU ms / image | AP50 per CPU-s / image |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {f(r['ap50'])} | {f(r['precision'])} | {f(r['recall'])} "
                     f"| {f(r['false_per_image'])} | {f(r['recall_8_16'])} | {f(r['recall_16_up'])} "
                     f"| {r['cpu_ms_per_image']:.1f} | {f(r['ap50_per_cpu_s'], 2)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from detector.evaluate import evaluate_model
    from detector.registry import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="held-out data.yaml")
    parser.add_argument("--split", default="val")
    parser.add_argument("--variant", action="append", required=True, help="MODEL@IMGSZ[/SLICE], repeatable")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for text in args.variant:
        model, imgsz, slicing = parse_variant(text)
        resolved = resolve_model(model)
        conf = resolved.card.conf if resolved.card else None
        scores = evaluate_model(resolved, args.data, split=args.split, imgsz=imgsz, slice=slicing, conf=conf,
                                device=args.device)
        rows.append(row_from_scores(text, scores))
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
