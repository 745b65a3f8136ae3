"""The mappers' exports of the comparison with OSM load back with real libraries (geopandas /
GDAL), carry the OSM tags and the evidence on every candidate, and never look like an upload."""

import io
import json

import geopandas as gpd
import numpy as np
import pytest

from geo.counting.osm_compare import compare_from_tables
from geo.outputs.osm_exports import RS, read_line_by_line, write_osm_exports
from tests.geo.counting import osm_scene as sc

PROVENANCE = {"tool": "camcensus test", "survey": "s", "model": "m1", "provider": "simulated"}


@pytest.fixture
def exported(tmp_path):
    from PIL import Image

    views, images = sc.views()
    (tmp_path / "images").mkdir()
    for path in images["path"]:
        Image.new("RGB", (64, 64), (120, 130, 140)).save(tmp_path / path)
    osm = sc.osm([("1", 50, 6, "dome"), ("3", 120, -5, None), ("4", 100, 60, None)])
    cams = sc.cameras([(10, 51, 6.5, "dome", 1.0), (12, 160, 7, "directed", 1.0), (13, 30, -8, "dome", 2.0)])
    cams.loc[2, "method"] = "facade"
    table = compare_from_tables(cams, osm, surveyed=sc.surveyed(), views=views, images=images,
                                recall_at=sc.high_recall, p_real=np.array([0.9, 0.85, 0.4]), spacing_m=10.0,
                                crops=[[sc.crop_uri()], [sc.crop_uri(60), sc.crop_uri(90)], []])
    paths = write_osm_exports(table, tmp_path, provenance=PROVENANCE, images=images)
    return tmp_path, table, paths


def test_josm_geojson_has_osm_tags_and_evidence_on_every_candidate(exported):
    root, table, paths = exported
    josm = gpd.read_file(paths["josm_new"])
    assert len(josm) == (table["status"] == "new").sum() == 2
    assert (josm["man_made"] == "surveillance").all() and (josm["surveillance:type"] == "camera").all()
    by_id = josm.set_index("camcensus:camera_id")
    assert by_id.loc["12", "camera:type"] == "fixed" and by_id.loc["13", "camera:type"] == "dome"
    assert by_id.loc["13", "camera:mount"] == "wall"  # placed on a facade
    assert by_id.loc["12", "camera:mount"] is None or not isinstance(by_id.loc["12", "camera:mount"], str)
    for key in ("camcensus:p_real", "camcensus:evidence", "camcensus:image_ids", "camcensus:model",
                "camcensus:note"):
        assert josm[key].notna().all() and (josm[key].astype(str) != "").all(), key
    assert "not an edit" in josm["camcensus:note"].iloc[0]
    crops = by_id.loc["12", "camcensus:crops"].split(";")
    assert len(crops) == 2 and all((root / c).read_bytes()[:2] == b"\xff\xd8" for c in crops)  # JPEG files
    assert by_id.loc["13", "camcensus:crops"] == ""
    # positions: the located cameras'
    new = table[table["status"] == "new"].set_index("camera_id")
    assert np.allclose(by_id.loc["12"].geometry.x, new.loc[12, "lon"], atol=1e-6)


def test_maproulette_files_are_line_by_line_one_task_each_with_the_crop_inline(exported):
    root, table, paths = exported
    raw = paths["maproulette_new"].read_text(encoding="utf-8")
    lines = raw.rstrip("\n").split("\n")
    assert len(lines) == 2 and all(line.startswith(RS) for line in lines)
    tasks = read_line_by_line(paths["maproulette_new"])
    for task in tasks:
        assert task["type"] == "FeatureCollection" and len(task["features"]) == 1
        props = task["features"][0]["properties"]
        assert props["man_made"] == "surveillance" and props["camcensus:p_real"]
        assert "check" in props["instruction"].lower() and "not an edit" in props["instruction"]
    with_crop = [t["features"][0]["properties"] for t in tasks if t["features"][0]["properties"]["crop"]]
    assert len(with_crop) == 1 and with_crop[0]["crop"].startswith("data:image/jpeg;base64,")
    assert f"![best crop]({with_crop[0]['crop']})" in with_crop[0]["instruction"]
    frame = gpd.GeoDataFrame.from_features(tasks[0]["features"], crs=4326)
    assert frame.geometry.iloc[0].geom_type == "Point"
    # each task (one line, the RS stripped) is a GeoJSON document GDAL reads
    for line in lines:
        task = gpd.read_file(io.BytesIO(line.lstrip(RS).encode("utf-8")))
        assert len(task) == 1 and task["man_made"].iloc[0] == "surveillance" and task.crs.to_epsg() == 4326


def test_maproulette_unseen_links_the_node_and_shows_the_expected_view(exported):
    root, table, paths = exported
    tasks = read_line_by_line(paths["maproulette_unseen"])
    assert len(tasks) == (table["status"] == "unseen").sum() == 1
    props = tasks[0]["features"][0]["properties"]
    assert props["@id"] == "node/3" and props["surveillance"] == "public"
    assert float(props["camcensus:p_find"]) > 0.8 and props["camcensus:expected_views"].startswith("v")
    assert props["crop"].startswith("data:image/jpeg;base64,")  # the view that should have shown it
    assert "probably gone, moved or mis-mapped" in props["instruction"]
    assert "fix or remove the node only on evidence you have checked yourself" in props["instruction"]


def test_no_candidates_give_empty_but_valid_files(tmp_path):
    views, images = sc.views()
    osm = sc.osm([("1", 50, 6, None)])
    table = compare_from_tables(sc.cameras([(10, 50, 6, "directed", 1.0)]), osm, surveyed=sc.surveyed(),
                                views=views, images=images, recall_at=sc.high_recall, spacing_m=10.0)
    paths = write_osm_exports(table, tmp_path, images=images)
    assert json.loads(paths["josm_new"].read_text())["features"] == []
    assert paths["maproulette_new"].read_text() == "" and read_line_by_line(paths["maproulette_unseen"]) == []
