"""The Stanford "Surveilling Surveillance" label table as Street View requests.

Each row of ``meta.csv`` names a panorama (``panoid``) and a ``heading``; the image behind it
is the Street View Static API answer at 640x640 px, fov 90, pitch 0. ``views_from_stanford``
turns the rows into fetch views (``view_id`` = ``PANOID_HEADING``, the file stem the authors
used), and ``fetch_stanford`` requests them with the ``gsv`` provider (resumable like fetch).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from geo.errors import GeoInputError
from geo.imagery.fetch import FetchOptions, FetchResult, fetch_views

META_PARTS = ("shared", "data", "stanford-surveilling-surveillance", "meta.csv")
STANFORD_SIZE = 640  # px, square
STANFORD_FOV = 90.0  # degrees
STANFORD_PITCH = 0.0


def find_stanford_meta(start: str | Path | None = None) -> Path:
    """``shared/data/stanford-surveilling-surveillance/meta.csv`` under ``start`` (default: the
    current directory, e.g. the project's root), else a GeoInputError."""
    candidate = Path(start or Path.cwd()).joinpath(*META_PARTS)
    if candidate.is_file():
        return candidate
    raise GeoInputError("Stanford meta.csv not found (looked for " + "/".join(META_PARTS)
                        + " here); pass --meta PATH")


def views_from_stanford(meta: str | Path) -> pd.DataFrame:
    """One fetch view per distinct (panoid, heading) row: view_id, pano_id, heading, fov, pitch,
    split, image_id; lon/lat are unknown (NaN): the panorama id says where."""
    meta = Path(meta)
    if not meta.is_file():
        raise GeoInputError(f"Stanford meta.csv not found: {meta}")
    table = pd.read_csv(meta, dtype={"panoid": str})
    missing = {"panoid", "heading", "split"} - set(table.columns)
    if missing:
        raise GeoInputError(f"{meta} lacks columns: {', '.join(sorted(missing))}")
    heading = pd.to_numeric(table["heading"], errors="coerce")
    if heading.isna().any() or table["panoid"].isna().any():
        raise GeoInputError(f"{meta} has rows without panoid or heading")
    view_id = table["panoid"] + "_" + heading.map(lambda h: f"{h:g}")
    views = pd.DataFrame({
        "view_id": view_id, "pano_id": table["panoid"], "heading": heading.astype(float),
        "fov": STANFORD_FOV, "pitch": STANFORD_PITCH, "lon": math.nan, "lat": math.nan,
        "side": "forward", "split": table["split"].astype(str),
        "point_id": table["image_id"] if "image_id" in table else range(len(table))})
    return views.drop_duplicates("view_id").reset_index(drop=True)


def fetch_stanford(meta: str | Path, out_dir: str | Path, *, key: str | None,
                   secret: str | None = None, endpoint: str | None = None,
                   options: FetchOptions | None = None, progress: bool = True) -> FetchResult:
    """Request every Stanford panorama and heading into ``out_dir/images/PANOID_HEADING.jpg``
    (640x640 px, fov 90, pitch 0) with ``out_dir/images.parquet``; reruns fetch only what is
    missing or failed."""
    from dataclasses import replace

    from geo.imagery.gsv import StreetViewProvider

    options = replace(options or FetchOptions(), size=STANFORD_SIZE)
    provider = StreetViewProvider(key=key, secret=secret, endpoint=endpoint, size=STANFORD_SIZE)
    return fetch_views(views_from_stanford(meta), out_dir, provider, options=options,
                       progress=progress)
