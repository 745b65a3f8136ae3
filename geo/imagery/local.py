"""The user's own images: a folder plus a manifest (CSV or Parquet) or the images' EXIF.

Manifest columns: ``path`` (relative to the images folder, or absolute), ``lon``, ``lat``
(degrees), ``heading`` (degrees clockwise from north), optional ``fov``, ``pitch`` (degrees)
and ``captured_at``. Without a manifest, JPEG EXIF gives the position (GPSLatitude /
GPSLongitude), the looking direction (GPSImgDirection), the time (DateTimeOriginal) and the
horizontal fov from FocalLengthIn35mmFilm when present.

Each view gets the nearest image within ``radius`` metres whose heading is within
``heading_tol`` degrees of the view's; with ``as_is`` the manifest itself becomes the
survey's ``views.parquet`` (one view per image, ``side`` = ``forward``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import GeoInputError
from geo.imagery.fetch import FetchContext, Fetched, NoImagery, safe_file_name

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
METRES_PER_DEGREE = 111_320.0
FILM_WIDTH_MM = 36.0


def _dms(value: object) -> float:
    """Degrees from EXIF (degrees, minutes, seconds) rationals."""
    d, m, s = (float(v) for v in value)  # type: ignore[union-attr]
    return d + m / 60.0 + s / 3600.0


def record_from_exif(path: Path) -> dict:
    """Position, heading, fov and time of one image from its EXIF (NaN where absent)."""
    from PIL import Image

    record = {"path": str(path), "lon": math.nan, "lat": math.nan, "heading": math.nan,
              "fov": math.nan, "pitch": math.nan, "captured_at": None}
    try:
        with Image.open(path) as image:
            exif = image.getexif()
        gps = exif.get_ifd(0x8825)
        sub = exif.get_ifd(0x8769)
    except (OSError, SyntaxError, ValueError):  # unreadable: no position, so never matched
        return record
    try:
        lat = _dms(gps[2]) * (-1.0 if str(gps.get(1, "N")).upper().startswith("S") else 1.0)
        lon = _dms(gps[4]) * (-1.0 if str(gps.get(3, "E")).upper().startswith("W") else 1.0)
        record.update(lat=lat, lon=lon)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        pass
    if 17 in gps:
        try:
            record["heading"] = float(gps[17]) % 360.0
        except (TypeError, ValueError, ZeroDivisionError):
            pass
    focal35 = sub.get(41989)
    if focal35:
        record["fov"] = math.degrees(2.0 * math.atan(FILM_WIDTH_MM / (2.0 * float(focal35))))
    taken = sub.get(36867) or exif.get(306)
    if taken:
        record["captured_at"] = re.sub(r"^(\d{4}):(\d{2}):(\d{2}) ", r"\1-\2-\3T", str(taken))
    return record


def manifest_from_folder(folder: str | Path, *, manifest: str | Path | None = None
                         ) -> pd.DataFrame:
    """One row per image: absolute ``path``, ``lon``, ``lat``, ``heading``, ``fov``, ``pitch``,
    ``captured_at``. From ``manifest`` (CSV or Parquet) when given, else from EXIF."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GeoInputError(f"images folder not found: {folder}")
    if manifest is not None:
        manifest = Path(manifest)
        if not manifest.is_file():
            raise GeoInputError(f"manifest not found: {manifest}")
        if manifest.suffix.lower() == ".parquet":
            table = pd.read_parquet(manifest)
        else:
            table = pd.read_csv(manifest)
        missing = {"path", "lon", "lat", "heading"} - set(table.columns)
        if missing:
            raise GeoInputError(f"manifest {manifest} lacks columns: {', '.join(sorted(missing))}")
        table = pd.DataFrame(table.drop(columns="geometry", errors="ignore"))
        table["path"] = [str(p if Path(p).is_absolute() else folder / p) for p in table["path"]]
    else:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        table = pd.DataFrame([record_from_exif(p) for p in files],
                             columns=["path", "lon", "lat", "heading", "fov", "pitch",
                                      "captured_at"])
    for column in ("fov", "pitch"):
        if column not in table:
            table[column] = math.nan
    if "captured_at" not in table:
        table["captured_at"] = None
    for column in ("lon", "lat", "heading", "fov", "pitch"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    table = table[table["lon"].notna() & table["lat"].notna()].reset_index(drop=True)
    if table.empty:
        raise GeoInputError(f"no image with a position in {folder} "
                            "(give --manifest, or images with EXIF GPS)")
    return table


def views_from_manifest(manifest: pd.DataFrame):
    """Survey views from a manifest, one per image (view_id from the file name)."""
    import geopandas as gpd

    stems = [safe_file_name(Path(p).stem) for p in manifest["path"]]
    seen: dict[str, int] = {}
    view_ids = []
    for stem in stems:
        seen[stem] = seen.get(stem, 0) + 1
        view_ids.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    views = pd.DataFrame({
        "view_id": view_ids, "point_id": np.arange(len(manifest), dtype=np.int64),
        "heading": manifest["heading"].to_numpy(), "pitch": manifest["pitch"].fillna(0.0),
        "fov": manifest["fov"].to_numpy(), "side": "forward",
        "lon": manifest["lon"].to_numpy(), "lat": manifest["lat"].to_numpy()})
    return gpd.GeoDataFrame(views, geometry=gpd.points_from_xy(views["lon"], views["lat"]),
                            crs="EPSG:4326")


class LocalProvider:
    """The ``local`` provider: ``radius`` metres, ``heading_tol`` degrees."""

    name = "local"
    secrets: tuple[str, ...] = ()

    def __init__(self, *, images: str | Path, manifest: str | Path | None = None,
                 radius: float = 20.0, heading_tol: float = 45.0, as_is: bool = False) -> None:
        if images is None:
            raise GeoInputError("the local provider needs --images FOLDER")
        self.manifest = manifest_from_folder(images, manifest=manifest)
        self.radius, self.heading_tol, self.as_is = radius, heading_tol, as_is
        self.matches: dict[str, int] = {}

    def survey_views(self, survey_dir: Path) -> pd.DataFrame:
        """With ``as_is``: the manifest's views, written to ``views.parquet``; otherwise the
        survey's own ``views.parquet``."""
        from geo.imagery.fetch import read_views

        if not self.as_is:
            return read_views(survey_dir)
        views = views_from_manifest(self.manifest)
        path = Path(survey_dir) / "views.parquet"
        if path.is_file():
            old = pd.read_parquet(path, columns=["view_id"])["view_id"].astype(str).tolist()
            if old != views["view_id"].tolist():
                raise GeoInputError(f"{path} exists and holds other views than the manifest; "
                                    "use a new survey directory for --as-is")
        else:
            from geo.io import write_parquet
            from geo.schemas import VIEWS

            Path(survey_dir).mkdir(parents=True, exist_ok=True)
            write_parquet(views, path, schema=VIEWS)
        self.matches = {v: i for i, v in enumerate(views["view_id"])}
        return pd.DataFrame(views.drop(columns="geometry"))

    def prepare(self, views: pd.DataFrame) -> None:
        """Match every view to its image: nearest within radius facing the view's heading."""
        if self.as_is and self.matches:
            return
        from scipy.spatial import cKDTree

        lat0 = float(self.manifest["lat"].mean())
        scale = np.array([METRES_PER_DEGREE * math.cos(math.radians(lat0)), METRES_PER_DEGREE])
        tree = cKDTree(self.manifest[["lon", "lat"]].to_numpy() * scale)
        where = views[["lon", "lat"]].to_numpy(dtype=float) * scale
        headings = self.manifest["heading"].to_numpy()
        paths = self.manifest[["lon", "lat"]].to_numpy() * scale
        for view_id, xy, heading in zip(views["view_id"], where, views["heading"]):
            near = tree.query_ball_point(xy, self.radius)
            diff = np.abs((headings[near] - float(heading) + 180.0) % 360.0 - 180.0)
            near = [i for i, d in zip(near, diff) if d <= self.heading_tol]  # NaN never matches
            if near:
                self.matches[str(view_id)] = min(near, key=lambda i: np.hypot(*(paths[i] - xy)))

    def fetch_view(self, view: dict, ctx: FetchContext) -> Fetched:
        index = self.matches.get(str(view["view_id"]))
        if index is None:
            raise NoImagery(f"no local image within {self.radius:g} m facing "
                            f"{float(view['heading']):.0f} deg")
        image = self.manifest.iloc[index]
        path = Path(image["path"])
        if not path.is_file():
            raise NoImagery(f"image file missing: {path.name}")
        suffix = path.suffix.lower()
        suffix = ".jpg" if suffix == ".jpeg" else suffix
        captured = image["captured_at"]
        return Fetched(data=path.read_bytes(), source_id=str(path.name), suffix=suffix,
                       lon=float(image["lon"]), lat=float(image["lat"]),
                       heading=_finite(image["heading"]), fov=_finite(image["fov"]),
                       pitch=_finite(image["pitch"]),
                       captured_at=None if pd.isna(captured) else str(captured))


def _finite(value: object) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
