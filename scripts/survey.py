"""`camcensus survey`: every stage in order, resumable, with its options kept in survey.toml.

sample -> fetch -> detect -> locate -> estimate. Each stage's library function is resumable on
its own; here a stage is marked done (``.stages/<stage>.json``, with the options that produced
it) once it finishes, so a rerun skips it and says so. A stage whose options changed is run
again, and so is everything after it.
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from collections.abc import Callable

from scripts import survey_files as files

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
class SurveyOptions:
    """Every option of a survey (units in the names). Written to survey.toml."""

    area: str = "demo"
    provider: str = "simulated"
    model: str = "cctv-yolo11n-synth"
    # sample
    network: str = "drive"
    method: str = "systematic"
    spacing: float = 20.0
    n: int | None = None
    seed: int = 0
    min_gap: float | None = None
    sides: str = "both"
    fov: float = 90.0
    pitch: float = 0.0
    # fetch
    sim_cameras: str | None = None
    size: int = 640
    endpoint: str | None = None
    workers: int | None = None
    # detect
    device: str = "auto"
    batch: int = 16
    conf: float | None = None
    imgsz: int = 640
    slice: str | None = None
    # estimate
    by: str = "area"
    precision: float | None = None
    recall: float | None = None
    population: str | None = None
    population_field: str | None = None

    # Which options each stage depends on: a change reruns that stage and the later ones.
    STAGE_OPTIONS = {
        "sample": ("area", "network", "method", "spacing", "n", "seed", "min_gap", "sides", "fov", "pitch"),
        "fetch": ("provider", "sim_cameras", "size", "endpoint"),
        "detect": ("model", "conf", "imgsz", "slice"),
        "locate": (),
        "estimate": ("by", "precision", "recall", "population", "population_field"),
    }

    def stage_options(self, stage: str) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.STAGE_OPTIONS[stage]}


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


# --- survey.toml ------------------------------------------------------------------------------

def options_from_toml(path: str | Path, **overrides: Any) -> SurveyOptions:
    """Options read from a survey.toml, then ``overrides`` (those not None) on top."""
    from geo.errors import GeoInputError

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text()) if path.exists() else {}
    except tomllib.TOMLDecodeError as error:
        raise GeoInputError(f"malformed {path}: {error}") from None
    data = data.get("survey", data)
    known = {f.name for f in fields(SurveyOptions)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GeoInputError(f"unknown option(s) in {path}: {', '.join(unknown)}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return SurveyOptions(**data)


def options_to_toml(options: SurveyOptions, path: str | Path) -> Path:
    """Write the options (None values left out) as a [survey] table, atomically."""
    lines = ["# camcensus survey options: `camcensus survey --out DIR` reruns exactly this survey",
             "[survey]"]
    for name, value in asdict(options).items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        else:
            text = json.dumps(str(value))  # a TOML basic string
        lines.append(f"{name} = {text}")
    from geo.io import write_text

    return write_text(path, "\n".join(lines) + "\n")


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


def _sample(survey_dir: Path, o: SurveyOptions) -> str:
    from geo.sampling import sample_survey

    done = sample_survey(survey_dir, area=o.area, network_type=o.network, method=o.method,
                         spacing=o.spacing, n=o.n, seed=o.seed, min_gap=o.min_gap, sides=o.sides,
                         fov=o.fov, pitch=o.pitch)
    return f"{done.road_km:.1f} road km, {done.n_points:,} points, {done.n_views:,} views"


def _fetch(survey_dir: Path, o: SurveyOptions) -> str:
    from scripts.stages import fetch_stage

    return fetch_stage(survey_dir, o)


def _detect(survey_dir: Path, o: SurveyOptions) -> str:
    from scripts.stages import detect_stage

    return detect_stage(survey_dir, o)


def _locate(survey_dir: Path, o: SurveyOptions) -> str:
    from scripts.stages import locate_stage

    return locate_stage(survey_dir, o)


def _estimate(survey_dir: Path, o: SurveyOptions) -> str:
    from scripts.stages import estimate_stage

    return estimate_stage(survey_dir, o)


_STAGE_FUNCTIONS: dict[str, Callable[[Path, SurveyOptions], str]] = {
    "sample": _sample, "fetch": _fetch, "detect": _detect, "locate": _locate, "estimate": _estimate,
}
