"""`camcensus survey`: every stage in order, resumable, with its options kept in survey.toml.

sample -> fetch -> detect -> locate -> estimate. Each stage's library function is resumable on
its own; here a stage is marked done (``.stages/<stage>.json``, with the options that produced
it) once it finishes, so a rerun skips it and says so. A stage whose options changed is run
again, and so is everything after it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

from scripts.survey import stages
from scripts.survey import files
from scripts.survey.options import SurveyOptions, options_to_toml

STAGES = ("sample", "fetch", "detect", "locate", "estimate")
MARKERS = ".stages"
# What each stage writes: removed before a stage is redone with other options (a stage that was
# merely interrupted keeps them and resumes).
STAGE_OUTPUTS = {
    "sample": (files.NETWORK, files.POINTS, files.VIEWS, files.SAMPLE_INFO),
    "fetch": (files.IMAGES, files.IMAGES_DIR, "images.parquet.parts", ".simulated", files.TRUTH,
              files.TRUTH_BOXES),
    "detect": (files.DETECTIONS_DIR, files.DETECT_SUMMARY, "detect_failures.parquet"),
    "locate": (files.CAMERAS,),
    "estimate": (files.DENSITY_GEOJSON, files.DENSITY_PARQUET, files.MAP_HTML, files.DENSITY_PNG,
                 files.REPORT),
}


@dataclass
class StageRun:
    """What happened to one stage: ``ran`` or ``skipped``, in seconds."""

    stage: str
    status: str
    seconds: float
    detail: str = ""


@dataclass
class SurveyResult:
    """The stages run and the survey's report (report.json's content)."""

    survey_dir: Path
    stages: list[StageRun] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


# --- stages -----------------------------------------------------------------------------------

def run_survey(survey_dir: str | Path, options: SurveyOptions, *,
               say: Callable[[str], None] = print) -> SurveyResult:
    """Run every stage not yet done for ``options`` into ``survey_dir``; return the report."""
    survey_dir = Path(survey_dir)
    survey_dir.mkdir(parents=True, exist_ok=True)
    options_to_toml(options, survey_dir / files.SURVEY_TOML)
    result = SurveyResult(survey_dir)
    stale = False  # an earlier stage ran: every later one runs too
    redone = False  # an earlier stage was redone with other options: later outputs are stale
    for number, stage in enumerate(STAGES, start=1):
        marker = survey_dir / MARKERS / f"{stage}.json"
        wanted = options.stage_options(stage)
        recorded = json.loads(marker.read_text()).get("options") if marker.exists() else None
        if not stale and recorded == wanted:
            say(f"[{number}/{len(STAGES)}] {stage}: already done, skipped")
            result.stages.append(StageRun(stage, "skipped", 0.0))
            continue
        stale = True
        if redone or (recorded is not None and recorded != wanted):
            redone = True
            marker.unlink(missing_ok=True)
            _remove_outputs(survey_dir, stage)
            say(f"[{number}/{len(STAGES)}] {stage}: options changed, previous results removed")
        say(f"[{number}/{len(STAGES)}] {stage} ...")
        started = time.perf_counter()
        detail = _STAGE_FUNCTIONS[stage](survey_dir, options)
        seconds = time.perf_counter() - started
        _write_marker(marker, {"options": wanted, "seconds": seconds, "detail": detail})
        say(f"[{number}/{len(STAGES)}] {stage}: {detail} ({seconds:.1f} s)")
        result.stages.append(StageRun(stage, "ran", seconds, detail))
    report_path = survey_dir / files.REPORT
    if report_path.exists():
        result.report = json.loads(report_path.read_text())
    return result


def _remove_outputs(survey_dir: Path, stage: str) -> None:
    import shutil

    for name in STAGE_OUTPUTS[stage]:
        path = survey_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _write_marker(path: Path, data: dict) -> None:
    from geo.io import write_text

    write_text(path, json.dumps(data, indent=2, default=str))


_STAGE_FUNCTIONS: dict[str, Callable[[Path, SurveyOptions], str]] = {
    "sample": stages.sample_stage, "fetch": stages.fetch_stage, "detect": stages.detect_stage,
    "locate": stages.locate_stage, "estimate": stages.estimate_stage,
}
