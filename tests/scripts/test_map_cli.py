"""`camcensus estimate` defaults to per-cell density and takes --basemap for map.html."""

import json

from scripts.cli import main
from tests.geo.sim.scene import make_survey

TILES = "https://tiles.example.test/{z}/{x}/{y}.png"


def test_estimate_defaults_to_cells_and_draws_a_basemap_on_request(tmp_path, capsys):
    survey = tmp_path / "survey"
    make_survey(survey, n_cameras=15, seed=2, grid=3)
    assert main(["estimate", str(survey), "--no-osm", "--n-boot", "50", "--precision", "0.8",
                 "--recall", "0.7"]) == 0
    report = json.loads((survey / "report.json").read_text())
    assert report["parameters"]["by"] == "h3:9" and report["n_areas"] > 1 and report["total"]["est_cameras"] > 0
    page = (survey / "map.html").read_text(encoding="utf-8")
    assert TILES not in page and '"basemap":null' in page
    assert main(["estimate", str(survey), "--no-osm", "--n-boot", "50", "--precision", "0.8",
                 "--recall", "0.7", "--basemap", TILES]) == 0
    page = (survey / "map.html").read_text(encoding="utf-8")
    assert TILES in page and "img-src data: https://tiles.example.test" in page.replace("&#x27;", "'")
    assert '"truth":{"type":"FeatureCollection","features":[{' in page  # a simulated survey: true cameras


def test_a_bad_basemap_fails_before_anything_runs(tmp_path, capsys):
    survey = tmp_path / "survey"
    make_survey(survey, n_cameras=5, seed=1, grid=2)
    assert main(["estimate", str(survey), "--basemap", "https://tiles.example.test/tile.png"]) == 2
    assert "--basemap" in capsys.readouterr().err and not (survey / "map.html").exists()
    assert main(["survey", "--out", str(tmp_path / "s"), "--basemap", "no.such.provider"]) == 2
    assert not (tmp_path / "s" / "points.parquet").exists()


def test_the_survey_estimate_stage_draws_its_basemap_once(tmp_path):
    from scripts.survey.stages import estimate_stage
    from scripts.survey.options import SurveyOptions

    survey = tmp_path / "survey"
    make_survey(survey, n_cameras=8, seed=3, grid=2)
    options = SurveyOptions(by="area", precision=0.8, recall=0.7, basemap=TILES)
    assert "basemap" in options.stage_options("estimate")  # a new --basemap reruns the estimate stage
    estimate_stage(survey, options)
    page = (survey / "map.html").read_text(encoding="utf-8")
    assert TILES in page and "img-src data: https://tiles.example.test" in page.replace("&#x27;", "'")
