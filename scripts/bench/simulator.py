"""Benchmark and calibration of the street-view simulator.

Speed: renders N views of the area (eye on the sampled viewpoints, as `camcensus fetch
--provider simulated` does, JPEG encoding included) in this one process and prints views per
second of CPU time (= per core) and of wall time, against the issue's target of 20 views/s per
core, and against the JPEG encoding alone (a baseline measured in the same run).

Calibration (``--calibrate``): the boxes of every view at the given spacing, their size
(sqrt of the box area, px) and centre height, beside the public Stanford labels (meta.csv).

    .venv/bin/python scripts/bench/simulator.py --views 200
    .venv/bin/python scripts/bench/simulator.py --calibrate --stanford PATH/meta.csv
"""

from __future__ import annotations

import argparse
import ast
import time
from pathlib import Path

import numpy as np
import pandas as pd

TARGET_VIEWS_PER_S = 20.0
DEFAULT_STANFORD = (
    Path(__file__).resolve().parents[3] / "shared/data/stanford-surveilling-surveillance/meta.csv"
)


def _views(area: str, spacing: float, sim_cameras: str | None, seed: int):
    from geo.streets.network import graph_from_area
    from geo.streets.sampling import views_from_graph
    from geo.sim.scene import scene_from_area

    graph = graph_from_area(area)
    scene = scene_from_area(area, graph=graph, sim_cameras=sim_cameras, seed=seed)
    _, views = views_from_graph(graph, spacing=spacing, seed=seed)
    return scene, views, graph


def bench_speed(area: str, *, n: int, size: int, sim_cameras: str | None, seed: int) -> dict:
    import cv2

    from geo.sim.render import jpeg_quality, render_view
    from geo.sim.survey import _tasks

    scene, views, _ = _views(area, 20.0, sim_cameras, seed)
    tasks = _tasks(views, scene, seed=seed, width=size, height=size)
    rng = np.random.default_rng(seed)
    chosen = [tasks[i] for i in rng.choice(len(tasks), size=min(n, len(tasks)), replace=False)]
    render_view(
        scene, x=chosen[0]["x"], y=chosen[0]["y"], heading=0, width=size, height=size
    )  # warm caches
    wall, cpu = time.perf_counter(), time.process_time()
    images = []
    for t in chosen:
        image, _ = render_view(
            scene,
            x=t["x"],
            y=t["y"],
            heading=t["grid_heading"],
            pitch=t["pitch"],
            fov=t["fov"],
            width=size,
            height=size,
            seed=t["seed"],
        )
        cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality(t["seed"])])
        images.append(image)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    base_cpu = time.process_time()
    for image, t in zip(images, chosen):
        cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality(t["seed"])])
    base_cpu = time.process_time() - base_cpu
    return {
        "views": len(chosen),
        "size": size,
        "views_per_cpu_s": len(chosen) / cpu,
        "views_per_wall_s": len(chosen) / wall,
        "jpeg_only_per_cpu_s": len(chosen) / max(base_cpu, 1e-9),
    }


def stanford_sizes(meta: Path) -> tuple[np.ndarray, np.ndarray]:
    """sqrt(box area) and box centre y (px) of every labelled camera in the Stanford meta.csv."""
    table = pd.read_csv(meta)
    sizes, centres = [], []
    for text in table["annotations"]:
        for ann in ast.literal_eval(text):
            x1, y1, x2, y2 = ann["bbox"]
            sizes.append(np.sqrt((x2 - x1) * (y2 - y1)))
            centres.append((y1 + y2) / 2)
    return np.array(sizes), np.array(centres)


def calibrate(area: str, *, spacing: float, size: int, sim_cameras: str | None, seed: int) -> dict:
    from geo.sim.render import boxes_for_view
    from geo.sim.survey import _tasks

    scene, views, _ = _views(area, spacing, sim_cameras, seed)
    tasks = _tasks(views, scene, seed=seed, width=size, height=size)
    frames = [
        boxes_for_view(
            scene,
            x=t["x"],
            y=t["y"],
            heading=t["grid_heading"],
            pitch=t["pitch"],
            fov=t["fov"],
            width=size,
            height=size,
        )
        for t in tasks
    ]
    boxes = pd.concat(frames, ignore_index=True)
    side = np.sqrt((boxes.x2 - boxes.x1) * (boxes.y2 - boxes.y1)).to_numpy()
    centre = ((boxes.y1 + boxes.y2) / 2).to_numpy()
    return {
        "views": len(tasks),
        "views_with_camera": int(sum(len(f) > 0 for f in frames)),
        "boxes": len(boxes),
        "cameras_seen": int(boxes["camera_id"].nunique()),
        "cameras": len(scene.cameras),
        "size": side,
        "centre": centre,
        "dome_share": float((boxes["class_name"] == "dome").mean()) if len(boxes) else float("nan"),
    }


def _row(name: str, size: np.ndarray, centre: np.ndarray, horizon: float) -> str:
    p10, p50, p90 = np.percentile(size, [10, 50, 90])
    return (
        f"{name:<22} {len(size):>6} {p10:>6.1f} {p50:>6.1f} {p90:>6.1f} {np.median(centre):>9.0f} "
        f"{(centre < horizon).mean():>8.0%}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--area", default="demo", help="area spec (default demo)")
    parser.add_argument("--views", type=int, default=200, help="views to render for the speed test")
    parser.add_argument("--size", type=int, default=640, help="image side, px (default 640)")
    parser.add_argument("--sim-cameras", default=None, help="camera spec (default: osm on demo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--calibrate", action="store_true", help="also compare box sizes with Stanford"
    )
    parser.add_argument(
        "--spacing", type=float, default=20.0, help="calibration spacing, m (default 20)"
    )
    parser.add_argument("--stanford", type=Path, default=DEFAULT_STANFORD, help="Stanford meta.csv")
    args = parser.parse_args(argv)

    speed = bench_speed(
        args.area, n=args.views, size=args.size, sim_cameras=args.sim_cameras, seed=args.seed
    )
    print(
        f"simulator speed, {speed['views']} views of {args.area} at "
        f"{speed['size']}x{speed['size']} px, one process:"
    )
    print(
        f"  {speed['views_per_cpu_s']:.1f} views/s per core (CPU time), "
        f"{speed['views_per_wall_s']:.1f} views/s wall"
    )
    print(
        f"  ratio to the target {TARGET_VIEWS_PER_S:.0f} views/s per core: "
        f"{speed['views_per_cpu_s'] / TARGET_VIEWS_PER_S:.2f}x"
    )
    print(
        f"  baseline, JPEG encoding alone: {speed['jpeg_only_per_cpu_s']:.0f} views/s per core "
        "(rendering costs "
        f"{speed['jpeg_only_per_cpu_s'] / speed['views_per_cpu_s']:.1f}x the encoding)"
    )
    if args.calibrate:
        cal = calibrate(
            args.area,
            spacing=args.spacing,
            size=args.size,
            sim_cameras=args.sim_cameras,
            seed=args.seed,
        )
        print(
            f"\ncalibration, {args.area}, spacing {args.spacing:g} m, {cal['views']} views "
            f"({cal['views_with_camera']} with a camera), "
            f"{cal['cameras_seen']}/{cal['cameras']} cameras seen, "
            f"dome share {cal['dome_share']:.0%}:"
        )
        print(
            f"{'':<22} {'boxes':>6} {'p10':>6} {'p50':>6} {'p90':>6} {'centre y':>9} {'above':>8}"
        )
        horizon = args.size / 2
        print(_row("simulated", cal["size"], cal["centre"], horizon))
        if args.stanford.exists():
            size, centre = stanford_sizes(args.stanford)
            print(
                _row("Stanford (real)", size * args.size / 640, centre * args.size / 640, horizon)
            )
        else:
            print(f"(Stanford labels not found at {args.stanford}; pass --stanford)")
        print("target: median 7-12 px, 90th percentile 12-22 px, most centres above the horizon")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
