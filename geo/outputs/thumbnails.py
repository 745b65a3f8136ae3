"""Small pictures of located cameras: the best crop (highest-confidence detection) of each, as an
inline ``data:image/jpeg;base64`` URI for map popups."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

THUMB_PX = 96  # side of a thumbnail, pixels
MAX_THUMBNAILS = 1000  # cameras that get one (the most confident first); ~3 KB each


def best_detections(cameras: pd.DataFrame, detections: pd.DataFrame) -> pd.DataFrame:
    """For each camera, its highest-confidence detection: one row per camera_id with image_id,
    x1, y1, x2, y2 (pixels), conf. A camera's detections are those of its class in its images."""
    need = {"camera_id", "image_ids", "class_name"}
    if len(cameras) == 0 or detections is None or len(detections) == 0 or not need <= set(cameras.columns):
        return pd.DataFrame(columns=["camera_id", "image_id", "x1", "y1", "x2", "y2", "conf"])
    seen = pd.DataFrame(cameras[["camera_id", "image_ids", "class_name"]]).explode("image_ids")
    seen = seen.rename(columns={"image_ids": "image_id"}).dropna(subset=["image_id"])
    seen["image_id"] = seen["image_id"].astype(str)
    dets = pd.DataFrame(detections[["image_id", "class_name", "x1", "y1", "x2", "y2", "conf"]])
    dets["image_id"] = dets["image_id"].astype(str)
    dets["class_name"] = dets["class_name"].astype(str)
    seen["class_name"] = seen["class_name"].astype(str)
    pairs = seen.merge(dets, on=["image_id", "class_name"])
    if len(pairs) == 0:
        return pd.DataFrame(columns=["camera_id", "image_id", "x1", "y1", "x2", "y2", "conf"])
    best = pairs.loc[pairs.groupby("camera_id")["conf"].idxmax()]
    return best[["camera_id", "image_id", "x1", "y1", "x2", "y2", "conf"]].reset_index(drop=True)


def camera_thumbnails(cameras: gpd.GeoDataFrame, detections: pd.DataFrame | None, images: pd.DataFrame | None, *,
                      root: str | Path, size: int = THUMB_PX, limit: int = MAX_THUMBNAILS) -> list[str | None]:
    """One ``data:image/jpeg;base64,...`` URI (or None) per row of ``cameras``: a square crop around
    its best detection, at least 3x the box and 32 px, scaled to ``size`` px, the box outlined.
    Image paths are relative to ``root`` (the survey directory) or absolute; unreadable images give
    None. Only the ``limit`` most confident cameras get one."""
    from PIL import Image, ImageDraw

    out: list[str | None] = [None] * len(cameras)
    if images is None or len(images) == 0 or "path" not in images.columns:
        return out
    if not images["path"].map(lambda v: isinstance(v, str) and bool(v)).any():
        return out  # no image on disk (a generated survey): no crop to make
    best = best_detections(cameras, detections)
    if len(best) == 0:
        return out
    best = best.sort_values("conf", ascending=False).head(limit)
    paths = pd.Series(images["path"].to_numpy(), index=images["image_id"].astype(str).to_numpy())
    paths = paths[~paths.index.duplicated()]
    position = {cid: i for i, cid in enumerate(cameras["camera_id"].to_numpy())}
    root = Path(root)
    for row in best.itertuples(index=False):
        rel = paths.get(str(row.image_id))
        if rel is None or not isinstance(rel, str) or not rel:
            continue
        file = Path(rel) if Path(rel).is_absolute() else root / rel
        try:
            with Image.open(file) as img:
                img = img.convert("RGB")
                w, h = img.size
                cx, cy = (row.x1 + row.x2) / 2.0, (row.y1 + row.y2) / 2.0
                half = max(16.0, 1.5 * max(row.x2 - row.x1, row.y2 - row.y1))
                x0, y0 = int(np.floor(cx - half)), int(np.floor(cy - half))
                side = int(np.ceil(2 * half))
                crop = img.crop((x0, y0, x0 + side, y0 + side))  # padded black beyond the image
                scale = size / side
                crop = crop.resize((size, size), Image.Resampling.BICUBIC)
                ImageDraw.Draw(crop).rectangle(
                    [(row.x1 - x0) * scale - 2, (row.y1 - y0) * scale - 2,
                     (row.x2 - x0) * scale + 2, (row.y2 - y0) * scale + 2], outline=(255, 0, 255), width=1)
                buffer = io.BytesIO()
                crop.save(buffer, format="JPEG", quality=80)
        except (OSError, ValueError):
            continue
        out[position[row.camera_id]] = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return out
