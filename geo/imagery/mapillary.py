"""Mapillary Graph API v4: nearest image facing the view, panoramas cut to the view.

For each view point: ``GET /images?bbox=w,s,e,n&fields=...&limit=N`` (``Authorization: OAuth
TOKEN``) answers ``{"data": [{"id", "computed_geometry": {"type": "Point", "coordinates":
[lon, lat]}, "computed_compass_angle", "captured_at" (ms since epoch), "is_pano",
"thumb_2048_url"}, ...]}``. The nearest image within ``radius`` metres that faces the view's
heading (within ``heading_tol`` degrees; a panorama faces every way) is downloaded from its
thumbnail URL; a panorama is cut into an exact perspective crop at the view's heading, fov
and pitch (``geo.imagery.panorama``). Thumbnail URLs expire, so only image ids are kept; a URL that no
longer works is resolved again with ``GET /{id}?fields=thumb_2048_url``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from geo.errors import GeoInputError
from geo.imagery.fetch import (
    FetchContext,
    Fetched,
    FetchError,
    HTTPStatusError,
    NoImagery,
    decode_rgb,
    encode_jpeg,
)
from geo.imagery.panorama import perspective_from_equirect

DEFAULT_ENDPOINT = "https://graph.mapillary.com"
FIELDS = ("id,computed_geometry,computed_compass_angle,captured_at,is_pano,thumb_2048_url,"
          "camera_parameters")
EXPIRED = (403, 404, 410)  # what an expired thumbnail URL answers
METRES_PER_DEGREE = 111_320.0


def bbox_around(lon: float, lat: float, radius: float) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` degrees of a square ``2 * radius`` metres wide."""
    dlat = radius / METRES_PER_DEGREE
    dlon = radius / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def angle_between(a: float, b: float) -> float:
    """Absolute difference of two bearings in degrees, in [0, 180]."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


def choose_image(candidates: list[dict], *, lon: float, lat: float, heading: float,
                 radius: float, heading_tol: float) -> tuple[dict, float] | None:
    """The nearest candidate within ``radius`` metres that faces ``heading``; with its distance."""
    best = None
    for image in candidates:
        coords = (image.get("computed_geometry") or {}).get("coordinates")
        if not coords or len(coords) < 2:
            continue
        dx = (coords[0] - lon) * METRES_PER_DEGREE * math.cos(math.radians(lat))
        dy = (coords[1] - lat) * METRES_PER_DEGREE
        distance = math.hypot(dx, dy)
        if distance > radius:
            continue
        if not image.get("is_pano"):
            compass = image.get("computed_compass_angle")
            if compass is None or angle_between(float(compass), heading) > heading_tol:
                continue
        if best is None or distance < best[1]:
            best = (image, distance)
    return best


def _iso_from_ms(value: object) -> str | None:
    try:
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class MapillaryProvider:
    """The ``mapillary`` provider. ``radius`` metres, ``heading_tol`` degrees, ``size`` pixels."""

    name = "mapillary"

    def __init__(self, *, token: str | None, endpoint: str | None = None, radius: float = 20.0,
                 heading_tol: float = 45.0, size: int = 640, limit: int = 100) -> None:
        if not token:
            raise GeoInputError("the mapillary provider needs a token: --token or MAPILLARY_TOKEN")
        if radius <= 0:
            raise GeoInputError(f"--radius must be > 0 metres, got {radius}")
        if not 0 <= heading_tol <= 180:
            raise GeoInputError(f"--heading-tol must be 0..180 degrees, got {heading_tol}")
        self.token = token
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.radius, self.heading_tol, self.size, self.limit = radius, heading_tol, size, limit
        self.secrets = (token,)
        self._searches: dict[str, list[dict] | FetchError] = {}

    @property
    def headers(self) -> dict:
        return {"Authorization": f"OAuth {self.token}"}

    def prepare(self, views: pd.DataFrame) -> None:
        """Nothing to prepare: searches are made (once per point) while fetching."""

    def search(self, lon: float, lat: float, ctx: FetchContext) -> list[dict]:
        """Images in the bbox around a point (once per point, even with many threads)."""
        where = f"{lon:.7f},{lat:.7f}"
        with ctx.locks(f"mapillary-search:{where}"):
            if where not in self._searches:
                west, south, east, north = bbox_around(lon, lat, self.radius)

                def check(data: object) -> None:
                    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                        raise FetchError("Mapillary search answered without a data list")

                try:
                    answer = ctx.http.get_json(
                        f"{self.endpoint}/images", headers=self.headers, check=check,
                        params={"bbox": f"{west:.7f},{south:.7f},{east:.7f},{north:.7f}",
                                "fields": FIELDS, "limit": str(self.limit)})
                    self._searches[where] = answer["data"]
                except FetchError as error:  # the point's other views fail alike, unasked
                    self._searches[where] = error
            found = self._searches[where]
            if isinstance(found, FetchError):
                raise found
            return found

    def thumbnail(self, image: dict, ctx: FetchContext) -> bytes:
        """The image's 2048 px thumbnail; an expired URL is resolved again by id."""
        image_id = str(image["id"])
        url = image.get("thumb_2048_url")
        if url:
            try:
                return ctx.http.get_image(url)
            except HTTPStatusError as error:
                if error.status not in EXPIRED:
                    raise
        fresh = ctx.http.get_json(f"{self.endpoint}/{image_id}", headers=self.headers,
                                  params={"fields": "thumb_2048_url"})
        url = fresh.get("thumb_2048_url") if isinstance(fresh, dict) else None
        if not url:
            raise NoImagery(f"Mapillary image {image_id} has no thumbnail")
        return ctx.http.get_image(url)

    def fetch_view(self, view: dict, ctx: FetchContext) -> Fetched:
        lon, lat, heading = float(view["lon"]), float(view["lat"]), float(view["heading"])
        picked = choose_image(self.search(lon, lat, ctx), lon=lon, lat=lat, heading=heading,
                              radius=self.radius, heading_tol=self.heading_tol)
        if picked is None:
            raise NoImagery(f"no Mapillary image within {self.radius:g} m facing {heading:.0f} deg")
        image = picked[0]
        image_id = str(image["id"])
        key = ctx.cache.key(self.name, image_id, {"thumb": 2048})
        raw = ctx.cache.get_or_fetch(key, lambda: self.thumbnail(image, ctx))
        cam_lon, cam_lat = image["computed_geometry"]["coordinates"][:2]
        captured = _iso_from_ms(image.get("captured_at"))
        if image.get("is_pano"):
            fov = float(view.get("fov") or 90.0)
            pitch = float(view.get("pitch") or 0.0)
            crop = perspective_from_equirect(
                decode_rgb(raw), heading=heading, fov=fov, pitch=pitch, width=self.size,
                pano_heading=float(image.get("computed_compass_angle") or 0.0))
            return Fetched(data=encode_jpeg(crop), source_id=image_id, lon=cam_lon, lat=cam_lat,
                           heading=heading, fov=fov, pitch=pitch, captured_at=captured)
        pixels = decode_rgb(raw)
        return Fetched(data=raw, source_id=image_id, lon=cam_lon, lat=cam_lat,
                       heading=float(image["computed_compass_angle"]),
                       fov=_fov_from_camera(image.get("camera_parameters"), pixels),
                       pitch=0.0, captured_at=captured, cached=ctx.cache.path(key))


def _fov_from_camera(parameters: object, pixels: np.ndarray) -> float:
    """Horizontal fov (degrees) from Mapillary's ``camera_parameters`` ``[focal, k1, k2]``
    (focal relative to the longer image side); NaN when unknown."""
    try:
        focal = float(parameters[0])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return float("nan")
    if focal <= 0:
        return float("nan")
    height, width = pixels.shape[:2]
    return float(np.degrees(2.0 * np.arctan(0.5 * width / max(width, height) / focal)))
