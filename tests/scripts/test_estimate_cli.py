"""`camcensus locate` and `camcensus estimate` in-process: outputs, model-card figures, bad input."""

import json

import pytest

from detector.card import ModelCard, write_card
from scripts.cli import main
from tests.geo.sim.scene import make_survey


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "survey"
    make_survey(path, n_cameras=25, seed=4, recall=0.7, precision=0.8, grid=3)
    return path


def test_locate_then_estimate_write_every_output(survey, capsys):
    assert main(["locate", str(survey), "--no-buildings"]) == 0
    assert (survey / "cameras.parquet").exists()
    code = main(["estimate", str(survey), "--by", "h3:10", "--precision", "0.8", "--recall", "0.7",
                 "--no-osm", "--n-boot", "200", "--strip", "25"])
    out = capsys.readouterr().out
    assert code == 0 and "estimated cameras" in out and "truth cameras: 25" in out
    assert "estimand: cameras within 25 m of the surveyed streets" in out
    assert "calibration: scalar (assumed n=200)" in out and "precision 0.80 (" in out
    for name in ("density.geojson", "density.parquet", "map.html", "density.png", "report.json"):
        assert (survey / name).stat().st_size > 0, name
    report = json.loads((survey / "report.json").read_text())
    total = report["total"]
    for key in ("road_km", "n_images", "n_detections", "n_cameras", "est_cameras", "est_lo", "est_hi",
                "per_road_km", "truth_cameras"):
        assert total[key] is not None, key
    assert set(total["rate_estimator"]) >= {"est_cameras", "est_lo", "est_hi", "per_road_km"}
    assert report["parameters"]["precision"] == pytest.approx(0.8, abs=0.01) and report["parameters"]["by"] == "h3:10"
    assert report["parameters"]["strip_m"] == 25.0 and total["strip_m"] == 25.0
    assert report["calibration"]["source"] == "scalar" and report["calibration"]["n_verified"] == 200
    assert total["est_lo"] <= total["est_cameras"] <= total["est_hi"]
    features = json.loads((survey / "density.geojson").read_text())["features"]
    assert features and all(f["properties"]["area_id"] for f in features)
    assert all(f["properties"]["strip_m"] == 25.0 for f in features)


def test_precision_and_recall_come_from_the_model_card(survey, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    write_card(ModelCard(name="truth-degraded", weights="truth-degraded.pt", precision=0.75, recall=0.6),
               models / "truth-degraded.md")
    monkeypatch.setenv("CAMCENSUS_MODELS_DIR", str(models))
    assert main(["estimate", str(survey), "--no-osm", "--n-boot", "50"]) == 0
    report = json.loads((survey / "report.json").read_text())
    assert report["parameters"]["precision"] == pytest.approx(0.75, abs=0.01)
    assert report["parameters"]["recall"] == pytest.approx(0.6, abs=0.01)
    assert report["model"]["source"] == "model card" and report["model"]["model_id"] == "truth-degraded"
    assert report["calibration"]["source"] == "scalar"
    # a scalar precision: P(real) cannot come from a false-detection rate per image (one line says so)
    assert len(report["warnings"]) == 1 and "no false-detection rate per image" in report["warnings"][0]


def test_the_cards_calibration_is_used_when_it_has_one(survey, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    calibration = {"conf_threshold": 0.25,
                   "precision_bins": {"edges": [0.25, 0.5, 1.0], "n": [60, 60], "real": [30, 54]},
                   "recall_bins": {"edges_px": [0, 6, 8, 12, 16, 24, 32, 64, 100000], "n": [10] * 8,
                                   "found": [1, 3, 5, 6, 7, 8, 8, 8]}, "n_images": 300}
    write_card(ModelCard(name="truth-degraded", weights="truth-degraded.pt", precision=0.75, recall=0.6,
                         calibration=calibration), models / "truth-degraded.md")
    monkeypatch.setenv("CAMCENSUS_MODELS_DIR", str(models))
    assert main(["estimate", str(survey), "--by", "area", "--no-osm"]) == 0
    report = json.loads((survey / "report.json").read_text())
    cal = report["calibration"]
    assert cal["source"] == "card" and cal["n_verified"] == 120 and cal["n_audited"] == 80
    assert cal["precision_by_conf"]["precision"][0] < cal["precision_by_conf"]["precision"][1]
    assert report["model"]["source"] == "model card calibration"
    assert "card_calibration" not in report["model"]


def test_without_figures_the_estimate_warns_and_uses_one(survey, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAMCENSUS_MODELS_DIR", str(tmp_path))
    assert main(["estimate", str(survey), "--no-osm", "--n-boot", "50"]) == 0
    assert "no model precision and recall" in capsys.readouterr().err
    report = json.loads((survey / "report.json").read_text())
    assert report["parameters"]["recall"] == pytest.approx(1.0, abs=0.01) and report["warnings"]


@pytest.mark.parametrize("args, message", [
    (["--by", "missing.geojson"], "not found"),
    (["--by", "hex:9"], "unknown --by"),
    (["--population", "pop.geojson"], "--population-field"),
    (["--precision", "1.5", "--recall", "0.5"], "precision must be"),
    (["--precision", "0.5", "--recall", "0.5", "--strip", "-3"], "--strip must be"),
])
def test_bad_input_is_one_line_and_exit_2(survey, args, message, capsys):
    assert main(["estimate", str(survey), "--no-osm", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_survey_directory(tmp_path, capsys):
    assert main(["estimate", str(tmp_path / "nope"), "--precision", "1", "--recall", "1"]) == 2
    assert "not found" in capsys.readouterr().err


def test_strip_auto_is_the_default_and_a_fixed_strip_past_it_warns(survey, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CAMCENSUS_MODELS_DIR", str(tmp_path))
    assert main(["estimate", str(survey), "--by", "area", "--no-osm", "--precision", "0.8", "--recall", "0.7"]) == 0
    report = json.loads((survey / "report.json").read_text())
    assert report["parameters"]["strip"] == "auto" and set(report["parameters"]["strip_m_by_class"]) == \
        {"directed", "dome"}
    assert "estimand: cameras within" in capsys.readouterr().out
    assert main(["estimate", str(survey), "--by", "area", "--no-osm", "--precision", "0.8", "--recall", "0.7",
                 "--strip", "60"]) == 0
    err = capsys.readouterr().err
    assert sum("does not speak for cameras that far out" in line for line in err.splitlines()) == 1
    assert main(["estimate", str(survey), "--no-osm", "--strip", "wide"]) == 2
    assert "--strip must be 'auto' or a positive number of metres" in capsys.readouterr().err


def test_survey_takes_the_strip_too(tmp_path, capsys):
    assert main(["survey", "--out", str(tmp_path / "s"), "--strip", "-1"]) == 2
    assert "--strip must be a positive number of metres" in capsys.readouterr().err
