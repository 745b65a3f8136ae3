"""`camcensus survey` end to end on a small random sample of the demo area, with the shipped model."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer

from detector.registry import DEFAULT_MODEL
from detector.schemas import DETECTIONS, check_schema
from geo.schemas import CAMERAS, DENSITY, IMAGES, POINTS, TRUTH_BOXES, VIEWS, check_table
from scripts.app import app
from scripts.cli import _register_commands, main
from scripts.survey.run import STAGES
from scripts.survey.options import SurveyOptions, options_from_toml, options_to_toml

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / f"{DEFAULT_MODEL}.pt"
TABLES = {"points.parquet": POINTS, "views.parquet": VIEWS, "images.parquet": IMAGES,
          "truth_boxes.parquet": TRUTH_BOXES, "cameras.parquet": CAMERAS, "density.parquet": DENSITY}
SMALL = ["--area", "demo", "--method", "random", "--n", "24", "--seed", "5", "--size", "640",
         "--workers", "2"]


def run_survey_cli(out: Path, *extra: str) -> int:
    return main(["survey", "--out", str(out), *SMALL, *extra])


def detections(survey: Path) -> pd.DataFrame:
    parts = sorted((survey / "detections").glob("part-*.parquet"))
    frame = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()
    return frame.sort_values(["image_id", "x1", "y1", "conf"]).reset_index(drop=True) if len(frame) else frame


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    assert SHIPPED.is_file(), "the shipped model must be in models/"
    out = tmp_path_factory.mktemp("survey") / "s"
    assert run_survey_cli(out) == 0
    return out


def test_every_output_exists_and_keeps_its_contract(finished):
    s = finished
    points, views = gpd.read_parquet(s / "points.parquet"), gpd.read_parquet(s / "views.parquet")
    assert len(points) == 24 and len(views) == 48
    assert points.crs.to_epsg() == 4326 and views.crs.to_epsg() == 4326
    for name, schema in TABLES.items():  # every Parquet table keeps its schema (geo.schemas)
        check_table(pq.read_schema(s / name), schema, what=name)
    for part in sorted((s / "detections").glob("part-*.parquet")):
        check_schema(pq.read_schema(part), DETECTIONS, what=part.name)
    images = pd.read_parquet(s / "images.parquet")
    assert set(images["view_id"]) == set(views["view_id"]) and (images["status"] == "ok").all()
    assert all((s / p).is_file() for p in images["path"])
    truth = gpd.read_file(s / "truth.geojson")
    assert {"camera_id", "class_name"} <= set(truth.columns) and len(truth) > 0
    dets = detections(s)
    assert set(dets["image_id"]) <= set(images["image_id"])
    assert set(dets["class_name"]) <= {"dome", "directed"}
    summary = json.loads((s / "detect_summary.json").read_text())
    assert summary["images"] == 48 and summary["failed"] == 0
    density = gpd.read_file(s / "density.geojson")
    assert density.crs.to_epsg() == 4326
    assert set(DENSITY.names) - {"geometry"} <= set(density.columns)
    assert gpd.read_parquet(s / "density.parquet").crs.to_epsg() == 4326
    report = json.loads((s / "report.json").read_text())
    total = report["total"]
    for key in ("road_km", "n_images", "n_detections", "n_cameras", "est_cameras", "est_lo", "est_hi",
                "per_road_km", "rate_estimator", "truth_cameras", "osm_cameras"):
        assert key in total, key
    assert total["n_images"] == 48 and total["est_lo"] <= total["est_cameras"] <= total["est_hi"]
    assert (s / "map.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert (s / "density.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    recorded = options_from_toml(s / "survey.toml")
    assert recorded.n == 24 and recorded.method == "random" and recorded.model == DEFAULT_MODEL


def test_rerun_skips_every_stage_and_prints_the_summary(finished, capsys):
    assert main(["survey", "--out", str(finished)]) == 0  # options come from survey.toml
    out = capsys.readouterr().out
    for stage in STAGES:
        assert f"{stage}: already done, skipped" in out
    assert "estimated cameras" in out and "true cameras" in out and "map.html" in out


def test_changed_detect_option_reruns_detect_and_later_stages(finished, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    assert main(["survey", "--out", str(copy), "--conf", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "sample: already done" in out and "fetch: already done" in out
    assert "detect: already done" not in out and "estimate: already done" not in out
    assert (detections(copy)["conf"] >= 0.9).all()


def test_kill_9_then_resume_equals_uninterrupted(finished, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "scripts.cli", "survey", "--out", str(out), *SMALL]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    # Kill in the middle of the detect stage: after some images exist, before detections finish.
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "images.parquet").exists() and (out / ".stages" / "fetch.json").exists():
            time.sleep(1.0)
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the survey finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "report.json").exists()
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "fetch: already done, skipped" in again.stdout
    pd.testing.assert_frame_equal(detections(out), detections(finished))
    for name in ("cameras.parquet",):
        a = pd.read_parquet(out / name).drop(columns="geometry")
        b = pd.read_parquet(finished / name).drop(columns="geometry")
        pd.testing.assert_frame_equal(a, b)
    total_a = json.loads((out / "report.json").read_text())["total"]
    total_b = json.loads((finished / "report.json").read_text())["total"]
    assert total_a == total_b


def test_survey_toml_round_trip(tmp_path):
    options = SurveyOptions(area="bbox:24.9,60.1,25.0,60.2", spacing=12.5, n=None, sim_cameras="random:3:7",
                            precision=0.5)
    path = options_to_toml(options, tmp_path / "survey.toml")
    assert options_from_toml(path) == options
    assert options_from_toml(path, spacing=30.0).spacing == 30.0
    path.write_text("[survey]\nspacing = 10\nspeling = 3\n")
    from geo.errors import GeoInputError
    with pytest.raises(GeoInputError, match="speling"):
        options_from_toml(path)


def _commands() -> list:
    _register_commands()
    group = typer.main.get_command(app)
    found = []

    def walk(prefix: str, command) -> None:
        if hasattr(command, "commands"):  # a group (typer may ship its own click classes)
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, command))

    walk("", group)
    return found


# Accepted ways of stating each option's unit (any one of them).
PIXELS = ("pixel", "px")
UNITS = {"--spacing": ("metre",), "--fov": ("degree",), "--pitch": ("degree",), "--size": PIXELS,
         "--imgsz": PIXELS, "--radius": ("metre",), "--heading-tol": ("degree",), "--timeout": ("second",),
         "--rate": ("per second",), "--max-range": ("metre",), "--min-gap": ("metre",), "--merge": ("metre",),
         "--conf": ("0-1",), "--precision": ("0-1", "(0, 1]", "fp32"), "--recall": ("0-1",), "--tile": PIXELS}


def test_every_command_documents_every_option():
    commands = _commands()
    names = {name for name, _ in commands}
    assert {"sample", "fetch", "detect", "locate", "estimate", "survey", "preview", "models", "export",
            "train", "evaluate", "dataset synth", "dataset check", "dataset stanford"} <= names
    problems = []
    for name, command in commands:
        if not command.help:
            problems.append(f"{name} has no description")
        for param in command.params:
            if getattr(param, "param_type_name", "") != "option" or param.name == "help":
                continue
            flag = max(param.opts, key=len)
            text = (param.help or "").lower()
            if not text:
                problems.append(f"{name} {flag} has no help")
                continue
            shown = param.default is not None and param.default is not False and param.show_default is not False
            has_default = "default" in text or shown or param.required or param.is_flag
            if not has_default:
                problems.append(f"{name} {flag}: help does not say its default")
            units = UNITS.get(flag, ())
            if units and not any(unit in text for unit in units):
                problems.append(f"{name} {flag}: help does not state its unit ({' or '.join(units)})")
    assert not problems, "\n".join(problems)


def test_help_runs_for_every_command(capsys):
    for name, _ in _commands():
        assert main([*name.split(), "--help"]) == 0, name
        out = capsys.readouterr().out
        assert "Usage:" in out and "--help" in out
