"""The mapillary provider against a local Graph API v4 (real shapes, real faults)."""

from __future__ import annotations

import dataclasses
import io
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geo.errors import GeoInputError
from geo.imagery.fetch import COLUMNS, fetch_survey
from geo.imagery.mapillary import MapillaryProvider, choose_image
from tests.geo.imagery.test_fetch_servers import (
    FAST,
    HELSINKI,
    TOKEN,
    FakeMapillary,
    files_containing,
    jpeg_bytes,
    offset,
    server,
    write_views,
)

__all__ = ["server"]


def _pano_jpeg(mark_bearing: float, compass: float) -> bytes:
    """A 360x180 equirectangular JPEG, dark, with one red mark at ``mark_bearing`` on the horizon."""
    pano = np.full((180, 360, 3), 30, np.uint8)
    x = round(((mark_bearing - compass) / 360.0 + 0.5) % 1.0 * 360)
    pano[84:96, [(x + d) % 360 for d in range(-6, 6)]] = (255, 0, 0)
    buffer = io.BytesIO()
    Image.fromarray(pano).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _views(points, headings=(0.0, 180.0)) -> list[dict]:
    rows = []
    for i, (lon, lat) in enumerate(points):
        for side, heading in zip(("left", "right"), headings):
            rows.append({"view_id": f"{i}_{side}", "point_id": i, "lon": lon, "lat": lat,
                         "heading": heading, "side": side, "fov": 90.0})
    return rows


def _provider(mly: FakeMapillary, **kw) -> MapillaryProvider:
    return MapillaryProvider(token=TOKEN, endpoint=mly.endpoint, radius=20, heading_tol=45,
                             size=64, **kw)


def test_happy_path_panorama_crops_and_facing_photos(server, tmp_path):
    mly = FakeMapillary(server)
    p0, p1, p2 = HELSINKI, offset(*HELSINKI, east_m=300), offset(*HELSINKI, east_m=600)
    # p0: a panorama 5 m away (red mark due north) and a farther photo facing north
    mly.add_image("1000", *offset(*p0, east_m=5), compass=200.0, is_pano=True,
                  picture=_pano_jpeg(0.0, 200.0))
    mly.add_image("1001", *offset(*p0, east_m=12), compass=0.0)
    # p1: a photo facing 10 deg (serves heading 0, not 180); an out-of-radius pano
    mly.add_image("2000", *offset(*p1, north_m=8), compass=10.0, captured_at=1_600_000_000_000,
                  picture=jpeg_bytes(96, 64), focal=0.8)
    mly.add_image("2001", *offset(*p1, north_m=60), compass=0.0, is_pano=True)
    survey = tmp_path / "survey"
    write_views(survey, _views([p0, p1, p2]))

    result = fetch_survey(survey, provider=_provider(mly), options=FAST, progress=False)

    table = pd.read_parquet(survey / "images.parquet").set_index("view_id")
    assert list(table.reset_index().columns) == COLUMNS
    assert result.counts == {"ok": 3, "no_imagery": 3, "error": 0}
    assert table.loc["0_left", "source_id"] == "1000" and table.loc["0_right", "source_id"] == "1000"
    assert table.loc["1_left", "source_id"] == "2000"
    assert table.loc[["1_right", "2_left", "2_right"], "status"].eq("no_imagery").all()
    # the panorama crop looking north has the red mark at its centre; looking south, none
    north = np.asarray(Image.open(survey / table.loc["0_left", "path"]).convert("RGB")).astype(int)
    south = np.asarray(Image.open(survey / table.loc["0_right", "path"]).convert("RGB")).astype(int)
    red = (north[..., 0] > 180) & (north[..., 1] < 80)
    assert red.any() and abs(np.nonzero(red)[1].mean() - 31.5) < 2
    assert not ((south[..., 0] > 180) & (south[..., 1] < 80)).any()
    assert (table.loc["0_left", "width"], table.loc["0_left", "height"]) == (64, 64)
    assert table.loc["0_left", "heading"] == 0.0 and table.loc["0_left", "fov"] == 90.0
    # the photo keeps its own size, heading, fov (from camera_parameters) and place
    photo = table.loc["1_left"]
    assert (photo["width"], photo["height"], photo["heading"]) == (96, 64, 10.0)
    assert math.isclose(photo["fov"], math.degrees(2 * math.atan(0.5 / 0.8)), rel_tol=1e-6)
    assert math.isclose(photo["lat"], mly.images["2000"]["lat"], abs_tol=1e-9)
    assert photo["captured_at"].startswith("2020-09-13T")
    # one search per point, one download per image, the token only where it belongs
    searches = [entry for entry in mly.log if entry[0] == "search"]
    assert len(searches) == 3
    assert all(e[3].get("Authorization") == f"OAuth {TOKEN}" for e in searches)
    assert "thumb_2048_url" in searches[0][2]["fields"] and "bbox" in searches[0][2]
    assert Counter(mly.served) == {"1000": 1, "2000": 1}
    assert all("Authorization" not in e[3] for e in mly.log if e[0] == "thumb")
    assert not files_containing(survey, TOKEN)


def test_faults_end_in_the_right_status_and_a_rerun_fixes_them(server, tmp_path):
    mly = FakeMapillary(server)
    kinds = ["rate", "burst", "hang", "truncated", "html", "expired", "nothing"]
    points = [offset(*HELSINKI, east_m=300 * i) for i in range(len(kinds))]
    for i, (kind, point) in enumerate(zip(kinds, points)):
        if kind != "nothing":
            mly.add_image(str(3000 + i), *point, compass=0.0)
    mly.faults["3000"] = [("429", "0")]
    mly.faults["3001"] = ["500", "503", "500"]
    mly.faults["3002"] = ["hang"] * 3
    mly.faults["3003"] = ["truncated"] * 3
    mly.faults["3004"] = ["html"] * 3
    mly.expired.add("3005")  # its search URL answers 403: resolved again by id
    survey = tmp_path / "survey"
    rows = [r for r in _views(points) if r["side"] == "left"]
    write_views(survey, rows)
    options = dataclasses.replace(FAST, timeout=0.2)

    first = fetch_survey(survey, provider=_provider(mly), options=options, progress=False)
    mly.release.set()

    table = pd.read_parquet(survey / "images.parquet")
    status = dict(zip(kinds, table["status"]))
    error = dict(zip(kinds, table["error"].fillna("")))
    assert status == {"rate": "ok", "burst": "error", "hang": "error", "truncated": "error",
                      "html": "error", "expired": "ok", "nothing": "no_imagery"}
    assert "HTTP 50" in error["burst"] and "timeout" in error["hang"]
    assert "truncated" in error["truncated"] and "text/html" in error["html"]
    assert "no Mapillary image within 20 m" in error["nothing"]
    assert first.counts == {"ok": 2, "no_imagery": 1, "error": 4}
    nodes = [e for e in mly.log if e[0] == "node"]
    assert [e[1] for e in nodes] == ["/3005"] and nodes[0][2]["fields"] == "thumb_2048_url"

    mly.release.clear()
    mly.add_image("3999", *points[-1], compass=350.0)
    second = fetch_survey(survey, provider=_provider(mly), options=options, progress=False)
    final = pd.read_parquet(survey / "images.parquet")
    assert second.attempted == 5 and final["status"].eq("ok").all()
    assert len(final) == len(rows) and final["view_id"].is_unique
    assert max(Counter(mly.served).values()) == 1 and len(mly.served) == len(kinds)
    assert not files_containing(survey, TOKEN)


def test_a_failed_search_fails_the_views_of_that_point(server, tmp_path):
    mly = FakeMapillary(server)
    mly.add_image("4000", *HELSINKI, compass=0.0, is_pano=True, picture=_pano_jpeg(0.0, 0.0))
    mly.search_faults = ["500"] * 3
    survey = tmp_path / "survey"
    write_views(survey, _views([HELSINKI]))
    result = fetch_survey(survey, provider=_provider(mly), options=FAST, progress=False)
    assert result.counts["error"] == 2
    assert len([e for e in mly.log if e[0] == "search"]) == 3  # one search, retried, per point
    again = fetch_survey(survey, provider=_provider(mly), options=FAST, progress=False)
    assert again.counts["ok"] == 2 and mly.served == ["4000"]


def test_a_bad_token_is_an_error_without_the_token(server, tmp_path):
    mly = FakeMapillary(server)
    mly.add_image("5000", *HELSINKI, compass=0.0)
    survey = tmp_path / "survey"
    write_views(survey, _views([HELSINKI]))
    wrong = "MLY|999|wrong_token_value"
    provider = MapillaryProvider(token=wrong, endpoint=mly.endpoint, size=64)
    result = fetch_survey(survey, provider=provider, options=FAST, progress=False)
    table = pd.read_parquet(survey / "images.parquet")
    assert result.counts["error"] == 2 and table["error"].str.contains("HTTP 401").all()
    assert not files_containing(survey, wrong)


def test_choose_image_prefers_the_nearest_facing_one():
    lon, lat = HELSINKI

    def image(i, east, compass, pano=False):
        x, y = offset(lon, lat, east_m=east)
        return {"id": i, "computed_geometry": {"type": "Point", "coordinates": [x, y]},
                "computed_compass_angle": compass, "is_pano": pano}

    candidates = [image("far", 15, 0), image("wrong_way", 2, 180), image("near", 8, 30),
                  image("pano_too_far", 25, 0, True)]
    picked = choose_image(candidates, lon=lon, lat=lat, heading=0, radius=20, heading_tol=45)
    assert picked[0]["id"] == "near" and math.isclose(picked[1], 8, rel_tol=1e-3)
    assert choose_image(candidates, lon=lon, lat=lat, heading=90, radius=20,
                        heading_tol=45) is None
    with pytest.raises(GeoInputError, match="token"):
        MapillaryProvider(token=None)
