"""An equal-budget race of detector architectures (issue 21), one resumable command.

    nohup nice -n 10 .venv/bin/python scripts/validation/race.py run \\
        --out datasets/race21 --hours 0.13 > datasets/race21.log 2>&1 &
    .venv/bin/python scripts/validation/race.py table --out datasets/race21
    nohup nice -n 10 .venv/bin/python scripts/validation/race.py style \
        --out datasets/race21 > datasets/race21-style.log 2>&1 &

``run`` renders ONE dataset (``camcensus dataset synth``: demo-area training scenes with new seeds,
5-10 px zoom-out crops, small hard negatives, photometric randomization; the held-out split is
pyrosm's test extract, whole), then trains every contender with the SAME wall-time budget
(``--hours``) on it, then evaluates each, and the shipped default, on the same held-out split:
AP50 (6 px and up), recall per size band, false detections per image, CPU ms per image and reach
(``detector.reach``); the shipped weights are also scored at 800 px input (no training: the
input-size variant at zero training cost). Each step is skipped when its output exists, so rerunning the same command
resumes. Every step runs in a child process, so that a fixed evaluation can be rerun alone
(delete ``results/NAME.json``). Weights stay under ``OUT/models`` (not committed): shipping one is a
decision made by hand on the table (``race.md``).

``style`` renders the SAME held-out views again in the simulator's "alt" style (never used in
training: ``geo.sim.render.STYLES``) and evaluates the race's weights there at the threshold each
had in the training style; ``style.md`` gives recall
of boxes of 8 px and up in both styles and their ratio (issue 21's target: at least 0.8).

Contenders whose architecture differs from the shipped model start from a checkpoint that has
every tensor of the shipped weights whose name and shape match (``init/NAME.pt``, counts in
``init/NAME.json``): a partial transfer, not a from-scratch start.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CAMCENSUS = str(ROOT / ".venv" / "bin" / "camcensus")
PYTHON = sys.executable
SHIPPED = ROOT / "models" / "cctv-yolo11n-synth2.pt"


@dataclass(frozen=True)
class Contender:
    name: str
    arch: str | None  # architecture yaml for a partial transfer; None: fine-tune the shipped weights
    train_imgsz: int = 320
    eval_imgsz: int = 640
    note: str = ""
    extra: dict = field(default_factory=dict)


CONTENDERS = [
    Contender("yolo11n", None, note="fine-tuned from cctv-yolo11n-synth2"),
    Contender("yolo11n-p2", str(ROOT / "models" / "arch" / "yolo11n-p2.yaml"),
              note="stride-4 head; matching tensors of synth2"),
    Contender("yolo26n", "yolo26n.yaml", note="ultralytics 8.4 yolo26; matching tensors of synth2"),
    Contender("yolo26n-p2", "yolo26n-p2.yaml", note="yolo26 with a P2 head; matching tensors of synth2"),
    Contender("yolo11n-800", None, train_imgsz=400, eval_imgsz=800,
              note="fine-tuned from synth2 on crops magnified 1.25x, predicts at 800 px"),
]


def dataset_args(out: Path, *, views: int, val_views: int, seed: int, data: str = "data") -> list[str]:
    """The one ``camcensus dataset synth`` call of the race."""
    import pyrosm

    test_pbf = pyrosm.get_data("test_pbf")
    args = [CAMCENSUS, "dataset", "synth", "--area", "demo", "--area", "demo", "--area", "demo",
            "--val-area", test_pbf]
    for spec in ("osm", "random:8", "random:15", "random:30:778"):
        args += ["--sim-cameras", spec]
    args += ["--views", str(views), "--val-fraction", f"{val_views / views:.6f}", "--layouts", "3",
             "--spacing", "12", "--tile", "320", "--away", "0.3", "--decoys", "0.8", "--sky", "0.15",
             "--min-positive", "0.6", "--balance", "--small", "1.0", "--small-px", "5:10",
             "--small-decoys", "0.5", "--photometric", "0.5", "--scale-floor", "2.5", "--seed", str(seed),
             "--out", str(out / data)]
    return args


def train_args_of(data: Path) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from detector.yolo_dataset import read_train_args

    return [f"--arg={k}={v}" for k, v in read_train_args(data).items() if k != "imgsz"]


def init_checkpoint(arch: str, path: Path) -> dict:
    """A checkpoint of ``arch`` (nc 2) holding every tensor of the shipped weights whose name and
    shape match; returns the transfer counts."""
    import torch

    import detector  # noqa: F401  (offline ultralytics)
    from ultralytics.nn.tasks import DetectionModel

    source = torch.load(SHIPPED, map_location="cpu", weights_only=False)
    src = source["model"].float().state_dict()
    model = DetectionModel(arch, nc=2, verbose=False)
    dst = model.state_dict()
    match = {k: v for k, v in src.items() if k in dst and v.shape == dst[k].shape}
    dst.update(match)
    model.load_state_dict(dst)
    model.names = dict(source["model"].names)
    model.args = dict(source.get("train_args", {}))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.half(), "ema": None, "epoch": -1, "optimizer": None, "train_args": model.args,
                "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "version": "camcensus-race-init"}, path)
    counts = {"arch": arch, "transferred": len(match), "tensors": len(dst),
              "params": int(sum(p.numel() for p in model.parameters()))}
    path.with_suffix(".json").write_text(json.dumps(counts, indent=2))
    return counts


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


EVAL_RESERVE_H = 2.5 / 60  # evaluation of one contender on the held-out split, h (with margin)


def race_budget(out: Path, *, hours: float, deadline: str | None, only: list[str] | None) -> float:
    """The per-contender training budget (h), fixed once per race in ``budget.json`` so that a
    resumed race gives every contender the same: ``hours``, or less when ``deadline`` (HH:MM UTC,
    today) leaves less for the contenders still to train and every evaluation."""
    path = out / "budget.json"
    if path.is_file():
        return float(json.loads(path.read_text())["hours"])
    if deadline:
        names = [c.name for c in CONTENDERS if not only or c.name in only]
        todo = [n for n in names if not (out / "models" / f"{n}.pt").is_file()]
        now = time.gmtime()
        hh, mm = (int(v) for v in deadline.split(":"))
        left_h = (hh * 60 + mm - now.tm_hour * 60 - now.tm_min) / 60 - EVAL_RESERVE_H * (len(names) + 1)
        if todo:
            hours = min(hours, max(left_h, 0.0) / len(todo))
    if hours < 0.02:
        raise SystemExit(f"race: only {hours * 60:.1f} min per contender left before {deadline}; not starting")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"hours": round(hours, 4), "deadline": deadline,
                                "set": time.strftime("%H:%M:%S", time.gmtime())}))
    return round(hours, 4)


def run(out: Path, *, hours: float, views: int, val_views: int, seed: int, only: list[str] | None,
        deadline: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    settings = out / "race.json"
    if not settings.is_file():
        settings.write_text(json.dumps({"views": views, "val_views": val_views, "seed": seed}))
    log = lambda msg: print(f"== {time.strftime('%H:%M:%S', time.gmtime())} {msg}", flush=True)  # noqa: E731
    if not (out / "dataset.done").is_file():
        log("dataset")
        subprocess.run(dataset_args(out, views=views, val_views=val_views, seed=seed), check=True)
        subprocess.run([CAMCENSUS, "dataset", "check", str(data)], check=True)
        (out / "dataset.done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    extra = train_args_of(data)
    hours = race_budget(out, hours=hours, deadline=deadline, only=only)
    log(f"budget: {hours:.4f} h of wall time per contender")
    for c in CONTENDERS:
        if only and c.name not in only:
            continue
        weights = out / "models" / f"{c.name}.pt"
        record = out / "models" / f"{c.name}.train.json"
        if not weights.is_file():
            start_model = str(SHIPPED)
            if c.arch:
                init = out / "init" / f"{c.name}.pt"
                if not init.is_file():
                    log(f"{c.name}: transfer into {c.arch}: {init_checkpoint(c.arch, init)}")
                start_model = str(init)
            log(f"{c.name}: train {hours} h from {start_model} at {c.train_imgsz} px, load {_load()}")
            started, load0 = time.time(), _load()
            subprocess.run([CAMCENSUS, "train", "--data", str(data / "data.yaml"), "--model", start_model,
                            "--hours", str(hours), "--epochs", "200", "--imgsz", str(c.train_imgsz),
                            "--batch", "16", "--device", "cpu", "--dtype", "auto", "--seed", str(seed),
                            "--run-dir", str(out / "runs" / c.name), "--out", str(weights.with_suffix("")),
                            "--arg", "val=False", "--arg", "warmup_epochs=0.2", *extra])
            if not weights.is_file():
                log(f"!! {c.name}: training failed; rerun `run` to retry")
                continue
            record.write_text(json.dumps({"seconds": round(time.time() - started, 1), "load_start": load0,
                                          "load_end": _load(), "hours": hours}, indent=2))
        if not (out / "results" / f"{c.name}.json").is_file():
            log(f"{c.name}: evaluate at {c.eval_imgsz} px")
            evaluate_in_child(out, c.name, weights, c.eval_imgsz)
    for name, imgsz in (("shipped", 640), ("shipped-800", 800)):  # the baseline, and its input-size variant
        if not (out / "results" / f"{name}.json").is_file() and not only:
            log(f"shipped cctv-yolo11n-synth2: evaluate at {imgsz} px")
            evaluate_in_child(out, name, SHIPPED, imgsz)
    log("table")
    print(write_table(out))


def evaluate_in_child(out: Path, name: str, weights: Path, imgsz: int, *, data: str = "data",
                      results: str = "results", conf: float | None = None) -> None:
    """A failed evaluation is reported and the race goes on (rerun `run` to retry it)."""
    done = subprocess.run([PYTHON, str(Path(__file__).resolve()), "eval", "--out", str(out), "--name", name,
                           "--weights", str(weights), "--imgsz", str(imgsz), "--data", data,
                           "--results", results, *(["--conf", str(conf)] if conf is not None else [])])
    if done.returncode:
        print(f"!! evaluation of {name} failed (exit {done.returncode}); rerun `run` to retry", flush=True)


def evaluate(out: Path, *, name: str, weights: Path, imgsz: int, data: str = "data",
             results: str = "results", conf: float | None = None) -> dict:
    """Predictions (kept as Parquet), scores and reach of one contender on the held-out split, at
    the threshold of max F1 or at ``conf``."""
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from detector.evaluate import predictions_from_model, scores_from_boxes, truth_from_split
    from detector.reach import reach_from_boxes, ranges_for_truth
    from detector.registry import model_from_path
    from detector.yolo_dataset import read_data_yaml

    spec = read_data_yaml(out / data / "data.yaml")
    images = spec.splits["val"]
    results = out / results
    results.mkdir(parents=True, exist_ok=True)
    pred_path = results / f"{name}.predictions.parquet"
    timing_path = results / f"{name}.timing.json"
    if pred_path.is_file() and timing_path.is_file():
        predictions, timing = pd.read_parquet(pred_path), json.loads(timing_path.read_text())
    else:
        predictions, timing = predictions_from_model(model_from_path(weights), images, imgsz=imgsz, device="cpu")
        predictions.to_parquet(pred_path)
        timing["load"] = _load()
        timing_path.write_text(json.dumps(timing))
    truth = truth_from_split(images, spec.names)
    scores = scores_from_boxes(predictions, truth, n_images=len(images), conf=conf)
    scores.pop("curve")
    ranges = ranges_for_truth(truth, images, out / data / "truth_ranges.csv")
    scores["reach"] = reach_from_boxes(predictions, truth, conf=scores["conf"], ranges_m=ranges)
    scores.update({"name": name, "weights": str(weights), "imgsz": imgsz, **timing,
                   "cpu_ms_per_image": round(1000 * timing["cpu_seconds"] / len(images), 2)})
    train = out / "models" / f"{name}.train.json"
    if train.is_file():
        scores["train"] = json.loads(train.read_text())
    (results / f"{name}.json").write_text(json.dumps(scores, indent=2, default=float))
    return scores


BAND_COLUMNS = [("6-8", 6.0, 8.0), ("8-16", 8.0, 16.0), (">16", 16.0, 1e9)]


def row_from_scores(scores: dict) -> dict:
    """One table row: AP50 (class-aware and any class), recall per band, false/image, ms, reach."""
    bands = scores.get("by_size") or []

    def band_recall(lo: float, hi: float) -> float | None:
        n = sum(b["n"] for b in bands if b["lo_px"] >= lo and b["hi_px"] <= hi)
        found = sum(b["found"] for b in bands if b["lo_px"] >= lo and b["hi_px"] <= hi)
        return found / n if n else None

    reach = (scores.get("reach") or {}).get("reach_m") or {}
    train = scores.get("train") or {}
    return {"name": scores["name"], "imgsz": scores.get("imgsz"), "ap50": scores.get("ap50"),
            "ap50_any": scores.get("ap50_any_class"), "conf": scores.get("conf"),
            **{f"recall {label}": band_recall(lo, hi) for label, lo, hi in BAND_COLUMNS},
            "false/image": scores.get("false_per_image"), "cpu ms/image": scores.get("cpu_ms_per_image"),
            "reach directed m": reach.get("directed"), "reach dome m": reach.get("dome"),
            "train s": train.get("seconds"), "epochs": scores.get("epochs"),
            "load": (train.get("load_end") or [None, None])[1]}  # 5-min load average as training ended


def table_from_rows(rows: list[dict]) -> str:
    """A Markdown table, best AP50 first (missing figures as '-')."""
    if not rows:
        return "(no results yet)\n"
    rows = sorted(rows, key=lambda r: -(r["ap50"] if r["ap50"] is not None else -1))
    columns = list(rows[0])

    def fmt(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(out: Path) -> str:
    rows = []
    for path in sorted((out / "results").glob("*.json")):
        if path.name.endswith(".timing.json"):
            continue
        scores = json.loads(path.read_text())
        train = out / "models" / f"{scores['name']}.md"
        if train.is_file():
            import yaml

            head = yaml.safe_load(train.read_text().split("---")[1]) or {}
            scores["epochs"] = (head.get("extra") or head).get("epochs")
        rows.append(row_from_scores(scores))
    text = table_from_rows(rows)
    (out / "race.md").write_text(text)
    return text


def style(out: Path, *, names: list[str] | None) -> str:
    """Render the race's held-out views in the "alt" style, evaluate, and write ``style.md``."""
    settings = json.loads((out / "race.json").read_text())
    log = lambda msg: print(f"== {time.strftime('%H:%M:%S', time.gmtime())} {msg}", flush=True)  # noqa: E731
    if not (out / "style.done").is_file():
        log("dataset: the held-out views in the alt style")
        subprocess.run([*dataset_args(out, data="data-alt", **settings), "--style", "alt", "--val-only"], check=True)
        (out / "style.done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    entries = [("shipped", SHIPPED, 640), ("shipped-800", SHIPPED, 800)] + [
        (c.name, out / "models" / f"{c.name}.pt", c.eval_imgsz) for c in CONTENDERS]
    for name, weights, imgsz in entries:
        if (names and name not in names) or not Path(weights).is_file():
            continue
        if not (out / "results-alt" / f"{name}.json").is_file():
            base = out / "results" / f"{name}.json"  # the training style's threshold: same operating point
            conf = json.loads(base.read_text())["conf"] if base.is_file() else None
            log(f"{name}: evaluate on the alt style at {imgsz} px, conf {conf}")
            evaluate_in_child(out, name, Path(weights), imgsz, data="data-alt", results="results-alt", conf=conf)
    text = style_table(out)
    (out / "style.md").write_text(text)
    return text


def recall_from_bands(bands: list[dict], *, lo_px: float = 8.0) -> float | None:
    """Recall of true boxes of ``lo_px`` and up from ``by_size`` bands (n, found, lo_px)."""
    n = sum(b["n"] for b in bands if b["lo_px"] >= lo_px)
    return sum(b["found"] for b in bands if b["lo_px"] >= lo_px) / n if n else None


def style_table(out: Path) -> str:
    """Markdown: recall (8 px and up) in the training style and the held-out style, and the ratio."""
    lines = ["| model | recall >= 8 px, training style | recall >= 8 px, held-out style | ratio | "
             "false/image held-out style |", "|---|---|---|---|---|"]
    for path in sorted((out / "results-alt").glob("*.json")):
        if path.name.endswith(".timing.json"):
            continue
        alt = json.loads(path.read_text())
        base_path = out / "results" / path.name
        base = json.loads(base_path.read_text()) if base_path.is_file() else {}
        r_alt = recall_from_bands(alt.get("by_size") or [])
        r_base = recall_from_bands(base.get("by_size") or [])
        ratio = r_alt / r_base if r_alt is not None and r_base else None
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(f"| {alt['name']} | {fmt(r_base)} | {fmt(r_alt)} | {fmt(ratio)} | "
                     f"{fmt(alt.get('false_per_image'))} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="dataset, train every contender, evaluate, table (resumable)")
    p_run.add_argument("--out", type=Path, default=Path("datasets/race21"))
    p_run.add_argument("--hours", type=float, default=0.13, help="wall-time training budget per contender, h")
    p_run.add_argument("--views", type=int, default=3400, help="rendered 640 px views, train + val")
    p_run.add_argument("--val-views", type=int, default=1000, help="held-out views of the test extract")
    p_run.add_argument("--seed", type=int, default=21)
    p_run.add_argument("--only", action="append", help="train/evaluate only this contender (repeatable)")
    p_run.add_argument("--deadline", help="HH:MM UTC by which the race must end: the per-contender budget "
                       "shrinks to fit (fixed once, in budget.json)")
    p_eval = sub.add_parser("eval", help="evaluate one weights file on the race's held-out split")
    p_eval.add_argument("--out", type=Path, required=True)
    p_eval.add_argument("--name", required=True)
    p_eval.add_argument("--weights", type=Path, required=True)
    p_eval.add_argument("--imgsz", type=int, default=640)
    p_eval.add_argument("--data", default="data", help="dataset folder inside --out")
    p_eval.add_argument("--results", default="results", help="results folder inside --out")
    p_eval.add_argument("--conf", type=float, help="fixed operating threshold (default: max F1)")
    p_style = sub.add_parser("style", help="the held-out views in the alt style: render, evaluate, style.md")
    p_style.add_argument("--out", type=Path, default=Path("datasets/race21"))
    p_style.add_argument("--name", action="append", help="evaluate only this one (repeatable; 'shipped' too)")
    p_table = sub.add_parser("table", help="print and write the race table (race.md)")
    p_table.add_argument("--out", type=Path, default=Path("datasets/race21"))
    args = parser.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if args.command == "run":
        run(args.out, hours=args.hours, views=args.views, val_views=args.val_views, seed=args.seed, only=args.only,
            deadline=args.deadline)
    elif args.command == "eval":
        evaluate(args.out, name=args.name, weights=args.weights, imgsz=args.imgsz, data=args.data,
                 results=args.results, conf=args.conf)
    elif args.command == "style":
        print(style(args.out, names=args.name))
    else:
        print(write_table(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
