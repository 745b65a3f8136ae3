"""Benchmark: viewpoint sampling throughput on a large street network.

The demo network (all street types) is tiled into a graph-sized table of >= 400,000 streets.
Baseline, in the same run: a per-street loop over osmnx's ``interpolate_points`` (the obvious
way to put points along streets). Prints points per second for both and their ratio.
Targets: >= 1.5x the loop and >= 1,000,000 points/s.

    python scripts/bench/sampling.py [--streets 400000] [--repeats 3] [--loop-streets 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.streets.network import graph_from_area, streets_from_graph
from geo.streets.sampling import points_from_streets, positions_from_streets


def tiled_streets(n_streets: int) -> gpd.GeoDataFrame:
    """The demo's streets copied on a grid of offsets until there are ``n_streets``."""
    base = streets_from_graph(graph_from_area("demo", network_type="all"))
    minx, miny, maxx, maxy = base.total_bounds
    width, height = maxx - minx + 100, maxy - miny + 100
    copies = int(np.ceil(n_streets / len(base)))
    side = int(np.ceil(np.sqrt(copies)))
    tiles = []
    for i in range(copies):
        dx, dy = (i % side) * width, (i // side) * height
        tile = base.copy()
        tile["geometry"] = shapely.transform(base.geometry.to_numpy(), lambda xy, dx=dx, dy=dy: xy + [dx, dy])
        tiles.append(tile)
    streets = pd.concat(tiles, ignore_index=True).iloc[:n_streets].copy()
    streets["street_id"] = np.arange(len(streets))
    return gpd.GeoDataFrame(streets, geometry="geometry", crs=base.crs)


def loop_interpolate(streets: gpd.GeoDataFrame, spacing: float) -> int:
    """Baseline: one osmnx ``interpolate_points`` call per street."""
    import osmnx as ox

    count = 0
    for line in streets.geometry:
        count += sum(1 for _ in ox.utils_geo.interpolate_points(line, spacing))
    return count


def timed(fn, repeats: int) -> tuple[float, int]:
    """Median seconds of ``repeats`` runs and the count the function returned."""
    seconds, result = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streets", type=int, default=400_000)
    parser.add_argument("--loop-streets", type=int, default=20_000,
                        help="streets for the (slow) baseline loop; its rate is per point")
    parser.add_argument("--spacing", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    streets = tiled_streets(args.streets)
    subset = streets.sample(min(args.loop_streets, len(streets)), random_state=0)
    print(f"network: {len(streets):,} streets, {streets['length_m'].sum() / 1000:,.0f} km; "
          f"spacing {args.spacing} m; median of {args.repeats} runs")

    def core(frame):
        return lambda: len(positions_from_streets(frame, spacing=args.spacing).street)

    def table(frame):
        return lambda: len(points_from_streets(frame, spacing=args.spacing))

    loop_s, loop_n = timed(lambda: loop_interpolate(subset, args.spacing), args.repeats)
    loop_rate = loop_n / loop_s
    rows = [("osmnx interpolate_points loop", "xy", subset, loop_s, loop_n)]
    for label, make in (("positions_from_streets", core), ("points_from_streets", table)):
        for frame in (subset, streets):
            seconds, count = timed(make(frame), args.repeats)
            what = "xy+bearing" if make is core else "full table"
            rows.append((f"camcensus {label}", what, frame, seconds, count))
    print(f"{'method':38} {'output':>11} {'streets':>9} {'points':>10} {'seconds':>8} "
          f"{'points/s':>11} {'vs loop':>8}")
    for name, what, frame, seconds, count in rows:
        rate = count / seconds
        print(f"{name:38} {what:>11} {len(frame):>9,} {count:>10,} {seconds:>8.3f} "
              f"{rate:>11,.0f} {rate / loop_rate:>7.1f}x")
    core_rate = rows[2][4] / rows[2][3]
    table_rate = rows[4][4] / rows[4][3]
    print(f"sampling (xy + bearing), full network: {core_rate / 1e6:.2f} M points/s, "
          f"{core_rate / loop_rate:.1f}x the loop   (targets >= 1.0 M/s, >= 1.5x)")
    print(f"points table (+ lon/lat, true-north bearing, GeoDataFrame): {table_rate / 1e6:.2f} M points/s, "
          f"{table_rate / loop_rate:.1f}x the loop")
    print("the loop yields (x, y) tuples only: no bearing, no lon/lat, no geometry objects")


if __name__ == "__main__":
    main()
