"""A survey reruns what is missing, one process writes a survey directory at a time, and no raw
warning text reaches the terminal (issue 20)."""

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from scripts.cli import main
from scripts.survey.lock import LOCK_NAME, OWNER_NAME, lock_owner, survey_lock
from scripts.survey.run import STAGE_OUTPUTS, STAGES

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--area", "demo", "--method", "random", "--n", "16", "--seed", "5", "--size", "640", "--workers", "2"]
TABLES = ("points.parquet", "views.parquet", "images.parquet", "truth_boxes.parquet", "cameras.parquet",
          "density.parquet")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "scripts.cli", *args]


def env() -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "YOLO_OFFLINE": "1"}


def tables(survey: Path) -> dict:
    """Every table of a survey (sorted, geometry as WKB) and the report's totals."""
    found = {}
    for name in TABLES:
        frame = pd.read_parquet(survey / name)
        found[name] = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
    parts = sorted((survey / "detections").glob("part-*.parquet"))
    found["detections"] = (pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
                           .sort_values(["image_id", "x1", "y1", "conf"]).reset_index(drop=True))
    found["total"] = json.loads((survey / "report.json").read_text())["total"]
    return found


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = tables(a), tables(b)
    for name in ta:
        if name == "total":
            assert ta[name] == tb[name]
        else:
            pd.testing.assert_frame_equal(ta[name], tb[name], obj=name)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A small simulated survey of the demo area, run as a user runs it (its own process)."""
    out = tmp_path_factory.mktemp("reliable") / "s"
    done = subprocess.run(cli("survey", "--out", str(out), *SMALL), cwd=REPO, env=env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert not [line for line in lines if "Warning" in line]  # no raw warning text
    return out


def rerun_after_deleting(finished: Path, stage: str, tmp_path: Path, capsys) -> tuple[Path, str]:
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    for name in STAGE_OUTPUTS[stage]:
        path = copy / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    capsys.readouterr()
    assert main(["survey", "--out", str(copy)]) == 0
    return copy, capsys.readouterr().out


def test_missing_outputs_rerun_their_stage_and_later_ones(finished, tmp_path, capsys):
    copy, out = rerun_after_deleting(finished, "locate", tmp_path, capsys)
    assert "sample: already done" in out and "detect: already done" in out
    assert "locate: marked done, but cameras.parquet is missing" in out  # the run says why
    assert "locate ran again: marked done, but cameras.parquet is missing" in out  # and so does the summary
    assert "estimate: already done" not in out
    assert_same_tables(copy, finished)


def test_unreadable_output_is_not_done(finished, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    report = copy / "report.json"
    report.write_text(report.read_text()[:100])  # cut short
    assert main(["survey", "--out", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "estimate: marked done, but report.json does not read back" in out
    assert_same_tables(copy, finished)


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_reruns_when_its_outputs_are_deleted(finished, stage, tmp_path, capsys):
    copy, out = rerun_after_deleting(finished, stage, tmp_path, capsys)
    assert f"{stage}: marked done, but" in out and f"{stage}: already done" not in out
    assert_same_tables(copy, finished)


def test_a_second_writer_is_refused_with_the_holding_process(finished, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    with survey_lock(copy, command="camcensus survey"):
        assert lock_owner(copy)["pid"] == os.getpid()
        for command in (["survey", "--out", str(copy)], ["estimate", str(copy)], ["detect", str(copy)]):
            before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
            assert main(command) == 2
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and f"in use by process {os.getpid()}" in err, err
            assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before
    assert not (copy / OWNER_NAME).exists() and (copy / LOCK_NAME).exists()
    assert main(["survey", "--out", str(copy)]) == 0  # free again


def test_dependency_warnings_are_quiet_and_ours_one_line(capsys):
    import pyrosm

    from scripts.warning_lines import show_warning

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show_warning
        warnings.warn_explicit("Could not find any OSM data for given area.", UserWarning,
                               str(Path(pyrosm.__file__).parent / "utils" / "__init__.py"), 131)
        warnings.warn_explicit("3 invalid polygon(s) were repaired", UserWarning,
                               str(REPO / "geo" / "counting" / "areas.py"), 123)
    err = capsys.readouterr().err
    assert "OSM data" not in err and "Warning" not in err
    assert err.strip() == "note: 3 invalid polygon(s) were repaired"


@pytest.mark.slow
def test_two_concurrent_surveys_one_completes_the_other_is_refused(finished, tmp_path):
    out = tmp_path / "shared"
    first = subprocess.Popen(cli("survey", "--out", str(out), *SMALL), cwd=REPO, env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while lock_owner(out) is None and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    second = subprocess.run(cli("survey", "--out", str(out), *SMALL), cwd=REPO, env=env(), capture_output=True,
                            text=True, timeout=600)
    first_out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, first_out
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr.strip().splitlines() == [second.stderr.strip()]
    assert f"in use by process {first.pid}" in second.stderr
    assert not [line for line in (first_out + second.stderr).splitlines() if "Warning" in line]
    assert_same_tables(out, finished)


@pytest.mark.slow
def test_a_survey_of_an_area_without_some_osm_data_prints_no_warning(tmp_path):
    import pyrosm

    area = pyrosm.get_data("test_pbf")  # pyrosm warns "Could not find any OSM data" here
    done = subprocess.run(cli("survey", "--out", str(tmp_path / "t"), "--area", area, "--method", "random",
                              "--n", "8", "--seed", "5", "--workers", "2"), cwd=REPO, env=env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [line for line in (done.stdout + done.stderr).splitlines() if "Warning" in line]
