"""survey.gpkg: the survey's layers and their QGIS styles, read back with pyogrio."""

import json
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.outputs.colours import class_colours
from geo.outputs.geopackage import geopackage_from_survey, views_as_lines


def tiny_survey(root):
    """Points, views, cameras, density cells and truth of a few metres of Helsinki."""
    lon, lat = 24.94 + np.arange(4) * 1e-4, np.full(4, 60.17)
    pd.DataFrame({"point_id": np.arange(4), "lon": lon, "lat": lat, "road_bearing": 90.0}).to_parquet(
        root / "points.parquet")
    pd.DataFrame({"view_id": [f"{i}_left" for i in range(4)], "point_id": np.arange(4), "heading": 0.0,
                  "side": "left"}).to_parquet(root / "views.parquet")
    cameras = gpd.GeoDataFrame({"camera_id": [1, 2], "class_name": ["dome", "directed"], "lon": lon[:2],
                                "lat": lat[:2] + 1e-4}, geometry=gpd.points_from_xy(lon[:2], lat[:2] + 1e-4),
                               crs=4326)
    cameras.to_parquet(root / "cameras.parquet")
    cells = gpd.GeoDataFrame({"area_id": ["a", "b"], "per_road_km": [0.5, 3.0], "est_cameras": [1.0, 4.0]},
                             geometry=[shapely.box(24.939, 60.169, 24.9405, 60.171),
                                       shapely.box(24.9405, 60.169, 24.942, 60.171)], crs=4326)
    cells.to_parquet(root / "density.parquet")
    truth = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"camera_id": 7, "class_name": "dome"},
         "geometry": {"type": "Point", "coordinates": [24.9401, 60.1701]}}]}
    (root / "truth.geojson").write_text(json.dumps(truth))


def test_every_layer_round_trips_with_its_style(tmp_path):
    tiny_survey(tmp_path)
    path = geopackage_from_survey(tmp_path)
    assert path == tmp_path / "survey.gpkg" and not list(tmp_path.glob(".*tmp*"))
    layers = dict(pyogrio.list_layers(path))
    assert {"points", "views", "cameras", "density", "truth", "layer_styles"} <= set(layers)
    assert layers["views"] == "LineString" and layers["density"] == "Polygon"
    cameras = pyogrio.read_dataframe(path, layer="cameras")
    assert sorted(cameras["class_name"]) == ["directed", "dome"] and cameras.crs.to_epsg() == 4326
    styles = pyogrio.read_dataframe(path, layer="layer_styles").set_index("f_table_name")
    assert set(styles.index) == {"points", "views", "cameras", "density", "truth"}
    assert styles["useAsDefault"].all() and (styles["f_geometry_column"] == "geom").all()
    for qml in styles["styleQML"]:
        assert ET.fromstring(qml.split("\n", 1)[1]).tag == "qgis"  # well-formed QML
    renderer = ET.fromstring(styles.loc["cameras", "styleQML"].split("\n", 1)[1]).find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "class_name"
    dome = class_colours(["dome"])["dome"].lstrip("#")
    assert ",".join(str(int(dome[i:i + 2], 16)) for i in (0, 2, 4)) in styles.loc["cameras", "styleQML"]
    assert 'type="graduatedSymbol"' in styles.loc["density", "styleQML"]


def test_osm_comparison_is_a_layer_where_it_ran(tmp_path):
    tiny_survey(tmp_path)
    assert "osm_compare" not in dict(pyogrio.list_layers(geopackage_from_survey(tmp_path)))
    gpd.GeoDataFrame({"status": ["confirmed", "unseen"], "p_find": [0.9, 0.4]},
                     geometry=gpd.points_from_xy([24.94, 24.941], [60.17, 60.17]), crs=4326
                     ).to_parquet(tmp_path / "osm_compare.parquet")
    path = geopackage_from_survey(tmp_path)
    assert sorted(pyogrio.read_dataframe(path, layer="osm_compare")["status"]) == ["confirmed", "unseen"]


def test_views_point_along_their_heading():
    points = gpd.GeoDataFrame({"point_id": [0], "lon": [24.94], "lat": [60.17]},
                              geometry=gpd.points_from_xy([24.94], [60.17]), crs=4326)
    lines = views_as_lines(pd.DataFrame({"view_id": ["e", "n"], "point_id": [0, 0], "heading": [90.0, 0.0]}),
                           points, length_m=10)
    (x0, y0), (x1, y1) = lines.geometry.iloc[0].coords
    assert x1 > x0 and abs(y1 - y0) < 1e-9  # east
    metres = gpd.GeoSeries(lines.geometry, crs=4326).to_crs(32635).length
    assert np.allclose(metres, 10, rtol=0.02)


def test_list_columns_become_semicolon_text(tmp_path):
    tiny_survey(tmp_path)
    cameras = gpd.read_parquet(tmp_path / "cameras.parquet")
    cameras["image_ids"] = [np.array(["3_left", "4_right"]), np.array([], dtype=object)]
    cameras["point_ids"] = [np.array([3, 4]), None]
    cameras.to_parquet(tmp_path / "cameras.parquet")
    back = pyogrio.read_dataframe(geopackage_from_survey(tmp_path), layer="cameras")
    assert back["image_ids"].tolist() == ["3_left;4_right", ""]
    assert back["point_ids"].iloc[0] == "3;4" and pd.isna(back["point_ids"].iloc[1])


def test_coverage_colours_match_one_at_a_time():
    from geo.outputs.colours import coverage_colour, coverage_colours

    shares = np.r_[np.random.default_rng(0).random(500), 0.0, -1.0, np.nan, 1.0, 3.0]
    assert coverage_colours(shares) == [coverage_colour(s) for s in shares]


def test_sqlite_synchronous_is_off_only_while_writing(tmp_path, monkeypatch):
    """The GeoPackage is written with SQLite's synchronous=OFF (speed) and the GDAL setting is
    restored after, also when the write fails."""
    tiny_survey(tmp_path)
    seen = []
    write = pyogrio.write_dataframe

    def spy(*args, **kwargs):
        seen.append(pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS"))
        return write(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", spy)
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "FULL"})
    try:
        path = geopackage_from_survey(tmp_path)
        assert seen and set(seen) == {False} and len(pyogrio.list_layers(path)) >= 5  # pyogrio reads "OFF" as False
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") == "FULL"
        monkeypatch.setattr(pyogrio, "write_dataframe", lambda *a, **k: 1 / 0)
        try:
            geopackage_from_survey(tmp_path)
        except ZeroDivisionError:
            pass
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") == "FULL"
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": None})
