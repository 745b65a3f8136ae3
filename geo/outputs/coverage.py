"""How much of each street a survey saw: the share of its length covered by viewpoints with images.

The same rule as the estimator's surveyed length (``geo.counting.estimate.density_from_tables``): each point
stands for ``metres_per_point`` of its street, in proportion to the share of its views that have an
image (status ok).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd


def street_coverage(streets: gpd.GeoDataFrame, points: pd.DataFrame | None, images: pd.DataFrame | None, *,
                    metres_per_point: float = 20.0) -> np.ndarray:
    """Share (0-1) of each street's length that the survey's points with images stand for, in the
    order of ``streets`` (projected, ``street_id``). ``points``: point_id, street_id.
    ``images``: point_id, status (optional). Streets without points get 0."""
    out = np.zeros(len(streets))
    if points is None or len(points) == 0 or len(streets) == 0 or "street_id" not in points:
        return out
    pts = pd.DataFrame(points[["point_id", "street_id"]]).drop_duplicates("point_id")
    if images is not None and len(images) and "point_id" in images.columns:
        ok = ((images["status"].fillna("ok") == "ok") if "status" in images.columns
              else pd.Series(True, index=images.index))
        per_point = pd.DataFrame({"point_id": images["point_id"], "ok": ok}).groupby("point_id")["ok"]
        per_point = per_point.agg(["size", "sum"])
        design = max(1, int(per_point["size"].max()))
        share = (per_point["sum"] / design).clip(upper=1.0)
        pts["cover"] = pts["point_id"].map(share).fillna(0.0).to_numpy(float)
    else:
        pts["cover"] = 0.0 if images is not None else 1.0
    seen_m = pts.groupby("street_id")["cover"].sum() * float(metres_per_point)
    length = (streets["length_m"].to_numpy(float) if "length_m" in streets
              else streets.geometry.length.to_numpy(float))
    seen = streets["street_id"].map(seen_m).fillna(0.0).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(length > 0, np.minimum(1.0, seen / length), np.where(seen > 0, 1.0, 0.0))
    return out


def coverage_from_pieces(streets: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame | None) -> np.ndarray:
    """Share (0-1) of each street's length inside the surveyed ``pieces`` (street_id, geometry in
    the streets' CRS, e.g. ``geo.counting.inclusion.surveyed_streets``), in the order of ``streets``."""
    import shapely

    out = np.zeros(len(streets))
    if pieces is None or len(pieces) == 0 or len(streets) == 0:
        return out
    pieces = pieces.to_crs(streets.crs) if pieces.crs is not None and pieces.crs != streets.crs else pieces
    seen = pd.Series(shapely.length(pieces.geometry.to_numpy()), index=pieces["street_id"].to_numpy())
    seen = seen.groupby(level=0).sum()
    length = streets.geometry.length.to_numpy(float)
    got = streets["street_id"].map(seen).fillna(0.0).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(length > 0, np.clip(got / length, 0.0, 1.0), np.where(got > 0, 1.0, 0.0))
    return out
