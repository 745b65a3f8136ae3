"""Local HTTP servers that speak the real Street View Static API and Mapillary API v4 shapes,
with switchable faults (429 + Retry-After, 5xx bursts, hangs, truncated JPEG, HTML bodies).

Shared by the provider tests (import the classes and the ``server`` fixture); the tests in this
file check the servers themselves against the APIs' documented behaviour.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import math
import re
import threading
import time
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from geo.imagery.fetch import FetchOptions

KEY = "TESTKEY_do_not_leak_0123456789_gsv"
SECRET = base64.urlsafe_b64encode(b"a-signing-secret-of-20b").decode()
TOKEN = "MLY|1234567|do_not_leak_token_abcdef"
GSV_PATH = "/maps/api/streetview"
FAST = FetchOptions(workers=4, rate=0, retries=2, timeout=0.3, backoff=0.001, max_backoff=0.005,
                    size=64, flush_every=2)
HELSINKI = (24.9400, 60.1700)


@pytest.fixture
def server():
    """A threaded local HTTP server (a hanging request must not block the others). Its access
    log is silenced: it would print the request URLs (keys included) the server received."""
    access_log = logging.getLogger("werkzeug")
    level = access_log.level
    access_log.setLevel(logging.ERROR)
    http = HTTPServer(threaded=True)
    http.start()
    yield http
    http.clear()
    if http.is_running():
        http.stop()
    access_log.setLevel(level)


def jpeg_bytes(width: int, height: int, color=(120, 130, 140)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def offset(lon: float, lat: float, east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    """A point ``east_m`` / ``north_m`` metres from (lon, lat)."""
    return (lon + east_m / (111_320.0 * math.cos(math.radians(lat))), lat + north_m / 111_320.0)


def write_views(survey: Path, rows: list[dict]) -> Path:
    """A hand-made views.parquet (the sampling contract)."""
    frame = pd.DataFrame(rows)
    for column, default in (("pitch", 0.0), ("fov", 90.0), ("side", "left")):
        if column not in frame:
            frame[column] = default
    frame["point_id"] = frame.get("point_id", pd.Series(range(len(frame)))).astype("int64")
    views = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                             crs="EPSG:4326")
    survey.mkdir(parents=True, exist_ok=True)
    views.to_parquet(survey / "views.parquet", index=False)
    return survey / "views.parquet"


def files_containing(root: Path, secret: str) -> list[Path]:
    """Every file under ``root`` (names included) that contains ``secret``."""
    hits = []
    for path in root.rglob("*"):
        if secret in str(path) or (path.is_file() and secret.encode() in path.read_bytes()):
            hits.append(path)
    return hits


def _fault_response(fault: str | tuple, image: bytes, release: threading.Event) -> Response | None:
    kind, *arg = fault if isinstance(fault, tuple) else (fault,)
    if kind == "429":
        return Response("rate limited", status=429, headers={"Retry-After": arg[0] if arg else "0"})
    if kind == "500":
        return Response("backend error", status=500)
    if kind == "503":
        return Response("unavailable", status=503)
    if kind == "hang":
        release.wait(3.0)
        return Response(image, status=200, content_type="image/jpeg")
    if kind == "truncated":
        return Response(image[: len(image) // 2], status=200, content_type="image/jpeg")
    if kind == "html":
        return Response("<!DOCTYPE html><html><body>Sorry...</body></html>", status=200,
                        content_type="text/html; charset=utf-8")
    if kind == "empty":
        return Response(b"", status=200, content_type="image/jpeg")
    raise AssertionError(f"unknown fault {fault}")


def _distance_m(lon1, lat1, lon2, lat2) -> float:
    dx = (lon2 - lon1) * 111_320.0 * math.cos(math.radians(lat1))
    return math.hypot(dx, (lat2 - lat1) * 111_320.0)


class FakeStreetView:
    """The Street View Static API: ``GSV_PATH/metadata`` (JSON) and ``GSV_PATH`` (JPEG)."""

    def __init__(self, server: HTTPServer, *, key: str = KEY, secret: str | None = None) -> None:
        self.key, self.secret = key, secret
        self.panos: dict[str, dict] = {}
        self.faults: dict[str, list] = defaultdict(list)  # pano -> faults of image requests
        self.meta_faults: list = []
        self.served: list[tuple] = []  # (pano, heading, fov, pitch, size) of images served
        self.log: list[tuple[str, dict]] = []
        self.release = threading.Event()
        self.delay = 0.0  # seconds each image answer takes
        self._lock = threading.Lock()
        server.expect_request(f"{GSV_PATH}/metadata").respond_with_handler(self.metadata)
        server.expect_request(GSV_PATH).respond_with_handler(self.image)
        self.endpoint = server.url_for(GSV_PATH)

    def add_pano(self, pano_id: str, lon: float, lat: float, date: str = "2021-06") -> None:
        self.panos[pano_id] = {"lon": lon, "lat": lat, "date": date}

    def _denied(self, request: Request) -> str | None:
        args = request.args
        if args.get("key") != self.key:
            return "The provided API key is invalid."
        if self.secret:
            raw = request.query_string.decode()
            unsigned, _, signature = raw.rpartition("&signature=")
            digest = hmac.new(base64.urlsafe_b64decode(self.secret),
                              f"{request.path}?{unsigned}".encode(), hashlib.sha1).digest()
            if base64.urlsafe_b64encode(digest).decode() != signature:
                return "Unable to authenticate the request: invalid signature."
        return None

    def metadata(self, request: Request) -> Response:
        with self._lock:
            self.log.append(("metadata", dict(request.args)))
            fault = self.meta_faults.pop(0) if self.meta_faults else None
        if fault:
            return _fault_response(fault, b"", self.release)
        denied = self._denied(request)
        if denied:
            return Response(json.dumps({"error_message": denied, "status": "REQUEST_DENIED"}),
                            content_type="application/json")
        args = request.args
        if "pano" in args:
            found = args["pano"] if args["pano"] in self.panos else None
        else:
            lat, lon = (float(v) for v in args["location"].split(","))
            radius = float(args.get("radius", 50))
            near = sorted((_distance_m(lon, lat, p["lon"], p["lat"]), pid)
                          for pid, p in self.panos.items())
            found = near[0][1] if near and near[0][0] <= radius else None
        if found is None:
            return Response(json.dumps({"status": "ZERO_RESULTS"}), content_type="application/json")
        pano = self.panos[found]
        body = {"copyright": "© Google", "date": pano["date"],
                "location": {"lat": pano["lat"], "lng": pano["lon"]}, "pano_id": found,
                "status": "OK"}
        return Response(json.dumps(body), content_type="application/json")

    def image(self, request: Request) -> Response:
        args = request.args
        pano = args.get("pano")
        width, height = (int(v) for v in args.get("size", "640x640").split("x"))
        picture = jpeg_bytes(width, height, (int(float(args.get("heading", 0))) % 256, 80, 160))
        with self._lock:
            self.log.append(("image", dict(args)))
            fault = self.faults[pano].pop(0) if self.faults.get(pano) else None
        if fault:
            return _fault_response(fault, picture, self.release)
        denied = self._denied(request)
        if denied:
            return Response(denied, status=403, content_type="text/plain")
        if pano not in self.panos:
            if args.get("return_error_code") == "true":
                return Response("", status=404)
            return Response(jpeg_bytes(width, height, (228, 227, 223)), content_type="image/jpeg")
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.served.append((pano, args.get("heading"), args.get("fov"), args.get("pitch"),
                                args.get("size")))
        return Response(picture, content_type="image/jpeg")

    def image_requests(self) -> list[dict]:
        return [args for kind, args in self.log if kind == "image"]


class FakeMapillary:
    """Mapillary Graph API v4: ``/images`` bbox search, ``/{id}`` node, ``/thumbs/..`` CDN."""

    def __init__(self, server: HTTPServer, *, token: str = TOKEN) -> None:
        self.token = token
        self.images: dict[str, dict] = {}
        self.faults: dict[str, list] = defaultdict(list)  # id -> faults of thumbnail requests
        self.search_faults: list = []
        self.expired: set[str] = set()  # ids whose URLs from the search answer 403
        self.served: list[str] = []
        self.log: list[tuple[str, str, dict, dict]] = []  # (kind, path, args, headers)
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.server = server
        server.expect_request("/images").respond_with_handler(self.search)
        server.expect_request(re.compile(r"^/thumbs/\d+\.jpg$")).respond_with_handler(self.thumb)
        server.expect_request(re.compile(r"^/\d+$")).respond_with_handler(self.node)
        self.endpoint = server.url_for("/").rstrip("/")

    def add_image(self, image_id: str, lon: float, lat: float, *, compass: float,
                  is_pano: bool = False, picture: bytes | None = None,
                  captured_at: int = 1_650_000_000_000, focal: float | None = 0.8) -> None:
        self.images[image_id] = {"lon": lon, "lat": lat, "compass": compass, "is_pano": is_pano,
                                 "picture": picture or jpeg_bytes(96, 64),
                                 "captured_at": captured_at, "focal": focal}

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header == f"OAuth {self.token}" or request.args.get("access_token") == self.token

    def _unauthorized(self) -> Response:
        body = {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                          "code": 190}}
        return Response(json.dumps(body), status=401, content_type="application/json")

    def _thumb_url(self, image_id: str, fresh: bool) -> str:
        return self.server.url_for(f"/thumbs/{image_id}.jpg") + f"?stp=s2048x1024&oe={int(fresh)}"

    def _fields(self, image_id: str, fields: list[str], fresh: bool) -> dict:
        image = self.images[image_id]
        every = {"id": image_id,
                 "computed_geometry": {"type": "Point", "coordinates": [image["lon"], image["lat"]]},
                 "computed_compass_angle": image["compass"], "captured_at": image["captured_at"],
                 "is_pano": image["is_pano"], "thumb_2048_url": self._thumb_url(image_id, fresh)}
        if image["focal"] is not None:
            every["camera_parameters"] = [image["focal"], 0.0, 0.0]
        return {k: v for k, v in every.items() if k in fields or k == "id"}

    def search(self, request: Request) -> Response:
        with self._lock:
            self.log.append(("search", request.path, dict(request.args), dict(request.headers)))
            fault = self.search_faults.pop(0) if self.search_faults else None
        if fault:
            return _fault_response(fault, b"", self.release)
        if not self._authorized(request):
            return self._unauthorized()
        west, south, east, north = (float(v) for v in request.args["bbox"].split(","))
        fields = request.args.get("fields", "id").split(",")
        limit = int(request.args.get("limit", 2000))
        found = [i for i, im in self.images.items()
                 if west <= im["lon"] <= east and south <= im["lat"] <= north][:limit]
        data = [self._fields(i, fields, fresh=i not in self.expired) for i in found]
        return Response(json.dumps({"data": data}), content_type="application/json")

    def node(self, request: Request) -> Response:
        image_id = request.path.strip("/")
        with self._lock:
            self.log.append(("node", request.path, dict(request.args), dict(request.headers)))
        if not self._authorized(request):
            return self._unauthorized()
        if image_id not in self.images:
            body = {"error": {"message": "Unsupported get request.", "code": 100}}
            return Response(json.dumps(body), status=400, content_type="application/json")
        fields = request.args.get("fields", "id").split(",")
        return Response(json.dumps(self._fields(image_id, fields, fresh=True)),
                        content_type="application/json")

    def thumb(self, request: Request) -> Response:
        image_id = Path(request.path).stem
        image = self.images.get(image_id)
        with self._lock:
            self.log.append(("thumb", request.path, dict(request.args), dict(request.headers)))
            fault = self.faults[image_id].pop(0) if self.faults.get(image_id) else None
        picture = image["picture"] if image else b""
        if fault:
            return _fault_response(fault, picture, self.release)
        if image is None:
            return Response("Not found", status=404)
        if request.args.get("oe") == "0" and image_id in self.expired:
            return Response("URL signature expired", status=403, content_type="text/plain")
        with self._lock:
            self.served.append(image_id)
        return Response(picture, content_type="image/jpeg")


# --- the servers behave like the real APIs ----------------------------------------------------

def test_street_view_server_speaks_the_api(server):
    import httpx

    gsv = FakeStreetView(server)
    gsv.add_pano("PANO_a", *offset(*HELSINKI, east_m=10))
    near = httpx.get(f"{gsv.endpoint}/metadata",
                     params={"location": f"{HELSINKI[1]},{HELSINKI[0]}", "key": KEY}).json()
    assert near["status"] == "OK" and near["pano_id"] == "PANO_a"
    assert set(near) == {"copyright", "date", "location", "pano_id", "status"}
    far = httpx.get(f"{gsv.endpoint}/metadata",
                    params={"location": "0,0", "radius": "50", "key": KEY}).json()
    assert far == {"status": "ZERO_RESULTS"}
    denied = httpx.get(f"{gsv.endpoint}/metadata", params={"pano": "PANO_a", "key": "x"}).json()
    assert denied["status"] == "REQUEST_DENIED"
    image = httpx.get(gsv.endpoint, params={"pano": "PANO_a", "size": "32x16", "key": KEY})
    assert image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (32, 16)


def test_mapillary_server_speaks_the_api(server):
    import httpx

    mly = FakeMapillary(server)
    mly.add_image("1001", *HELSINKI, compass=90.0)
    bbox = "24.9,60.1,25.0,60.2"
    fields = "id,computed_geometry,is_pano"
    answer = httpx.get(f"{mly.endpoint}/images", params={"bbox": bbox, "fields": fields},
                       headers={"Authorization": f"OAuth {TOKEN}"}).json()
    assert answer == {"data": [{"id": "1001", "is_pano": False, "computed_geometry": {
        "type": "Point", "coordinates": list(HELSINKI)}}]}
    refused = httpx.get(f"{mly.endpoint}/images", params={"bbox": bbox})
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "OAuthException"
    node = httpx.get(f"{mly.endpoint}/1001", params={"fields": "thumb_2048_url",
                                                     "access_token": TOKEN}).json()
    assert httpx.get(node["thumb_2048_url"]).headers["content-type"] == "image/jpeg"


def test_signature_matches_googles_published_example():
    """The signing used by provider and server reproduces a published test vector."""
    from geo.imagery.gsv import sign_url

    url = ("https://maps.googleapis.com/maps/api/staticmap?center=40.714%2C+-73.998"
           "&client=myclient&size=400x400&zoom=12")
    assert sign_url(url, "bXlrZXk=").endswith("&signature=C1UG9w-v41q7i1lISpZsw1xzOV8=")


def test_views_helper_matches_the_contract(tmp_path):
    path = write_views(tmp_path, [{"view_id": "0_left", "lon": 24.9, "lat": 60.1,
                                   "heading": 10.0}])
    views = gpd.read_parquet(path)
    assert {"view_id", "point_id", "heading", "pitch", "fov", "side", "lon", "lat"} <= set(views)
    assert views.crs.to_epsg() == 4326 and np.isclose(views.geometry.x[0], 24.9)
