"""`camcensus compare-osm` and the survey's compare step, end to end on a small simulated demo
survey whose OSM layer disagrees with the street (`--sim-cameras osm:drop=...`), and bad input."""

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from geo.counting.osm_compare import STATUSES
from geo.outputs.osm_exports import read_line_by_line
from scripts.cli import main

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--area", "demo", "--method", "random", "--n", "24", "--seed", "5", "--size", "640", "--workers", "2",
         "--sim-cameras", "osm:drop=0.3,add=3,move=4"]


@pytest.fixture(scope="module")
def surveyed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("osm") / "s"
    assert main(["survey", "--out", str(out), *SMALL]) == 0
    return out


@pytest.mark.slow
def test_survey_ends_with_the_comparison(surveyed, capsys):
    table = gpd.read_parquet(surveyed / "osm_compare.parquet")
    assert set(table["status"]) <= set(STATUSES) and {"unseen", "outside"} <= set(table["status"])
    osm_rows = table[table["osm_id"].notna()].drop_duplicates("osm_id")
    report = json.loads((surveyed / "report.json").read_text())
    summary = report["osm_compare"]
    assert len(osm_rows) == summary["n_osm_cameras"] > 100  # the demo's mapped cameras
    assert sum(summary["counts"].values()) == len(table)
    assert "total" in report and "calibration" in report  # the estimate's report is kept
    assert summary["p_find_calibration"].startswith("the estimate's")  # p_find follows the estimate's recall
    unseen = table[table["status"] == "unseen"]
    assert unseen["p_find"].between(0, 1).all() and table.loc[table["status"] == "outside", "p_find"].isna().all()
    located = table[table["camera_id"].notna()]
    assert located["p_real"].between(0, 1).all()
    assert len(located) == len(gpd.read_parquet(surveyed / "cameras.parquet"))
    # the geojson and the exports load back; every candidate carries its evidence
    assert len(gpd.read_file(surveyed / "osm_compare.geojson")) == len(table)
    josm = gpd.read_file(surveyed / "osm_new_josm.geojson") if (table["status"] == "new").any() else None
    if josm is not None:
        assert (josm["man_made"] == "surveillance").all() and josm["camcensus:evidence"].str.len().gt(0).all()
    tasks = read_line_by_line(surveyed / "osm_unseen_maproulette.geojson")
    assert len(tasks) == len(unseen) and all(t["features"][0]["properties"]["@id"].startswith("node/") for t in tasks)
    import re

    block = re.search(r'id="map-data">(.*?)</script>', (surveyed / "map.html").read_text(), re.S).group(1)
    layers = json.loads(block)["osm"]
    assert {s: len(layers[s]["features"]) for s in STATUSES} == summary["counts"]
    # the truth says what the simulator changed: removed nodes, unmapped and moved cameras
    truth = json.loads((surveyed / "truth.geojson").read_text())
    assert truth["osm_drift"] == {"drop": 0.3, "add": 3.0, "move": 4.0, "seed": None}
    assert len(truth["osm_removed"]) > 0
    status = pd.Series([f["properties"]["osm_status"] for f in truth["features"]])
    assert set(status) == {"kept", "unmapped"}
    removed = {f["properties"]["osm_id"] for f in truth["osm_removed"]}
    kept = {f["properties"]["osm_id"] for f in truth["features"] if f["properties"]["osm_id"]}
    assert not removed & kept and len(removed | kept) == summary["n_osm_cameras"]


@pytest.mark.slow
def test_compare_osm_command_prints_counts_and_rewrites_the_outputs(surveyed, capsys):
    (surveyed / "osm_compare.parquet").unlink()
    assert main(["compare-osm", str(surveyed), "--strip", "15", "--no-crops"]) == 0
    out = capsys.readouterr().out
    assert "OSM cameras" in out and "confirmed" in out and "unseen" in out and "wrote" in out
    table = gpd.read_parquet(surveyed / "osm_compare.parquet")
    assert table["crops"].map(len).eq(0).all()
    assert json.loads((surveyed / "report.json").read_text())["osm_compare"]["strip_m"] == {"directed": 15.0,
                                                                                            "dome": 15.0}


def test_a_survey_without_osm_cameras_exits_2_with_one_line(tmp_path, capsys):
    from tests.geo.sim.test_features import write_block_osm

    area = write_block_osm(tmp_path / "street.osm", buildings=[])
    survey = tmp_path / "s"
    survey.mkdir()
    (survey / "sample.json").write_text(json.dumps({"area": str(area)}))
    for name in ("network.graphml", "points.parquet", "cameras.parquet"):
        (survey / name).write_text("")
    assert main(["compare-osm", str(survey)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no OpenStreetMap cameras" in err and "Traceback" not in err
    assert not any(survey.glob("osm_*"))


def test_compare_osm_on_a_missing_directory_exits_2(tmp_path, capsys):
    assert main(["compare-osm", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err
