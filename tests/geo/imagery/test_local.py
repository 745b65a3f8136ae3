"""The local provider: a folder of the user's images with a manifest or EXIF."""

from __future__ import annotations

import io
import math

import geopandas as gpd
import pandas as pd
import pytest
from PIL import Image

from geo.errors import GeoInputError
from geo.imagery.fetch import COLUMNS, FetchOptions, fetch_survey
from geo.imagery.local import LocalProvider, manifest_from_folder
from tests.geo.imagery.test_fetch_servers import HELSINKI, jpeg_bytes, offset, write_views

OPTIONS = FetchOptions(workers=2, rate=0, retries=0, timeout=1, size=64, flush_every=2)


def _exif_jpeg(path, lon, lat, heading=None, focal35=None, taken=None):
    exif = Image.Exif()
    gps = {1: "N", 2: _dms(lat), 3: "E", 4: _dms(lon)}
    if heading is not None:
        gps.update({16: "T", 17: heading})
    exif[0x8825] = gps
    sub = {}
    if focal35:
        sub[41989] = focal35
    if taken:
        sub[36867] = taken
    if sub:
        exif[0x8769] = sub
    Image.new("RGB", (40, 30), (90, 90, 90)).save(path, format="JPEG", exif=exif)


def _dms(value):
    d = int(value)
    m = int((value - d) * 60)
    return (float(d), float(m), (value - d - m / 60) * 3600)


@pytest.fixture
def folder(tmp_path):
    """Four photos: north- and east-facing at the origin, one 100 m away, one broken."""
    images = tmp_path / "photos"
    (images / "sub").mkdir(parents=True)
    (images / "north.jpg").write_bytes(jpeg_bytes(40, 30))
    (images / "east.jpeg").write_bytes(jpeg_bytes(48, 32))
    (images / "sub" / "far.jpg").write_bytes(jpeg_bytes(40, 30))
    (images / "broken.jpg").write_bytes(jpeg_bytes(40, 30)[:200])
    here = offset(*HELSINKI, east_m=3)
    far = offset(*HELSINKI, north_m=100)
    pd.DataFrame({"path": ["north.jpg", "east.jpeg", "sub/far.jpg", "broken.jpg"],
                  "lon": [here[0], here[0], far[0], far[0]],
                  "lat": [here[1], here[1], far[1], far[1]],
                  "heading": [5.0, 92.0, 0.0, 270.0], "fov": [70.0, None, None, None],
                  "captured_at": ["2024-01-02", None, None, None]}
                 ).to_csv(tmp_path / "manifest.csv", index=False)
    return images


def test_manifest_matches_nearest_image_facing_the_view(folder, tmp_path):
    survey = tmp_path / "survey"
    far = offset(*HELSINKI, north_m=100)
    write_views(survey, [
        {"view_id": "0_north", "lon": HELSINKI[0], "lat": HELSINKI[1], "heading": 0.0},
        {"view_id": "0_east", "lon": HELSINKI[0], "lat": HELSINKI[1], "heading": 80.0},
        {"view_id": "0_south", "lon": HELSINKI[0], "lat": HELSINKI[1], "heading": 180.0},
        {"view_id": "1_north", "lon": far[0], "lat": far[1], "heading": 20.0},
        {"view_id": "1_west", "lon": far[0], "lat": far[1], "heading": 260.0},
        {"view_id": "2_north", "lon": far[0], "lat": far[1] + 0.01, "heading": 0.0}])
    provider = LocalProvider(images=folder, manifest=tmp_path / "manifest.csv", radius=20,
                             heading_tol=30)
    result = fetch_survey(survey, provider=provider, options=OPTIONS, progress=False)

    table = pd.read_parquet(survey / "images.parquet").set_index("view_id")
    assert list(table.reset_index().columns) == COLUMNS
    assert dict(table["source_id"].dropna()) == {"0_north": "north.jpg", "0_east": "east.jpeg",
                                                 "1_north": "far.jpg"}
    assert dict(table["status"]) == {"0_north": "ok", "0_east": "ok", "0_south": "no_imagery",
                                     "1_north": "ok", "1_west": "error", "2_north": "no_imagery"}
    assert result.counts == {"ok": 3, "no_imagery": 2, "error": 1}
    assert "truncated" in table.loc["1_west", "error"]
    east = table.loc["0_east"]
    assert (east["path"], east["width"], east["height"]) == ("images/0_east.jpg", 48, 32)
    assert east["heading"] == 92.0 and math.isclose(east["lon"], offset(*HELSINKI, east_m=3)[0])
    assert table.loc["0_north", "fov"] == 70.0
    assert table.loc["0_north", "captured_at"] == "2024-01-02"
    assert (survey / "images" / "0_east.jpg").read_bytes() == (folder / "east.jpeg").read_bytes()
    assert not (survey / "images" / "1_west.jpg").exists()


def test_exif_gives_position_heading_fov_and_time(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    _exif_jpeg(folder / "a.jpg", 24.94, 60.17, heading=123.5, focal35=28,
               taken="2023:05:01 12:34:56")
    _exif_jpeg(folder / "b.jpg", 24.95, 60.18)
    (folder / "no_gps.jpg").write_bytes(jpeg_bytes(8, 8))
    table = manifest_from_folder(folder).set_index(
        pd.Index(["a", "b"], name="name"))
    assert math.isclose(table.loc["a", "lat"], 60.17, abs_tol=1e-6)
    assert math.isclose(table.loc["a", "lon"], 24.94, abs_tol=1e-6)
    assert table.loc["a", "heading"] == 123.5
    assert math.isclose(table.loc["a", "fov"], math.degrees(2 * math.atan(36 / 56)))
    assert table.loc["a", "captured_at"] == "2023-05-01T12:34:56"
    assert math.isnan(table.loc["b", "heading"])


def test_as_is_turns_the_manifest_into_views(folder, tmp_path):
    survey = tmp_path / "survey"
    provider = LocalProvider(images=folder, manifest=tmp_path / "manifest.csv", as_is=True)
    result = fetch_survey(survey, provider=provider, options=OPTIONS, progress=False)
    views = gpd.read_parquet(survey / "views.parquet")
    assert views["view_id"].tolist() == ["north", "east", "far", "broken"]
    assert views.crs.to_epsg() == 4326 and views["heading"].tolist() == [5.0, 92.0, 0.0, 270.0]
    assert result.counts == {"ok": 3, "no_imagery": 0, "error": 1}
    again = fetch_survey(survey, provider=LocalProvider(
        images=folder, manifest=tmp_path / "manifest.csv", as_is=True), options=OPTIONS,
        progress=False)
    assert again.skipped == 3 and again.attempted == 1


def test_bad_input_is_one_clear_line(tmp_path, folder):
    with pytest.raises(GeoInputError, match="images folder not found"):
        LocalProvider(images=tmp_path / "nope")
    with pytest.raises(GeoInputError, match="manifest not found"):
        LocalProvider(images=folder, manifest=tmp_path / "nope.csv")
    pd.DataFrame({"path": ["a.jpg"], "lon": [1.0]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(GeoInputError, match="lacks columns: heading, lat"):
        LocalProvider(images=folder, manifest=tmp_path / "bad.csv")
    with pytest.raises(GeoInputError, match="no image with a position"):
        LocalProvider(images=folder)  # no EXIF GPS in these
    survey = tmp_path / "survey"
    write_views(survey, [{"view_id": "x", "lon": 0.0, "lat": 0.0, "heading": 0.0}])
    provider = LocalProvider(images=folder, manifest=tmp_path / "manifest.csv", as_is=True)
    with pytest.raises(GeoInputError, match="other views"):
        fetch_survey(survey, provider=provider, options=OPTIONS, progress=False)


def test_png_keeps_its_format(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10)).save(buffer, format="PNG")
    (folder / "p.png").write_bytes(buffer.getvalue())
    pd.DataFrame({"path": ["p.png"], "lon": [24.9], "lat": [60.1], "heading": [0.0]}).to_parquet(
        tmp_path / "m.parquet")
    survey = tmp_path / "survey"
    provider = LocalProvider(images=folder, manifest=tmp_path / "m.parquet", as_is=True)
    fetch_survey(survey, provider=provider, options=OPTIONS, progress=False)
    row = pd.read_parquet(survey / "images.parquet").iloc[0]
    assert row["path"] == "images/p.png" and (row["width"], row["height"]) == (20, 10)
