"""The detector's before/after table on the fixed held-out sets (issue 28), by size band and look.

    python -m scripts.validation.detector_heldout --sets DIR --model models/X.pt [--model ...]
        [--conf C] [--imgsz 640] [--slice SIZE:OVERLAP] [--cache DIR] [--json OUT.json]

``DIR`` is what ``python -m scripts.synthesis.heldout DIR`` built: the same views in the training
look (``default``), the held-out look (``alt``) and corrupted (``corrupt``). Each model runs once per
look (predictions cached as Parquet under ``--cache``, so a rerun only scores); the operating
threshold is the model's card ``conf`` (or ``--conf``; a card without one: max F1 on the training
look), the same on every look. Per look: recall for true boxes 6-8, 8-16, > 16 and >= 8 px
(sqrt(w*h), IoU 0.5, any class), precision, false detections per image, reach (m) per class, and the
>= 8 px recall as a ratio of the training look's (the issue's target: >= 0.8).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

LOOKS = ("default", "alt", "corrupt")


def _predictions(model, spec, *, look: str, imgsz: int, slice: str | None, cache: Path | None) -> pd.DataFrame:
    from detector.evaluate import predictions_from_model

    images = spec.splits["val"]
    path = None
    if cache is not None:
        tag = f"{model.model_id}-{look}-{imgsz}{'-' + slice.replace(':', '_') if slice else ''}.parquet"
        path = cache / tag
        if path.is_file():
            return pd.read_parquet(path)
    predictions, _ = predictions_from_model(model, images, imgsz=imgsz, device="cpu", slice=slice)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        predictions.to_parquet(path)
    return predictions


def _bands(by_size: list[dict[str, Any]]) -> dict[str, Any]:
    def recall(lo: float, hi: float) -> tuple[float | None, int]:
        rows = [r for r in by_size if r["lo_px"] >= lo and r["hi_px"] <= hi]
        n = sum(r["n"] for r in rows)
        return (round(sum(r["found"] for r in rows) / n, 3) if n else None), n

    out = {}
    for name, (lo, hi) in {"6-8": (6, 8), "8-16": (8, 16), ">16": (16, 1e9), ">=8": (8, 1e9)}.items():
        out[f"recall_{name}"], out[f"n_{name}"] = recall(lo, hi)
    return out


def table_from_sets(sets: str | Path, models: list[str], *, conf: float | None = None, imgsz: int = 640,
                    slice: str | None = None, cache: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per model and look (see the module docstring)."""
    from detector.evaluate import scores_from_boxes, truth_from_split
    from detector.reach import reach_for_split
    from detector.registry import resolve_model
    from detector.yolo_dataset import read_data_yaml

    sets = Path(sets)
    rows = []
    for name in models:
        model = resolve_model(str(name))
        threshold = conf if conf is not None else (model.card.conf if model.card and model.card.conf else None)
        base_recall = None
        for look in LOOKS:
            spec = read_data_yaml(sets / look / "data.yaml")
            images = spec.splits["val"]
            truth = truth_from_split(images, spec.names)
            predictions = _predictions(model, spec, look=look, imgsz=imgsz, slice=slice,
                                       cache=Path(cache) if cache else None)
            scores = scores_from_boxes(predictions, truth, conf=threshold, n_images=len(images))
            threshold = scores["conf"] if threshold is None else threshold  # max F1 on the training look
            reach = reach_for_split(predictions, truth, images, conf=threshold, data_root=spec.root)
            row = {"model": model.model_id, "look": look, "imgsz": imgsz, "slice": slice, "conf": round(threshold, 4),
                   "n_images": len(images), **_bands(scores["by_size"]),
                   "precision": round(scores["precision"], 3), "false_per_image": round(scores["false_per_image"], 4),
                   "reach_m": dict((reach or {}).get("reach_m", {}))}
            if look == "default":
                base_recall = row["recall_>=8"]
            row["ratio_>=8"] = round(row["recall_>=8"] / base_recall, 3) if base_recall and row["recall_>=8"] is not None else None
            rows.append(row)
    return rows


def markdown_from_rows(rows: list[dict[str, Any]]) -> str:
    head = "| model | look | conf | 6-8 px | 8-16 px | > 16 px | >= 8 px | ratio | precision | false/img | reach m |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        reach = ", ".join(f"{k} {v:.0f}" for k, v in r["reach_m"].items() if v is not None) or "-"
        cell = lambda key: "-" if r[key] is None else f"{r[key]:.2f}"  # noqa: E731
        lines.append(f"| {r['model']} | {r['look']} | {r['conf']:.3f} | {cell('recall_6-8')} (n={r['n_6-8']}) | "
                     f"{cell('recall_8-16')} | {cell('recall_>16')} | {cell('recall_>=8')} | {cell('ratio_>=8')} | "
                     f"{r['precision']:.2f} | {r['false_per_image']:.3f} | {reach} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", required=True, help="folder of the three held-out sets")
    parser.add_argument("--model", action="append", required=True, help="models/ name or weights path")
    parser.add_argument("--conf", type=float, default=None, help="operating threshold 0-1 (default: the card's)")
    parser.add_argument("--imgsz", type=int, default=640, help="inference size, px. Default 640.")
    parser.add_argument("--slice", default=None, help="sliced inference SIZE:OVERLAP (px, fraction)")
    parser.add_argument("--cache", default=None, help="folder for cached predictions (Parquet)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = table_from_sets(args.sets, args.model, conf=args.conf, imgsz=args.imgsz, slice=args.slice,
                           cache=args.cache)
    print(markdown_from_rows(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
