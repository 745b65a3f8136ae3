"""The gsv provider against a local Street View Static API (real shapes, real faults)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter

import pandas as pd
import pytest
from PIL import Image

from geo.errors import GeoInputError
from geo.imagery.fetch import COLUMNS, fetch_survey
from geo.imagery.gsv import StreetViewProvider
from tests.geo.imagery.test_fetch_servers import (
    FAST,
    HELSINKI,
    KEY,
    SECRET,
    FakeStreetView,
    files_containing,
    offset,
    server,
    write_views,
)

__all__ = ["server"]


def _views(points: list[tuple[float, float]], heading: float = 0.0) -> list[dict]:
    rows = []
    for i, (lon, lat) in enumerate(points):
        for side, turn in (("left", -90.0), ("right", 90.0)):
            rows.append({"view_id": f"{i}_{side}", "point_id": i, "lon": lon, "lat": lat,
                         "heading": (heading + turn) % 360, "side": side})
    return rows


def _provider(gsv: FakeStreetView, **kw) -> StreetViewProvider:
    return StreetViewProvider(key=KEY, endpoint=gsv.endpoint, size=64, radius=30, **kw)


def test_happy_path_writes_images_and_contract_rows(server, tmp_path):
    gsv = FakeStreetView(server)
    p0, p1, p2 = HELSINKI, offset(*HELSINKI, east_m=15), offset(*HELSINKI, north_m=500)
    gsv.add_pano("PANO_0", *offset(*p0, north_m=3), date="2019-08")  # p0 and p1 share it
    survey = tmp_path / "survey"
    write_views(survey, _views([p0, p1, p2]))

    result = fetch_survey(survey, provider=_provider(gsv), options=FAST, progress=False)

    table = pd.read_parquet(survey / "images.parquet")
    assert list(table.columns) == COLUMNS
    assert table["view_id"].tolist() == ["0_left", "0_right", "1_left", "1_right",
                                         "2_left", "2_right"]
    assert result.counts == {"ok": 4, "no_imagery": 2, "error": 0}
    ok = table[table["status"] == "ok"]
    assert set(ok["source_id"]) == {"PANO_0"} and set(ok["captured_at"]) == {"2019-08"}
    assert (ok["width"] == 64).all() and (ok["height"] == 64).all()
    assert ok["lat"].round(6).eq(round(gsv.panos["PANO_0"]["lat"], 6)).all()  # the pano's place
    for path in ok["path"]:
        assert Image.open(survey / path).size == (64, 64)
        assert (survey / path).stat().st_nlink == 3  # cache file + the two views that share it
    assert sorted(ok["heading"]) == [90.0, 90.0, 270.0, 270.0]
    missing = table[table["status"] == "no_imagery"]
    assert set(missing["view_id"]) == {"2_left", "2_right"}
    assert missing["path"].isna().all() and missing["error"].str.contains("ZERO_RESULTS").all()
    # the same panorama and heading is downloaded once: two images for four ok views
    assert len(gsv.image_requests()) == 2 and len(set(gsv.served)) == 2
    assert all(r["source"] == "outdoor" and r["size"] == "64x64" for r in gsv.image_requests())
    assert not files_containing(survey, KEY)
    assert not (survey / "images.parquet.parts").exists()

    again = fetch_survey(survey, provider=_provider(gsv), options=FAST, progress=False)
    assert again.skipped == 4 and again.attempted == 2 and len(gsv.image_requests()) == 2


def test_faults_end_in_the_right_status_and_a_rerun_fixes_them(server, tmp_path):
    gsv = FakeStreetView(server)
    kinds = ["rate", "burst", "hang", "truncated", "html", "empty", "nothing"]
    points = [offset(*HELSINKI, east_m=300 * i) for i in range(len(kinds))]
    for kind, point in zip(kinds, points):
        if kind != "nothing":
            gsv.add_pano(f"PANO_{kind}", *point)
    gsv.faults["PANO_rate"] = [("429", "0"), ("429", "0")]  # two 429s, then fine (3 tries)
    gsv.faults["PANO_burst"] = ["500", "500", "503"]  # outlasts 3 tries
    gsv.faults["PANO_hang"] = ["hang"] * 3
    gsv.faults["PANO_truncated"] = ["truncated"] * 3
    gsv.faults["PANO_html"] = ["html"] * 3
    gsv.faults["PANO_empty"] = ["empty"] * 3
    survey = tmp_path / "survey"
    rows = [r for r in _views(points) if r["view_id"].endswith("left")]  # one view per point
    write_views(survey, rows)
    options = dataclasses.replace(FAST, timeout=0.2)

    first = fetch_survey(survey, provider=_provider(gsv), options=options, progress=False)
    gsv.release.set()  # let the hung handlers finish

    table = pd.read_parquet(survey / "images.parquet").set_index("view_id")
    status = dict(zip(kinds, table["status"]))
    error = dict(zip(kinds, table["error"].fillna("")))
    assert status == {"rate": "ok", "burst": "error", "hang": "error", "truncated": "error",
                      "html": "error", "empty": "error", "nothing": "no_imagery"}
    assert "HTTP 50" in error["burst"] and "gave up after 3 attempts" in error["burst"]
    assert "timeout" in error["hang"]
    assert "truncated" in error["truncated"]
    assert "text/html" in error["html"]
    assert "empty" in error["empty"]
    assert error["nothing"] == "Street View metadata status ZERO_RESULTS"
    assert first.counts == {"ok": 1, "no_imagery": 1, "error": 5}
    assert not any(p.name.startswith("4_") or p.name.startswith("1_")
                   for p in (survey / "images").iterdir())  # bad bodies never saved
    assert all(KEY not in e for e in error.values())

    # the faults are over and the empty point got a panorama: a rerun fixes everything
    gsv.release.clear()
    gsv.add_pano("PANO_nothing", *points[-1])
    second = fetch_survey(survey, provider=_provider(gsv), options=options, progress=False)
    assert second.attempted == 6 and second.skipped == 1
    final = pd.read_parquet(survey / "images.parquet")
    assert final["status"].eq("ok").all() and final["view_id"].is_unique
    assert len(final) == len(rows)
    served = Counter(gsv.served)
    assert len(served) == len(kinds) and max(served.values()) == 1  # no image served twice
    assert not files_containing(survey, KEY)


def test_retry_after_is_honoured(server, tmp_path):
    gsv = FakeStreetView(server)
    gsv.add_pano("PANO_0", *HELSINKI)
    gsv.faults["PANO_0"] = [("429", "1")]
    survey = tmp_path / "survey"
    write_views(survey, _views([HELSINKI])[:1])
    start = time.monotonic()
    result = fetch_survey(survey, provider=_provider(gsv), options=FAST, progress=False)
    assert result.counts["ok"] == 1
    assert time.monotonic() - start >= 0.95  # waited the server's second, not the 1 ms backoff


def test_signed_requests_verify_and_never_leak_the_secret(server, tmp_path):
    gsv = FakeStreetView(server, secret=SECRET)
    gsv.add_pano("PANO_0", *HELSINKI)
    survey = tmp_path / "survey"
    write_views(survey, _views([HELSINKI]))
    result = fetch_survey(survey, provider=_provider(gsv, secret=SECRET), options=FAST,
                          progress=False)
    assert result.counts["ok"] == 2  # the server checks every signature
    assert all("signature" in args for _, args in gsv.log)
    for secret in (KEY, SECRET):
        assert not files_containing(survey, secret)


def test_a_wrong_key_is_an_error_without_the_key(server, tmp_path):
    gsv = FakeStreetView(server)
    gsv.add_pano("PANO_0", *HELSINKI)
    survey = tmp_path / "survey"
    write_views(survey, _views([HELSINKI]))
    wrong = "WRONG_key_9876543210_gsv"
    provider = StreetViewProvider(key=wrong, endpoint=gsv.endpoint, size=64)
    result = fetch_survey(survey, provider=provider, options=FAST, progress=False)
    table = pd.read_parquet(survey / "images.parquet")
    assert result.counts["error"] == 2
    assert table["error"].str.contains("REQUEST_DENIED").all()
    assert not files_containing(survey, wrong)


def test_missing_key_and_bad_size_are_input_errors():
    with pytest.raises(GeoInputError, match="API key"):
        StreetViewProvider(key=None)
    with pytest.raises(GeoInputError, match="size"):
        StreetViewProvider(key="k", size=2048)


def test_views_naming_a_panorama_skip_the_location_search(server, tmp_path):
    gsv = FakeStreetView(server)
    gsv.add_pano("PANO_x", *HELSINKI)
    survey = tmp_path / "survey"
    write_views(survey, [{"view_id": "PANO_x_90", "lon": float("nan"), "lat": float("nan"),
                          "heading": 90.0, "pano_id": "PANO_x"},
                         {"view_id": "GONE_90", "lon": float("nan"), "lat": float("nan"),
                          "heading": 90.0, "pano_id": "GONE"}])
    result = fetch_survey(survey, provider=_provider(gsv), options=FAST, progress=False)
    assert result.counts == {"ok": 1, "no_imagery": 1, "error": 0}
    metadata = [args for kind, args in gsv.log if kind == "metadata"]
    assert all("pano" in a and "location" not in a for a in metadata)
