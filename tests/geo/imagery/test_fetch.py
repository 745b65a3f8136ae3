"""The shared fetch machinery: image validation, secret scrubbing, Retry-After, rate limit,
cache, the resumable images table, and resuming after ``kill -9``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from pathlib import Path

import pandas as pd
import pytest

from geo.errors import GeoInputError
from geo.imagery.fetch import (
    PARTS_DIR,
    DiskCache,
    FetchOptions,
    ImageTable,
    InvalidImage,
    RateLimiter,
    fetch_survey,
    retry_after_seconds,
    scrub,
    validate_image,
)
from geo.imagery.gsv import StreetViewProvider
from tests.geo.imagery.test_fetch_servers import (
    FAST,
    HELSINKI,
    KEY,
    FakeStreetView,
    files_containing,
    jpeg_bytes,
    offset,
    server,
    write_views,
)

__all__ = ["server"]
ROOT = Path(__file__).resolve().parents[3]


def test_validate_image_accepts_whole_images_only():
    good = jpeg_bytes(20, 10)
    assert validate_image(good, content_type="image/jpeg") == (20, 10)
    cases = {b"": "empty", good[: len(good) // 2]: "truncated", good[:-2]: "truncated",
             b"<!DOCTYPE html><html></html>": "text", b"\x00" * 100: "undecodable"}
    for body, reason in cases.items():
        with pytest.raises(InvalidImage, match=reason):
            validate_image(body)
    with pytest.raises(InvalidImage, match="text/html"):
        validate_image(good, content_type="text/html; charset=UTF-8")


def test_scrub_removes_keys_tokens_and_signatures():
    text = ("HTTP 500 from https://x/streetview?pano=P&key=AIzaSECRET&signature=abc= "
            "Authorization: OAuth MLY|1|tok access_token=MLY|1|tok plus a bare s3cr3t")
    clean = scrub(text, ["s3cr3t"])
    for secret in ("AIzaSECRET", "abc=", "MLY|1|tok", "s3cr3t"):
        assert secret not in clean
    assert "pano=P" in clean and "key=***" in clean


def test_retry_after_parses_seconds_and_dates():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert 8 <= retry_after_seconds(formatdate(time.time() + 10, usegmt=True)) <= 10.5
    assert retry_after_seconds(formatdate(time.time() - 100, usegmt=True)) == 0.0


def test_rate_limit_holds_across_threads():
    limiter = RateLimiter(50.0)
    stamps = []

    def call():
        for _ in range(5):
            limiter.wait()
            stamps.append(time.monotonic())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert stamps[-1] - stamps[0] >= 19 / 50 - 0.01  # 20 calls at 50/s span >= 0.38 s


def test_cache_fetches_each_key_once_with_many_threads(tmp_path):
    cache = DiskCache(tmp_path / "cache")
    calls = []

    def fetch():
        calls.append(1)
        time.sleep(0.05)
        return b"bytes"

    key = cache.key("gsv", "PANO", {"heading": "90"})
    threads = [threading.Thread(target=cache.get_or_fetch, args=(key, fetch)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and cache.get(key) == b"bytes"
    assert cache.key("gsv", "PANO", {"heading": "90"}) == key != cache.key("gsv", "PANO", {})
    assert [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()] == [key]


def test_image_table_keeps_the_last_row_per_view(tmp_path):
    table = ImageTable(tmp_path)
    table.add({"view_id": "a", "status": "error", "error": "HTTP 500"})
    table.add({"view_id": "b", "status": "no_imagery"})
    table.flush()
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(jpeg_bytes(4, 4))
    table.add({"view_id": "a", "status": "ok", "path": "images/a.jpg"})
    table.flush()
    (tmp_path / PARTS_DIR / ".part-000002.parquet.tmp-1").write_bytes(b"half a file")
    assert sorted(p.name for p in (tmp_path / PARTS_DIR).glob("part-*")) == [
        "part-000000.parquet", "part-000001.parquet"]
    again = ImageTable(tmp_path)  # as a rerun sees it
    assert again.done() == {"a"}
    final = again.finish(["b", "a"])
    assert final["view_id"].tolist() == ["b", "a"] and final["status"].tolist() == [
        "no_imagery", "ok"]
    assert not list((tmp_path / PARTS_DIR).glob("part-*"))
    assert pd.read_parquet(tmp_path / "images.parquet")["view_id"].tolist() == ["b", "a"]


def test_options_are_checked():
    with pytest.raises(GeoInputError, match="--workers"):
        FetchOptions(workers=0)
    with pytest.raises(GeoInputError, match="--rate"):
        FetchOptions(rate=-1)


def test_missing_views_is_one_clear_error(tmp_path):
    provider = StreetViewProvider(key=KEY, endpoint="http://127.0.0.1:9")
    with pytest.raises(GeoInputError, match="camcensus sample"):
        fetch_survey(tmp_path, provider=provider, options=FAST, progress=False)


_CHILD = """
import sys
from geo.imagery.fetch import FetchOptions, fetch_survey
from geo.imagery.gsv import StreetViewProvider
import os
options = FetchOptions(workers=2, rate=0, retries=0, timeout=5, size=32, flush_every=1)
provider = StreetViewProvider(key=os.environ["GOOGLE_MAPS_API_KEY"], endpoint=sys.argv[2], size=32)
fetch_survey(sys.argv[1], provider=provider, options=options, progress=True)
"""


def test_kill_9_loses_nothing_already_saved(server, tmp_path):
    gsv = FakeStreetView(server)
    gsv.delay = 0.3  # the child is killed well before its last image
    points = [offset(*HELSINKI, east_m=200 * i) for i in range(16)]
    for i, point in enumerate(points):
        gsv.add_pano(f"PANO_{i:02d}", *point)
    survey = tmp_path / "survey"
    write_views(survey, [{"view_id": f"{i}_left", "lon": lon, "lat": lat, "heading": 0.0}
                         for i, (lon, lat) in enumerate(points)])
    env = {**os.environ, "GOOGLE_MAPS_API_KEY": KEY, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(survey), gsv.endpoint],
                             env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = survey / PARTS_DIR
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(parts.glob("part-*.parquet"))) < 3:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert not (survey / "images.parquet").exists()  # killed before the merge
    saved = ImageTable(survey).read()
    assert len(saved) >= 3 and saved["status"].eq("ok").all()
    saved_panos = {f"PANO_{int(v.split('_')[0]):02d}" for v in saved["view_id"]}
    served_before = len(gsv.served)
    gsv.delay = 0.0

    result = fetch_survey(survey, provider=StreetViewProvider(key=KEY, endpoint=gsv.endpoint,
                                                              size=32),
                          options=FAST, progress=False)

    final = pd.read_parquet(survey / "images.parquet")
    assert len(final) == 16 and final["view_id"].is_unique and final["status"].eq("ok").all()
    assert result.skipped >= len(saved)
    rerun_panos = [s[0] for s in gsv.served[served_before:]]
    assert not saved_panos & set(rerun_panos)  # nothing saved was requested again
    assert len(gsv.served) <= 16 + 2  # at most the two in flight at the kill were repeated
    assert KEY.encode() not in out + err
    assert not files_containing(survey, KEY)


def test_validate_image_after_ultralytics_patched_pillow():
    # ultralytics (imported by the detector in the same process) patches PIL's Image.open to try
    # pi_heif on unknown bodies (a declared dependency); validation must still answer InvalidImage.
    import detector  # noqa: F401
    import ultralytics  # noqa: F401
    from geo.imagery.fetch import InvalidImage, validate_image

    with pytest.raises(InvalidImage, match="undecodable"):
        validate_image(b"\x00\x01\x02 definitely not an image" * 20, content_type="image/jpeg")
