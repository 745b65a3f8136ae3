"""A sparser design's survey cut from a denser rendered one, without rendering again (issue 26).

The parent (systematic, ``--along``: left, right, forward and backward views at each point) gives a
child with every ``k``-th point along each street (spacing x k) and the chosen view sides; the
child's images, detections, true boxes and look statistics are the parent's rows on its views (same image
files, same detections), its sample.json records the design. Then ``camcensus locate CHILD``.

    python scripts/validation/design_subset.py PARENT CHILD --every 2 --sides left,right
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

LINKED = ("network.graphml", "truth.geojson", "images")


def kept_points(points: pd.DataFrame, every: int) -> pd.DataFrame:
    """Every ``every``-th point along each street (by offset), from the first."""
    rank = points.sort_values(["street_id", "offset_m"]).groupby("street_id").cumcount()
    return points[(rank.reindex(points.index) % every) == 0]


def subset_survey(parent: Path, child: Path, *, every: int, sides: tuple[str, ...]) -> dict:
    """Write the child survey (tables cut, large inputs linked); returns its sample.json."""
    import geopandas as gpd

    child.mkdir(parents=True, exist_ok=True)
    (child / "detections").mkdir(exist_ok=True)
    for name in LINKED:
        if (parent / name).exists() and not (child / name).exists():
            (child / name).symlink_to((parent / name).resolve())
    points = kept_points(gpd.read_parquet(parent / "points.parquet"), every)
    views = gpd.read_parquet(parent / "views.parquet")
    views = views[views["point_id"].isin(set(points["point_id"])) & views["side"].isin(sides)]
    images = pd.read_parquet(parent / "images.parquet")
    images = images[images["view_id"].isin(set(views["view_id"]))]
    ids = set(images["image_id"].astype(str))
    points.to_parquet(child / "points.parquet")
    views.to_parquet(child / "views.parquet")
    images.to_parquet(child / "images.parquet")
    det = pd.concat([pd.read_parquet(p) for p in sorted((parent / "detections").glob("*.parquet"))],
                    ignore_index=True)
    det[det["image_id"].astype(str).isin(ids)].to_parquet(child / "detections" / "part-000000.parquet")
    boxes = pd.read_parquet(parent / "truth_boxes.parquet")  # the true boxes of its own images only
    boxes[boxes["image_id"].astype(str).isin(ids)].to_parquet(child / "truth_boxes.parquet")
    if (parent / "look.parquet").exists():
        look = pd.read_parquet(parent / "look.parquet")
        look[look["image_id"].astype(str).isin(ids)].to_parquet(child / "look.parquet")
    summary = json.loads((parent / "detect_summary.json").read_text())
    summary.update(images=len(images), ok=int(images["status"].fillna("ok").eq("ok").sum()),
                   detections=int(det["image_id"].astype(str).isin(ids).sum()), processed_this_run=0,
                   note=f"subset of {parent.name}'s detections on this survey's images (design_subset.py)")
    (child / "detect_summary.json").write_text(json.dumps(summary, indent=2))
    info = json.loads((parent / "sample.json").read_text())
    info.update(spacing_m=info["spacing_m"] * every, along=any(s in sides for s in ("forward", "backward")),
                n_points=int(len(points)), n_views=int(len(views)),
                subset_of={"parent": parent.name, "every": every, "sides": list(sides)})
    (child / "sample.json").write_text(json.dumps(info, indent=2))
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("parent", type=Path)
    p.add_argument("child", type=Path)
    p.add_argument("--every", type=int, default=2, help="keep every k-th point along each street")
    p.add_argument("--sides", default="left,right", help="view sides kept: left, right, forward, backward")
    a = p.parse_args(argv)
    info = subset_survey(a.parent, a.child, every=a.every, sides=tuple(a.sides.split(",")))
    print(f"{a.child}: {info['n_points']} points, {info['n_views']} views, spacing {info['spacing_m']:g} m, "
          f"along {info['along']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
