"""`camcensus info SURVEY [--json]`: what a survey holds, read only."""

import json

from scripts.cli import main


def test_info_of_a_sampled_survey(tmp_path, capsys):
    survey = tmp_path / "s"
    assert main(["sample", "--out", str(survey), "--area", "demo", "--method", "random", "--n", "5"]) == 0
    (survey / "report.json").write_text(json.dumps({
        "total": {"est_cameras": 12.0, "est_lo": 4.0, "est_hi": 30.0, "per_road_km": 0.7},
        "estimand": "cameras within 20 m", "card_check": {"verdict": "consistent"},
        "calibration": {"source": "card", "precision": 0.9, "precision_lo": 0.8, "precision_hi": 0.95,
                        "recall": 0.6, "recall_lo": 0.5, "recall_hi": 0.7, "precision_by_conf": {"edges": []}}}))
    before = sorted(p.name for p in survey.rglob("*"))
    capsys.readouterr()
    assert main(["info", str(survey), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["stages"]["sample"].startswith("done") and info["stages"]["detect"] == "not done"
    assert info["rows"]["points"] == 5 and info["rows"]["views"] == 10
    assert info["estimate"]["est_cameras"] == 12.0 and info["card_check"] == {"verdict": "consistent"}
    assert info["calibration"]["recall"] == 0.6 and "precision_by_conf" not in info["calibration"]
    assert "points.parquet" in info["files"]
    assert main(["info", str(survey)]) == 0
    text = capsys.readouterr().out
    assert "estimate: 12 cameras (95% 4-30)" in text and "card check: consistent" in text
    assert sorted(p.name for p in survey.rglob("*")) == before  # nothing written


def test_info_of_a_missing_survey_is_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
