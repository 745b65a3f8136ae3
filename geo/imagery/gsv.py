"""Google Street View Static API: metadata first, then one image per panorama and heading.

The metadata request (free, ``/metadata``) answers ``status`` (``OK``, ``ZERO_RESULTS``,
``NOT_FOUND``, ``OVER_QUERY_LIMIT``, ``REQUEST_DENIED``, ``INVALID_REQUEST``, ``UNKNOWN_ERROR``),
``pano_id``, ``date``, ``location {lat, lng}`` and ``copyright``; views without imagery cost
nothing more. The image is then requested by ``pano`` so one panorama and heading is
downloaded once (disk cache keyed by pano id, heading, fov, pitch and size; never the key).

With a signing secret, each URL gets ``&signature=`` = url-safe base64 of HMAC-SHA1 over
``path?query`` keyed with the url-safe-base64-decoded secret, as Google documents.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from urllib.parse import urlencode, urlsplit

import pandas as pd

from geo.errors import GeoInputError
from geo.imagery.fetch import FetchContext, Fetched, FetchError, HTTPStatusError, NoImagery, RetryableError

DEFAULT_ENDPOINT = "https://maps.googleapis.com/maps/api/streetview"
NO_IMAGERY = ("ZERO_RESULTS", "NOT_FOUND")
RETRY = ("OVER_QUERY_LIMIT", "UNKNOWN_ERROR")
MAX_SIZE = 640  # the Static API's largest side without a premium plan


def sign_url(url: str, secret: str) -> str:
    """``url`` with Google's ``&signature=`` appended (HMAC-SHA1 of path and query)."""
    parts = urlsplit(url)
    try:
        decoded = base64.urlsafe_b64decode(secret.encode())
    except (ValueError, TypeError):
        raise GeoInputError("the URL signing secret is not url-safe base64") from None
    digest = hmac.new(decoded, f"{parts.path}?{parts.query}".encode(), hashlib.sha1).digest()
    return f"{url}&signature={base64.urlsafe_b64encode(digest).decode()}"


def _fmt(value: float) -> str:
    """Degrees for a URL: at most 2 decimals, no trailing zeros (the cache and dedupe key)."""
    return f"{round(float(value), 2):g}"


class StreetViewProvider:
    """The ``gsv`` provider. ``radius`` in metres (metadata search around each view point)."""

    name = "gsv"

    def __init__(self, *, key: str | None, secret: str | None = None,
                 endpoint: str | None = None, radius: float = 50.0, size: int = 640,
                 source: str = "outdoor") -> None:
        if not key:
            raise GeoInputError("the gsv provider needs an API key: --key or GOOGLE_MAPS_API_KEY")
        if not 16 <= size <= MAX_SIZE:
            raise GeoInputError(f"--size for gsv must be 16..{MAX_SIZE} pixels, got {size}")
        if radius <= 0:
            raise GeoInputError(f"--radius must be > 0 metres, got {radius}")
        if secret:
            sign_url("/x?y", secret)  # fail early on a malformed secret
        self.key, self.secret = key, secret or None
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.radius, self.size, self.source = radius, int(size), source
        self.secrets = tuple(s for s in (key, secret) if s)

    def prepare(self, views: pd.DataFrame) -> None:
        """Nothing to prepare: every view is answered by the API."""

    def url(self, path: str, params: dict) -> str:
        """The full request URL with key (and signature); never log it unscrubbed."""
        query = urlencode({**params, "key": self.key}, safe=",")
        url = f"{self.endpoint}{path}?{query}"
        return sign_url(url, self.secret) if self.secret else url

    def metadata(self, view: dict, ctx: FetchContext) -> dict:
        """The metadata of the panorama for a view (by ``pano_id`` when the view names one)."""
        pano = view.get("pano_id")
        if isinstance(pano, str) and pano:
            params = {"pano": pano}
        else:
            lat, lon = float(view["lat"]), float(view["lon"])
            params = {"location": f"{lat:.7f},{lon:.7f}", "radius": f"{self.radius:g}",
                      "source": self.source}

        def check(data: dict) -> None:
            status = data.get("status") if isinstance(data, dict) else None
            if status in RETRY:
                raise RetryableError(f"Street View metadata status {status}")
            if status in NO_IMAGERY:
                raise NoImagery(f"Street View metadata status {status}")
            if status != "OK" or not data.get("pano_id"):
                message = data.get("error_message", "") if isinstance(data, dict) else ""
                raise FetchError(f"Street View metadata status {status}: {message}".rstrip(": "))

        return ctx.http.get_json(self.url("/metadata", params), check=check)

    def fetch_view(self, view: dict, ctx: FetchContext) -> Fetched:
        meta = self.metadata(view, ctx)
        pano = str(meta["pano_id"])
        fov = float(view.get("fov") if _known(view.get("fov")) else 90.0)
        pitch = float(view.get("pitch") if _known(view.get("pitch")) else 0.0)
        image_params = {"size": f"{self.size}x{self.size}", "heading": _fmt(view["heading"]),
                        "fov": _fmt(fov), "pitch": _fmt(pitch)}
        key = ctx.cache.key(self.name, pano, image_params)

        def download() -> bytes:
            try:
                return ctx.http.get_image(self.url("", {"pano": pano, **image_params,
                                                        "source": self.source,
                                                        "return_error_code": "true"}))
            except HTTPStatusError as error:
                if error.status == 404:
                    raise NoImagery(f"Street View has no image for panorama {pano}") from None
                raise

        data = ctx.cache.get_or_fetch(key, download)
        location = meta.get("location") or {}
        return Fetched(data=data, source_id=pano, lon=location.get("lng"), lat=location.get("lat"),
                       heading=float(image_params["heading"]), fov=fov, pitch=pitch,
                       captured_at=meta.get("date"), cached=ctx.cache.path(key))


def _known(value: object) -> bool:
    try:
        return not math.isnan(float(value))
    except (TypeError, ValueError):
        return False
