"""Benchmark of CPU training, training images per second, both methods in one run on the same data:

1. stock ultralytics: ``YOLO("yolo11n.yaml").train(device="cpu", amp=False)`` with 2 classes, as
   ultralytics sets CPU training up (``min(8, cpu_count - 1)`` torch threads, no data-loader
   workers, fp32),
2. ``camcensus train`` (``detector.train.train_model``, ``--dtype``, default auto: every core
   and, on CPUs with native bfloat16, a bf16 forward with an fp32 loss).

Data: --n generated training images of --size px (dark discs and boxes drawn on noise, classes
dome/directed) and 8 validation images. Both train --epochs at --imgsz with --batch, seed 0, the
same ultralytics defaults otherwise. The rate is training images / seconds of the epochs'
training loops (from a callback at each epoch's start to one at its end: model set-up and
validation are left out). ``--repeat`` runs both several times, alternating, and reports medians.
Prints both rates, their ratio (target >= 2.5x) and the load average, since the machine may be
shared. Run: ``python -m scripts.bench.train --n 200``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import detector  # noqa: F401  (offline ultralytics before importing it)


def make_dataset(root: Path, n: int, *, size: int = 320, n_val: int = 8, seed: int = 0) -> Path:
    """A YOLO dataset of ``n`` train + ``n_val`` val JPEGs of ``size`` px; returns its data.yaml."""
    import cv2
    import numpy as np
    import pandas as pd

    from detector.yolo_dataset import BOX_COLUMNS, write_data_yaml, write_example

    rng = np.random.default_rng(seed)
    for split, count in (("train", n), ("val", n_val)):
        for i in range(count):
            image = rng.integers(90, 170, (size, size, 3), dtype=np.uint8)
            rows = []
            for _ in range(int(rng.integers(1, 4))):
                side = int(rng.integers(size // 20, size // 5))
                x, y = (int(v) for v in rng.integers(0, size - side, 2))
                if rng.random() < 0.5:
                    cv2.circle(image, (x + side // 2, y + side // 2), side // 2, (235, 235, 235), -1)
                    rows.append(("dome", x, y, x + side, y + side))
                else:
                    cv2.rectangle(image, (x, y), (x + side, y + side // 2), (20, 20, 20), -1)
                    rows.append(("directed", x, y, x + side, y + side // 2))
            write_example(root, split, f"{split}{i:05d}", image, pd.DataFrame(rows, columns=BOX_COLUMNS))
    return write_data_yaml(root)


def timed(run: object) -> tuple[float, float]:
    """(training img/s, wall seconds) of ``run()``, timed by callbacks every new YOLO object gets
    (plain functions: ultralytics deep-copies the default callbacks, and so a bound method's object)."""
    from ultralytics.utils import callbacks

    clock = {"seconds": 0.0, "images": 0, "start": 0.0}

    def start(trainer: object) -> None:
        clock["start"] = time.perf_counter()

    def end(trainer: object) -> None:
        clock["seconds"] += time.perf_counter() - clock["start"]
        clock["images"] += len(trainer.train_loader.dataset)

    callbacks.default_callbacks["on_train_epoch_start"].append(start)
    callbacks.default_callbacks["on_train_epoch_end"].append(end)
    started = time.perf_counter()
    try:
        run()
    finally:
        callbacks.default_callbacks["on_train_epoch_start"].remove(start)
        callbacks.default_callbacks["on_train_epoch_end"].remove(end)
    rate = clock["images"] / clock["seconds"] if clock["seconds"] else float("nan")
    return rate, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="training images, default 200")
    parser.add_argument("--size", type=int, default=320, help="image side, px, default 320")
    parser.add_argument("--imgsz", type=int, default=320, help="training size, px, default 320")
    parser.add_argument("--batch", type=int, default=16, help="images per batch, default 16")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per method, default 1")
    parser.add_argument("--dtype", default="auto", help="number format of camcensus train: auto, fp32, bf16")
    parser.add_argument("--threads", type=int, default=None, help="camcensus torch threads (default: every core)")
    parser.add_argument("--workers", type=int, default=None, help="camcensus data-loader workers (default its own)")
    parser.add_argument("--repeat", type=int, default=1, help="repeat both and report medians, default 1")
    parser.add_argument("--skip", default="", help="comma list of methods to skip: stock,camcensus")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = parser.parse_args()

    from ultralytics import YOLO

    from detector.train import train_model

    work = args.workdir or Path(tempfile.mkdtemp(prefix="camcensus-bench-train-"))
    data = make_dataset(work / "data", args.n, size=args.size)
    common = dict(epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, seed=0, val=False)

    def stock() -> None:
        YOLO("yolo11n.yaml").train(data=str(data), device="cpu", workers=0, amp=False, deterministic=True,
                                   plots=False, verbose=False, project=str(work / "runs"), name="stock",
                                   exist_ok=True, **common)

    def camcensus() -> None:
        train_model(data, device="cpu", precision=args.dtype, threads=args.threads, workers=args.workers,
                    out=work / "cc", run_dir=work / "runs" / "camcensus", fresh=True, **common)

    skip = set(filter(None, args.skip.split(",")))
    runs: dict[str, list[float]] = {name: [] for name in ("stock", "camcensus") if name not in skip}
    for i in range(args.repeat):
        for name, run in (("stock", stock), ("camcensus", camcensus)):
            if name in runs:
                rate, wall = timed(run)
                runs[name].append(rate)
                print(f"run {i + 1}/{args.repeat} {name}: {rate:.2f} training img/s ({wall:.1f} s in all), "
                      f"load average {os.getloadavg()[0]:.2f}", flush=True)
    rates = {name: statistics.median(values) for name, values in runs.items()}
    print(f"\n{args.n} images {args.size}x{args.size}, imgsz {args.imgsz}, batch {args.batch}, {args.epochs} "
          f"epoch(s), yolo11n 2 classes, {os.cpu_count()} CPUs, median of {args.repeat}, "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, rate in rates.items():
        print(f"{name:<10} {rate:8.2f} img/s  runs " + " ".join(f"{v:.2f}" for v in runs[name]))
    if len(rates) == 2:
        print(f"camcensus / stock = {rates['camcensus'] / rates['stock']:.2f}x (target >= 2.5x)")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
