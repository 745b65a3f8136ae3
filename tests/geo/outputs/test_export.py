"""geo.outputs.export: RFC 7946 GeoJSON, GeoParquet, escaped HTML map, PNG, JSON report."""

import json
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops

import pandas as pd
import pytest

from geo.outputs.coverage import street_coverage
from geo.errors import GeoInputError
from geo.outputs.export import geojson_from_frame, map_from_survey, write_exports, write_json
from geo.outputs.thumbnails import best_detections, camera_thumbnails
from tests.geo import map_fixtures as fx

EVIL = '<script>alert("x")</script>&<b>`${alert(2)}`\\'


def _areas():
    cw_square = shapely.Polygon([(24.90, 60.16), (24.90, 60.17), (24.91, 60.17), (24.91, 60.16)])  # clockwise
    assert not cw_square.exterior.is_ccw
    return gpd.GeoDataFrame({
        "area_id": ["a1", "a2"], "name": [EVIL, "Kallio"], "road_km": [1.5, 2.0], "surveyed_km": [1.5, 1.0],
        "n_images": [100, 80], "n_detections": [5, 0], "n_cameras": [3, 0], "est_cameras": [4.2, 0.0],
        "est_lo": [1.0, 0.0], "est_hi": [9.0, 3.1], "per_road_km": [2.8, 0.0], "per_km2": [np.nan, 0.0],
        "per_1000_people": [np.nan, np.nan], "rate_est_cameras": [5.0, 0.0], "truth_cameras": [4.0, 1.0],
        "osm_cameras": [np.nan, np.nan],
    }, geometry=[cw_square, shapely.box(24.91, 60.16, 24.92, 60.17)], crs=4326)


def _cameras():
    return gpd.GeoDataFrame({"camera_id": [0, 1], "lon": [24.905, 24.915], "lat": [60.165, 60.166],
                             "n_views": [2, 1], "class_name": [EVIL, "dome"], "method": ["facade", "size"],
                             "uncertainty_m": [1.2, 5.0]},
                            geometry=gpd.points_from_xy([24.905, 24.915], [60.165, 60.166]), crs=4326)


def test_geojson_is_rfc7946():
    data = geojson_from_frame(_areas().to_crs(32635))
    assert data["type"] == "FeatureCollection" and "crs" not in data
    ring = data["features"][0]["geometry"]["coordinates"][0]
    assert shapely.LinearRing(ring).is_ccw  # right-hand rule: exterior counter-clockwise
    assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
    props = data["features"][0]["properties"]
    assert props["per_km2"] is None and props["name"] == EVIL
    json.dumps(data, allow_nan=False)


def test_write_exports_files_open_and_escape(tmp_path):
    paths = write_exports(tmp_path, _areas(), cameras=_cameras(), report={"total": {"est_cameras": 4.2,
                          "est_lo": 1.0, "est_hi": 12.1}, "parameters": {"area": EVIL}})
    assert set(paths) == {"density.geojson", "density.parquet", "map.html", "density.png", "survey.gpkg"}
    back = gpd.read_file(paths["density.geojson"])
    assert back.crs.to_epsg() == 4326 and back["area_id"].tolist() == ["a1", "a2"]
    parquet = gpd.read_parquet(paths["density.parquet"])
    assert parquet.crs.to_epsg() == 4326 and parquet["est_hi"].tolist() == [9.0, 3.1]
    page = paths["map.html"].read_text(encoding="utf-8")
    # map.html: Leaflet embedded, the data as escaped JSON that the page shows as text only
    assert "L.map(" in page and "<script src" not in page
    assert "<script>alert(" not in page and EVIL not in page and "\\u003cscript\\u003ealert(" in page
    assert "${alert(2)}" in page.replace("\\u0026", "&")  # inside a JSON string, never in a template
    class Parser(HTMLParser):
        titles: list = []

        def handle_starttag(self, tag, attrs):
            if tag == "title":
                self.titles.append(tag)

    parser = Parser()
    parser.feed(page)
    parser.close()
    assert parser.titles
    png = paths["density.png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    pixels = mpimg.imread(paths["density.png"])
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300 and pixels[..., :3].std() > 0.05
    assert not list(tmp_path.glob(".*tmp*"))  # no temp files left


def test_exports_with_no_areas_values_and_no_cameras(tmp_path):
    areas = _areas().assign(est_cameras=np.nan, per_road_km=np.nan)
    paths = write_exports(tmp_path, areas, cameras=None)
    assert paths["map.html"].stat().st_size > 1000 and paths["density.png"].stat().st_size > 1000


def test_write_json_turns_nan_into_null(tmp_path):
    path = write_json({"a": np.float64("nan"), "b": np.int64(3), "c": [np.inf, 1.5]}, tmp_path / "r.json")
    assert json.loads(path.read_text()) == {"a": None, "b": 3, "c": [None, 1.5]}


def test_street_coverage_is_the_share_seen():
    streets = fx.streets()
    points = pd.DataFrame({"point_id": [0, 1, 2, 3], "street_id": [0, 0, 1, 1]})
    images = pd.DataFrame({"image_id": list("abcdefgh"), "point_id": [0, 0, 1, 1, 2, 2, 3, 3],
                           "status": ["ok"] * 6 + ["error", "no_imagery"]})
    share = street_coverage(streets, points, images, metres_per_point=100.0)
    lengths = streets["length_m"].to_numpy()
    assert share[0] == pytest.approx(min(1.0, 200.0 / lengths[0]))
    assert share[1] == pytest.approx(100.0 / lengths[1])  # point 3 has no image: it saw nothing
    assert share[2] == 0.0
    assert street_coverage(streets, None, None).tolist() == [0.0, 0.0, 0.0]


def test_thumbnails_crop_the_best_detection(tmp_path):
    points, images, detections = fx.points_and_images(tmp_path)
    cameras = fx.cameras()
    best = best_detections(cameras, detections)
    assert best.set_index("camera_id")["image_id"].to_dict() == {0: "img0", 1: "img1"}
    thumbs = camera_thumbnails(cameras, detections, images, root=tmp_path, size=64)
    assert thumbs[1] is None  # its image is missing: no thumbnail, no error
    import base64
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(base64.b64decode(thumbs[0].split(",", 1)[1])))
    assert picture.size == (64, 64)
    pixels = np.asarray(picture.convert("L"))
    assert pixels[32, 32] < 80 and pixels[2, 2] > 150  # the dark "camera" in the middle, wall around


def test_map_from_survey_draws_again_with_a_basemap(tmp_path):
    with pytest.raises(GeoInputError, match="run `camcensus estimate` first"):
        map_from_survey(tmp_path)
    write_exports(tmp_path, _areas(), report={"total": {"est_cameras": 7.0, "est_lo": 2.0, "est_hi": 20.0},
                                               "parameters": {"area": "Kallio"}})
    (tmp_path / "report.json").write_text(json.dumps({"total": {"est_cameras": 7.0, "est_lo": 2.0,
                                                                "est_hi": 20.0}, "parameters": {"area": "Kallio"}}))
    path = map_from_survey(tmp_path, basemap="osm")
    page = path.read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" in page and "Kallio – 7 cameras (95% 2–20)" in page


def test_coverage_from_surveyed_pieces():
    from geo.outputs.coverage import coverage_from_pieces

    streets = fx.streets()
    first = streets.geometry.iloc[0]
    half = shapely.ops.substring(first, 0, first.length / 2)
    pieces = gpd.GeoDataFrame({"street_id": [0, 2, 2]}, geometry=[half, streets.geometry.iloc[2],
                                                                 streets.geometry.iloc[2]], crs=streets.crs)
    share = coverage_from_pieces(streets, pieces)
    assert share[0] == pytest.approx(0.5) and share[1] == 0.0 and share[2] == 1.0  # clipped at the whole street
    assert coverage_from_pieces(streets, None).tolist() == [0.0, 0.0, 0.0]


def test_the_map_states_the_estimand(tmp_path):
    report = {"total": {"est_cameras": 7.0, "est_lo": 2.0, "est_hi": 20.0},
              "estimand": "cameras within 23.5 m (directed), 18.0 m (dome) of the surveyed streets; nothing outside"}
    page = write_exports(tmp_path, _areas(), report=report)["map.html"].read_text(encoding="utf-8")
    assert "cameras within 23.5 m (directed), 18.0 m (dome) of the surveyed streets" in page
    assert "nothing outside" not in page  # the subtitle keeps the first clause


def test_the_geopackage_is_written_beside_the_figures_and_again_if_that_fails(tmp_path, monkeypatch):
    """survey.gpkg is written in a forked process on Linux (GDAL holds the GIL); if that process
    fails, write_exports writes it again itself."""
    import os
    import sys

    import pyogrio

    from geo.outputs import export

    parent, pids = os.getpid(), []
    real = export.geopackage_from_survey

    def flaky(*args, **kwargs):
        pids.append(os.getpid())  # seen only by the process that appends
        if os.getpid() != parent:
            (tmp_path / "child-ran").touch()
            raise RuntimeError("the background writer failed")
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "geopackage_from_survey", flaky)
    paths = write_exports(tmp_path, _areas(), cameras=_cameras())
    assert {"cameras", "density"} <= {name for name, _ in pyogrio.list_layers(paths["survey.gpkg"])}
    assert pids == [parent]  # here only once: the retry (the forked attempt ran elsewhere)
    import threading

    if sys.platform.startswith("linux") and threading.active_count() == 1:
        assert (tmp_path / "child-ran").exists()  # it did run in another process
        monkeypatch.setattr(export, "geopackage_from_survey", real)
        (tmp_path / "survey.gpkg").unlink()
        assert export.geopackage_in_background(tmp_path, areas=_areas(), cameras=_cameras())() == \
            tmp_path / "survey.gpkg" and (tmp_path / "survey.gpkg").exists()
