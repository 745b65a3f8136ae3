"""Benchmark: `camcensus estimate` (locate + both estimators + exports) at city scale.

Generates a survey directory with a square street grid, --views views (two per point, 10 m
apart), cameras on the building line 12 m from the street centre and their pinhole boxes, topped
up with false boxes to exactly --detections detections. Then times ``geo.counting.estimate.estimate_survey``
end to end (it locates the cameras first). Baseline measured in the same run: reading the
detections and images tables (the I/O floor). Prints seconds, the ratio to the 45 s budget and
the ratio to the baseline.

``--baseline-root DIR``: also time the estimate of another checkout of the code (a ``git archive``
of main, say) on a fresh copy of the same survey, in a subprocess of this run, before this
checkout's: the before and after of a change, measured in one run (repeat it for several
checkouts, timed in the order given); this checkout is then timed the same way (a fresh subprocess
on a fresh copy, imports included). ``--rounds N``: N such rounds in turn, each checkout's times,
best and median printed (the median of this checkout against the budget). ``--profile FILE``:
write this checkout's cProfile stats there.

    python scripts/bench/estimate.py [--views 200000] [--detections 1000000] [--by area] [--keep DIR]
        [--baseline-root DIR ...] [--rounds N] [--profile FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUDGET_S = 45.0
UTM = "EPSG:32635"
BLOCK_M = 100.0
SETBACK_M = 12.0


def grid_graph(n: int, x0: float = 380_000.0, y0: float = 6_660_000.0) -> nx.MultiDiGraph:
    """An n x n grid of two-way streets, BLOCK_M apart, projected (osmnx style)."""
    graph = nx.MultiDiGraph(crs=UTM)
    for i in range(n):
        for j in range(n):
            graph.add_node(i * n + j, x=x0 + i * BLOCK_M, y=y0 + j * BLOCK_M, street_count=4)
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n:
                    a, b = i * n + j, (i + di) * n + (j + dj)
                    for u, v in ((a, b), (b, a)):
                        geom = shapely.LineString([(graph.nodes[u]["x"], graph.nodes[u]["y"]),
                                                   (graph.nodes[v]["x"], graph.nodes[v]["y"])])
                        graph.add_edge(u, v, key=0, osmid=a * n * n + b, highway="residential", oneway=False,
                                       reversed=u > v, length=BLOCK_M, geometry=geom)
    return graph


def make_survey(out: Path, *, n_views: int, n_detections: int, seed: int = 0) -> dict:
    """Write the generated survey into ``out``; return its sizes."""
    import geopandas as gpd
    from pyproj import CRS
    from scipy.spatial import cKDTree

    from geo.streets.network import road_km, save_network
    from geo.streets.sampling import true_north_correction, views_from_graph

    rng = np.random.default_rng(seed)
    spacing = 10.0
    road_needed_km = n_views / 2 * spacing / 1000.0
    n = int(np.ceil(1 + np.sqrt(road_needed_km / (2 * BLOCK_M / 1000.0) + 0.25) + 0.5))
    graph = grid_graph(n)
    save_network(graph, out / "network.graphml")
    points, views = views_from_graph(graph, spacing=spacing, seed=seed)
    views = views.iloc[:n_views]
    points = points[points["point_id"].isin(views["point_id"])]
    points.to_parquet(out / "points.parquet")
    views.to_parquet(out / "views.parquet")
    images = pd.DataFrame({"view_id": views["view_id"].to_numpy(), "image_id": views["view_id"].to_numpy(),
                           "provider": "generated", "path": "", "width": 640, "height": 640,
                           "lon": views["lon"].to_numpy(), "lat": views["lat"].to_numpy(),
                           "heading": views["heading"].to_numpy(), "fov": 90.0, "pitch": 0.0,
                           "captured_at": None, "status": "ok", "error": None})
    images.to_parquet(out / "images.parquet")
    # cameras on the building lines (SETBACK_M either side of every street), ~5 boxes each
    road_m = float(road_km(graph) * 1000.0)
    n_cams = int(n_detections / 5.0)
    along = rng.uniform(15.0, BLOCK_M - 15.0, n_cams)
    street = rng.integers(0, n * (n - 1), n_cams)
    vertical = rng.random(n_cams) < 0.5
    side = np.where(rng.random(n_cams) < 0.5, -1.0, 1.0)
    line, pos = street // (n - 1), street % (n - 1)
    x0, y0 = 380_000.0, 6_660_000.0
    cx = np.where(vertical, x0 + line * BLOCK_M + side * SETBACK_M, x0 + pos * BLOCK_M + along)
    cy = np.where(vertical, y0 + pos * BLOCK_M + along, y0 + line * BLOCK_M + side * SETBACK_M)
    eyes = gpd.GeoSeries(gpd.points_from_xy(images["lon"], images["lat"]), crs=4326).to_crs(UTM)
    ex, ey = eyes.x.to_numpy(), eyes.y.to_numpy()
    pairs = cKDTree(np.column_stack([cx, cy])).sparse_distance_matrix(
        cKDTree(np.column_stack([ex, ey])), 25.0, output_type="ndarray")
    ci, ii = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    conv = true_north_correction(images["lon"].to_numpy(), images["lat"].to_numpy(), CRS(UTM))
    bearing = (np.degrees(np.arctan2(cx[ci] - ex[ii], cy[ci] - ey[ii])) + conv[ii]) % 360
    off = (bearing - images["heading"].to_numpy()[ii] + 180) % 360 - 180
    keep = np.abs(off) < 44.0
    ci, ii, off = ci[keep], ii[keep], off[keep]
    dist = np.hypot(cx[ci] - ex[ii], cy[ci] - ey[ii])
    dx = 320.0 * np.tan(np.radians(off))
    rise = rng.uniform(0.5, 3.5, n_cams)[ci]
    size = 0.19 * np.hypot(320.0, dx) / np.hypot(dist, rise)
    px, py = 320 + dx, 320 - np.hypot(320.0, dx) * rise / dist
    det = pd.DataFrame({"image_id": images["image_id"].to_numpy()[ii], "x1": px - size / 2, "y1": py - size / 2,
                        "x2": px + size / 2, "y2": py + size / 2, "conf": rng.uniform(0.3, 0.9, len(ci)),
                        "class_id": 0, "class_name": "dome", "model_id": "bench"})
    det = det.sample(frac=1.0, random_state=seed).iloc[: int(n_detections * 0.9)]
    n_false = n_detections - len(det)
    pick = rng.integers(0, len(images), n_false)
    s = rng.uniform(5, 20, n_false)
    fx, fy = rng.uniform(20, 620, n_false), rng.uniform(40, 300, n_false)
    false = pd.DataFrame({"image_id": images["image_id"].to_numpy()[pick], "x1": fx - s / 2, "y1": fy - s / 2,
                          "x2": fx + s / 2, "y2": fy + s / 2, "conf": rng.uniform(0.25, 0.5, n_false),
                          "class_id": 0, "class_name": "dome", "model_id": "bench"})
    det = pd.concat([det, false], ignore_index=True)
    (out / "detections").mkdir(exist_ok=True)
    for k, start in enumerate(range(0, len(det), 250_000)):
        det.iloc[start:start + 250_000].to_parquet(out / "detections" / f"part-{k:06d}.parquet", index=False)
    info = {"area": "generated bench grid", "network_type": "drive", "method": "systematic",
            "spacing_m": spacing, "seed": seed, "sides": "both", "fov": 90.0, "pitch": 0.0,
            "road_km": road_m / 1000.0, "n_points": len(points), "n_views": len(views), "crs": UTM}
    (out / "sample.json").write_text(json.dumps(info))
    return {"road_km": road_m / 1000.0, "views": len(views), "detections": len(det), "cameras": n_cams}


BASELINE_CODE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from geo.counting.estimate import estimate_survey
started = time.perf_counter()
result = estimate_survey(sys.argv[2], by=sys.argv[3], precision=0.9, recall=0.7, osm=False, buildings=None)
print("SECONDS", time.perf_counter() - started)
print("timings: " + ", ".join(f"{k} {v:.1f}" for k, v in result.report["timings"].items()))
t = result.total
print(f"estimate: cameras located {t['n_cameras']:,}; {t['est_cameras']:,.0f} [{t['est_lo']:,.0f}, {t['est_hi']:,.0f}]")
"""


def baseline_seconds(survey: Path, root: Path, *, by: str, label: str = "baseline") -> float:
    """Seconds of ``root``'s estimate_survey on a fresh copy of ``survey`` (inputs only), in a
    subprocess that imports ``root``'s packages (printed: its stage timings and estimate)."""
    import os
    import subprocess

    copy = Path(tempfile.mkdtemp(prefix="camcensus-bench-base-"))
    try:
        for name in ("network.graphml", "points.parquet", "views.parquet", "images.parquet", "sample.json"):
            shutil.copy2(survey / name, copy / name)
        shutil.copytree(survey / "detections", copy / "detections")
        env = {**os.environ, "PYTHONPATH": str(Path(root).resolve())}
        done = subprocess.run([sys.executable, "-c", BASELINE_CODE, str(Path(root).resolve()), str(copy), by],
                              env=env, capture_output=True, text=True, cwd=str(root), check=True)
        lines = done.stdout.splitlines()
        for key in ("timings", "estimate"):
            print(f"{label} " + next(line for line in lines if line.startswith(key)), flush=True)
        return float(next(line for line in lines if line.startswith("SECONDS")).split()[1])
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def compared(survey: Path, roots: list[Path], *, by: str, rounds: int = 1) -> int:
    """Time each of ``roots`` and then this checkout, each a fresh subprocess on a fresh copy of
    ``survey``, ``rounds`` times in turn (the machine's state moves between runs: the rounds
    interleave, so each round's ratios compare runs minutes apart at most); print every time, each
    round's ratios, and each checkout's best and median. Exit 0 when this checkout's median is
    within the budget."""
    times: dict[str, list[float]] = {str(root): [] for root in roots}
    times["after"] = []
    for k in range(max(1, int(rounds))):
        for root in roots:
            times[str(root)].append(baseline_seconds(survey, root, by=by))
            print(f"round {k + 1}: baseline ({root}): {times[str(root)][-1]:.1f} s", flush=True)
        seconds = baseline_seconds(survey, ROOT, by=by, label="after")
        times["after"].append(seconds)
        for root in roots:
            before = times[str(root)][-1]
            print(f"round {k + 1}: before ({root}) {before:.1f} s, after {seconds:.1f} s: "
                  f"{before / seconds:.2f}x faster (one run)", flush=True)
    for name, values in times.items():
        print(f"{name}: " + ", ".join(f"{v:.1f}" for v in values) + f" s; best {min(values):.1f}, "
              f"median {float(np.median(values)):.1f}")
    median = float(np.median(times["after"]))
    print(f"after: median {median:.1f} s (budget {BUDGET_S:.0f} s: ratio {median / BUDGET_S:.2f})")
    return 0 if median <= BUDGET_S else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--views", type=int, default=200_000)
    parser.add_argument("--detections", type=int, default=1_000_000)
    parser.add_argument("--by", default="area", help="--by of the estimate (area, h3:RES, grid:METRES)")
    parser.add_argument("--keep", type=Path, default=None, help="write the survey here and keep it")
    parser.add_argument("--baseline-root", type=Path, action="append", default=[],
                        help="another checkout whose estimate is timed first on a copy of the same survey "
                             "(repeatable: each in turn)")
    parser.add_argument("--profile", type=Path, default=None, help="write this checkout's cProfile stats here")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --baseline-root: time the baselines and this checkout this many times in turn")
    args = parser.parse_args(argv)

    from geo.counting.estimate import estimate_survey
    from geo.counting.locate import read_detections, read_images

    out = args.keep or Path(tempfile.mkdtemp(prefix="camcensus-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        sizes = make_survey(out, n_views=args.views, n_detections=args.detections)
        print(f"generated: {sizes['views']:,} views, {sizes['detections']:,} detections, "
              f"{sizes['road_km']:.0f} road km in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        read_detections(out)
        read_images(out)
        baseline = time.perf_counter() - started
        if args.baseline_root and args.profile is None:  # this checkout on the same footing: a subprocess, a fresh copy
            return compared(out, args.baseline_root, by=args.by, rounds=args.rounds)
        befores = []
        for root in args.baseline_root:
            befores.append((root, baseline_seconds(out, root, by=args.by)))
            print(f"baseline ({root}): {befores[-1][1]:.1f} s", flush=True)
        started = time.perf_counter()
        if args.profile is not None:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(estimate_survey, out, by=args.by, precision=0.9, recall=0.7, osm=False,
                                      buildings=None)
            profiler.dump_stats(str(args.profile))
        else:
            result = estimate_survey(out, by=args.by, precision=0.9, recall=0.7, osm=False, buildings=None)
        seconds = time.perf_counter() - started
        for root, before in befores:
            print(f"before ({root}) {before:.1f} s, after {seconds:.1f} s: {before / seconds:.2f}x faster (one run)")
        t = result.total
        print(f"estimate: {seconds:.1f} s (budget {BUDGET_S:.0f} s: ratio {seconds / BUDGET_S:.2f}; "
              f"{seconds / baseline:.1f}x the {baseline:.1f} s to read the tables)")
        print("timings: " + ", ".join(f"{k} {v:.1f}" for k, v in result.report["timings"].items()))
        print(f"cameras located {t['n_cameras']:,} (generated {sizes['cameras']:,}); estimate "
              f"{t['est_cameras']:,.0f} [{t['est_lo']:,.0f}, {t['est_hi']:,.0f}]")
        return 0 if seconds <= BUDGET_S else 1
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
