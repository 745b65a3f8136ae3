"""The fetch stage: one ``images.parquet`` row per view, whatever the imagery provider.

A provider only knows its API (see ``geo.imagery.providers``); everything else lives here and is
shared: a thread pool (``workers``), a global request rate limit (``rate`` requests per
second), retries with exponential backoff and jitter on 429 / 5xx / timeouts that honour
``Retry-After`` (tenacity), validation of every image body, a disk cache keyed by provider,
image id and parameters (never by key or token), and resumable writing of the table: finished
rows go to atomic part files (``images.parquet.parts/part-NNNNNN.parquet``) that are merged into
``images.parquet`` at the end, so a run killed with ``kill -9`` loses nothing already saved and
a rerun requests only views that are missing or did not end ``ok``.

Secrets (API keys, tokens, URL signatures) are scrubbed from every error message; they never
reach ``images.parquet``, file names or cache keys.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import pandas as pd
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from geo.errors import GeoInputError
from geo.io import atomic_path, write_bytes, write_parquet
from geo import schemas

IMAGES = "images.parquet"
IMAGES_DIR = "images"
PARTS_DIR = "images.parquet.parts"
STATUSES = ("ok", "no_imagery", "error")
COLUMNS = schemas.columns(schemas.IMAGES)

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO level; GSV URLs carry the key, so keep it quiet.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


# --- options and errors ---------------------------------------------------------------------

@dataclass(frozen=True)
class FetchOptions:
    """Politeness and robustness settings shared by every provider.

    ``rate`` is requests per second over all workers (0 = unlimited); ``timeout``, ``backoff``
    (first retry wait), ``max_backoff`` and ``max_retry_after`` are seconds; ``retries`` is the
    number of extra attempts after the first; ``size`` is the output image side in pixels.
    """

    workers: int = 4
    rate: float = 10.0
    retries: int = 4
    timeout: float = 30.0
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 300.0
    size: int = 640
    flush_every: int = 200  # rows per part file
    flush_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise GeoInputError(f"--workers must be at least 1, got {self.workers}")
        if self.rate < 0:
            raise GeoInputError(f"--rate must be >= 0 requests per second, got {self.rate}")
        if self.retries < 0:
            raise GeoInputError(f"--retries must be >= 0, got {self.retries}")
        if self.timeout <= 0:
            raise GeoInputError(f"--timeout must be > 0 seconds, got {self.timeout}")
        if self.size < 16:
            raise GeoInputError(f"--size must be at least 16 pixels, got {self.size}")


class FetchError(Exception):
    """A view that failed for good (its message is already scrubbed of secrets)."""


class RetryableError(FetchError):
    """A failure worth retrying: 429, 5xx, timeout, broken connection, a bad image body.

    ``retry_after`` (seconds) is the server's ``Retry-After`` when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HTTPStatusError(FetchError):
    """A final (not retried) HTTP status such as 400, 401, 403 or 404."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class NoImagery(Exception):
    """The provider has no image for this view (a final answer, not a failure)."""


class InvalidImage(ValueError):
    """A body that is empty, truncated, HTML or otherwise not a decodable image."""


# --- secrets --------------------------------------------------------------------------------

_SECRET_PARAMS = re.compile(r"(?i)\b(key|signature|access_token|token|client_secret)=[^&\s'\"]+")
_AUTH_HEADER = re.compile(r"(?i)(OAuth|Bearer)\s+[^\s'\"]+")


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret value and every key-like URL parameter replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=***", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)} ***", text)


def url_without_query(url: str | httpx.URL) -> str:
    """The URL for messages: scheme, host and path only (no query, so no key)."""
    url = httpx.URL(str(url))
    return str(url.copy_with(query=None, fragment=None))


# --- image bodies ---------------------------------------------------------------------------

def validate_image(data: bytes, *, content_type: str | None = None) -> tuple[int, int]:
    """``(width, height)`` in pixels of a complete JPEG / PNG / WebP body, else InvalidImage."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidImage("empty body")
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith("text/") or kind in ("application/json", "application/xml"):
        raise InvalidImage(f"not an image: content-type {kind}")
    head = data[:16].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"{")):
        raise InvalidImage("not an image: the body is text (HTML/JSON)")
    if data[:3] == b"\xff\xd8\xff" and not data.rstrip(b"\0\r\n ").endswith(b"\xff\xd9"):
        raise InvalidImage(f"truncated JPEG ({len(data)} bytes, no end marker)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InvalidImage(f"undecodable image: {type(error).__name__}") from None


def encode_jpeg(pixels: Any, *, quality: int = 95) -> bytes:
    """JPEG bytes of an RGB uint8 array (height, width, 3)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def decode_rgb(data: bytes) -> Any:
    """RGB uint8 array (height, width, 3) of an image body."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


# --- HTTP: rate limit, timeout, retries -----------------------------------------------------

class RateLimiter:
    """At most ``rate`` calls per second over all threads (evenly spaced; 0 = unlimited)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Http:
    """A shared httpx client with the stage's rate limit, timeout, retries and secret scrubbing.

    Thread-safe: every worker thread calls ``get_json`` / ``get_image`` on the same object.
    """

    def __init__(self, options: FetchOptions, *, secrets: Iterable[str | None] = ()) -> None:
        self.options = options
        self.secrets = tuple(s for s in secrets if s)
        self.limiter = RateLimiter(options.rate)
        self.client = httpx.Client(timeout=httpx.Timeout(options.timeout),
                                   follow_redirects=True,
                                   headers={"User-Agent": "camcensus (street camera survey)"})
        self.requests = 0  # counted for tests and reports
        self._count_lock = threading.Lock()
        self._backoff = wait_exponential_jitter(initial=options.backoff, max=options.max_backoff,
                                                jitter=options.backoff)

    def close(self) -> None:
        self.client.close()

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    # one attempt ------------------------------------------------------------------------
    def _send(self, url: str, *, params: dict | None, headers: dict | None) -> httpx.Response:
        self.limiter.wait()
        with self._count_lock:
            self.requests += 1
        where = url_without_query(url)
        try:
            response = self.client.get(url, params=params, headers=headers)
        except httpx.TimeoutException:
            raise RetryableError(f"timeout after {self.options.timeout:g} s from {where}") from None
        except httpx.TransportError as error:
            raise RetryableError(self.scrub(f"connection failed to {where}: "
                                            f"{type(error).__name__}")) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetryableError(f"HTTP {status} from {where}",
                                 retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status != 200:
            raise HTTPStatusError(f"HTTP {status} from {where}", status=status)
        return response

    # with retries -----------------------------------------------------------------------
    def _wait(self, state: Any) -> float:
        error = state.outcome.exception() if state.outcome else None
        after = getattr(error, "retry_after", None)
        if after is not None:
            return min(after, self.options.max_retry_after)
        return self._backoff(state)

    def retrying(self, attempt: Callable[[], Any]) -> Any:
        """Run ``attempt`` until it returns, retrying on RetryableError up to ``retries`` times."""
        retryer = Retrying(stop=stop_after_attempt(self.options.retries + 1), wait=self._wait,
                           retry=retry_if_exception_type(RetryableError), reraise=True)
        try:
            return retryer(attempt)
        except RetryableError as error:
            tries = self.options.retries + 1
            raise FetchError(self.scrub(f"{error} (gave up after {tries} attempts)")) from None

    def get_json(self, url: str, *, params: dict | None = None, headers: dict | None = None,
                 check: Callable[[Any], None] | None = None) -> Any:
        """Parsed JSON of a GET; ``check(data)`` may raise RetryableError / FetchError / NoImagery."""

        def attempt() -> Any:
            response = self._send(url, params=params, headers=headers)
            try:
                data = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise RetryableError(f"invalid JSON from {url_without_query(url)}") from None
            if check is not None:
                check(data)
            return data

        return self.retrying(attempt)

    def get_image(self, url: str, *, params: dict | None = None,
                  headers: dict | None = None) -> bytes:
        """Image bytes of a GET, validated (a bad body is retried, then a FetchError)."""

        def attempt() -> bytes:
            response = self._send(url, params=params, headers=headers)
            try:
                validate_image(response.content, content_type=response.headers.get("content-type"))
            except InvalidImage as error:
                raise RetryableError(f"{error} from {url_without_query(url)}") from None
            return response.content

        return self.retrying(attempt)


# --- disk cache -----------------------------------------------------------------------------

class KeyedLocks:
    """One lock per key, so concurrent workers never do the same work twice."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class DiskCache:
    """Raw downloads on disk, keyed by provider, image id and request parameters.

    Keys are hashes of those (never of keys or tokens); files are written atomically.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._locks = KeyedLocks()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(provider: str, image_id: str, params: dict | None = None) -> str:
        text = json.dumps([provider, str(image_id), params or {}], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> bytes | None:
        path = self.path(key)
        return path.read_bytes() if path.is_file() else None

    def put(self, key: str, data: bytes) -> None:
        write_bytes(self.path(key), data)

    def get_or_fetch(self, key: str, fetch: Callable[[], bytes]) -> bytes:
        """The cached bytes, or ``fetch()`` once (even with many threads asking) and cache them."""
        with self._locks(key):
            data = self.get(key)
            if data is not None:
                self.hits += 1
                return data
            self.misses += 1
            data = fetch()
            self.put(key, data)
            return data


def link_file(source: Path, target: Path) -> bool:
    """Hard-link ``source`` to ``target`` atomically (replacing it); False where links fail."""
    try:
        with atomic_path(target) as tmp:
            os.link(source, tmp)
    except OSError:
        return False
    return True


# --- the provider interface -----------------------------------------------------------------

@dataclass
class Fetched:
    """A provider's answer for one ok view: the image and where/how it was taken.

    ``heading``/``fov``/``pitch`` in degrees (None: as the view asked); lon/lat of the camera.
    """

    data: bytes
    source_id: str
    suffix: str = ".jpg"
    lon: float | None = None
    lat: float | None = None
    heading: float | None = None
    fov: float | None = None
    pitch: float | None = None
    captured_at: str | None = None
    cached: Path | None = None  # the cache file holding exactly ``data``: linked, not copied


@dataclass
class FetchContext:
    """What a provider may use while fetching: the shared HTTP client, cache and options."""

    http: Http
    cache: DiskCache
    options: FetchOptions
    locks: KeyedLocks = field(default_factory=KeyedLocks)


class Provider(Protocol):
    """An imagery source. ``fetch_view`` returns a Fetched or raises NoImagery / FetchError."""

    name: str
    secrets: tuple[str, ...]

    def prepare(self, views: pd.DataFrame) -> None: ...

    def fetch_view(self, view: dict, ctx: FetchContext) -> Fetched: ...


# --- images.parquet: resumable table --------------------------------------------------------

class ImageTable:
    """``images.parquet`` plus the part files of an unfinished run; the last row per view wins."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / IMAGES
        self.parts_dir = self.out_dir / PARTS_DIR
        self.pending: list[dict] = []
        self._last_flush = time.monotonic()

    def _parts(self) -> list[Path]:
        return sorted(self.parts_dir.glob("part-*.parquet")) if self.parts_dir.is_dir() else []

    def read(self) -> pd.DataFrame:
        """Every row written so far, one per view (the latest)."""
        frames = [pd.read_parquet(self.path)] if self.path.is_file() else []
        frames += [pd.read_parquet(p) for p in self._parts()]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
        table = pd.concat(frames, ignore_index=True)
        return table.drop_duplicates("view_id", keep="last").reset_index(drop=True)

    def done(self) -> set[str]:
        """Views that ended ``ok`` and whose image file is still there."""
        table = self.read()
        ok = table[table["status"] == "ok"]
        return {v for v, p in zip(ok["view_id"], ok["path"])
                if isinstance(p, str) and (self.out_dir / p).is_file()}

    def add(self, row: dict) -> None:
        self.pending.append(row)

    def maybe_flush(self, options: FetchOptions) -> None:
        if len(self.pending) >= options.flush_every or (
                self.pending and time.monotonic() - self._last_flush >= options.flush_seconds):
            self.flush()

    def flush(self) -> None:
        """Write pending rows as the next part file (atomic)."""
        self._last_flush = time.monotonic()
        if not self.pending:
            return
        parts = self._parts()
        number = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        write_parquet(rows_to_frame(self.pending), self.parts_dir / f"part-{number:06d}.parquet",
                      schema=schemas.IMAGES)
        self.pending = []

    def finish(self, view_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Merge everything into ``images.parquet`` (atomic), drop the parts, return the table.

        With ``view_ids``, rows are ordered like them (rows of other views are kept at the end).
        """
        self.flush()
        table = self.read()
        if view_ids is not None:
            order = {v: i for i, v in enumerate(view_ids)}
            table = table.assign(_o=table["view_id"].map(order).fillna(len(order)))
            table = table.sort_values("_o", kind="stable").drop(columns="_o")
        table = rows_to_frame(table.to_dict("records"))
        write_parquet(table, self.path, schema=schemas.IMAGES)
        for part in self._parts():
            part.unlink()
        if self.parts_dir.is_dir() and not any(self.parts_dir.iterdir()):
            self.parts_dir.rmdir()
        return table


def rows_to_frame(rows: list[dict]) -> pd.DataFrame:
    """The contract's columns and dtypes (numbers as float, ids and text as str or None)."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("width", "height"):
        frame[column] = pd.array(frame[column], dtype="Int64")
    for column in ("lon", "lat", "heading", "fov", "pitch"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("view_id", "image_id", "provider", "path", "captured_at", "status", "error",
                   "source_id"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


# --- the stage ------------------------------------------------------------------------------

def _number(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _row(view: dict, provider: str, **values: Any) -> dict:
    row = {"view_id": str(view["view_id"]), "image_id": str(view["view_id"]),
           "provider": provider, "path": None, "width": None, "height": None,
           "lon": _number(view.get("lon")), "lat": _number(view.get("lat")),
           "heading": _number(view.get("heading")), "fov": _number(view.get("fov")),
           "pitch": _number(view.get("pitch")), "captured_at": None, "status": "error",
           "error": None, "source_id": None}
    row.update({k: v for k, v in values.items() if v is not None or k in ("error",)})
    return row


def safe_file_name(view_id: str) -> str:
    """A file name from a view id (only letters, digits, ``_ - . =``)."""
    name = re.sub(r"[^A-Za-z0-9_.=-]", "_", str(view_id)).lstrip(".")
    return name or hashlib.sha1(str(view_id).encode()).hexdigest()


def fetch_one(view: dict, provider: Provider, ctx: FetchContext, out_dir: Path) -> dict:
    """The final ``images.parquet`` row of one view; never raises (except KeyboardInterrupt)."""
    name = provider.name
    try:
        got = provider.fetch_view(view, ctx)
        width, height = validate_image(got.data)
        relative = f"{IMAGES_DIR}/{safe_file_name(view['view_id'])}{got.suffix}"
        if got.cached is None or not link_file(got.cached, out_dir / relative):
            write_bytes(out_dir / relative, got.data)
        return _row(view, name, status="ok", path=relative, width=width, height=height,
                    lon=got.lon, lat=got.lat, heading=got.heading, fov=got.fov, pitch=got.pitch,
                    captured_at=got.captured_at, source_id=got.source_id, error=None)
    except NoImagery as reason:
        return _row(view, name, status="no_imagery", error=ctx.http.scrub(str(reason)) or None)
    except (FetchError, InvalidImage) as error:
        return _row(view, name, status="error", error=ctx.http.scrub(str(error)))
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001  (a provider bug must not stop the survey)
        return _row(view, name, status="error",
                    error=ctx.http.scrub(f"{type(error).__name__}: {error}"))


@dataclass(frozen=True)
class FetchResult:
    """Counts of the final table by status, what this run did, and the table's path."""

    counts: dict[str, int]
    attempted: int
    skipped: int
    requests: int
    path: Path


class _Progress:
    """Rich progress bar on a terminal, a plain line every ~10 % otherwise (stderr)."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label, self.enabled, self.done = total, label, enabled, 0
        self.bar = None
        self._next_line = max(1, total // 10)
        if enabled and total and sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(label, total=total)

    def step(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.advance(self.task)
        elif self.enabled and (self.done % self._next_line == 0 or self.done == self.total):
            print(f"{self.label}: {self.done}/{self.total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def fetch_views(views: pd.DataFrame, out_dir: str | Path, provider: Provider, *,
                options: FetchOptions | None = None, cache_dir: str | Path | None = None,
                progress: bool = True) -> FetchResult:
    """Fetch every view (rows with view_id, lon, lat, heading, fov, pitch) into ``out_dir``.

    Writes ``out_dir/images/`` and ``out_dir/images.parquet`` (one final row per view). Views
    already ``ok`` (with their file present) are skipped; the others are requested again.
    The cache defaults to ``out_dir/cache``.
    """
    options = options or FetchOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if "view_id" not in views.columns:
        raise GeoInputError("views have no view_id column")
    if views["view_id"].duplicated().any():
        raise GeoInputError("views have duplicate view_id values")
    table = ImageTable(out_dir)
    done = table.done()
    records = [r for r in _records(views) if str(r["view_id"]) not in done]
    provider.prepare(views)
    http = Http(options, secrets=provider.secrets)
    ctx = FetchContext(http=http, cache=DiskCache(cache_dir or out_dir / "cache"), options=options)
    bar = _Progress(len(records), f"fetch {provider.name}", progress)
    try:
        with ThreadPoolExecutor(max_workers=options.workers,
                                thread_name_prefix="fetch") as pool:
            pending: set[Future] = set()
            queue = iter(records)
            try:
                while True:  # keep at most 2 x workers in flight: memory stays flat for 1e5 views
                    for view in queue:
                        pending.add(pool.submit(fetch_one, view, provider, ctx, out_dir))
                        if len(pending) >= 2 * options.workers:
                            break
                    if not pending:
                        break
                    finished, pending = wait(pending, timeout=options.flush_seconds,
                                             return_when=FIRST_COMPLETED)
                    for future in finished:
                        table.add(future.result())
                        bar.step()
                    table.maybe_flush(options)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
    finally:
        bar.close()
        http.close()
        table.flush()
    final = table.finish([str(v) for v in views["view_id"]])
    counts = {s: int((final["status"] == s).sum()) for s in STATUSES}
    return FetchResult(counts=counts, attempted=len(records), skipped=len(views) - len(records),
                       requests=http.requests, path=table.path)


def _records(views: pd.DataFrame) -> list[dict]:
    frame = pd.DataFrame(views.drop(columns="geometry", errors="ignore"))
    return frame.to_dict("records")


def read_views(survey_dir: str | Path) -> pd.DataFrame:
    """The survey's ``views.parquet`` (without geometry), or a clear GeoInputError."""
    path = Path(survey_dir) / "views.parquet"
    if not path.is_file():
        raise GeoInputError(f"{path} not found: run `camcensus sample` first "
                            "(or use --provider local --as-is with a manifest)")
    views = pd.read_parquet(path)
    missing = {"view_id", "lon", "lat", "heading", "fov", "pitch"} - set(views.columns)
    if missing:
        raise GeoInputError(f"{path} lacks columns: {', '.join(sorted(missing))}")
    return pd.DataFrame(views.drop(columns="geometry", errors="ignore"))


def fetch_survey(survey_dir: str | Path, *, provider: Provider,
                 options: FetchOptions | None = None, cache_dir: str | Path | None = None,
                 progress: bool = True) -> FetchResult:
    """The fetch stage for a real provider: ``views.parquet`` -> ``images/`` + ``images.parquet``.

    A provider that defines its own views (``local`` with ``as_is``) writes ``views.parquet``
    first through its ``survey_views()`` method.
    """
    survey_dir = Path(survey_dir)
    make_views = getattr(provider, "survey_views", None)
    if make_views is not None:
        views = make_views(survey_dir)
    else:
        views = read_views(survey_dir)
    return fetch_views(views, survey_dir, provider, options=options, cache_dir=cache_dir,
                       progress=progress)
