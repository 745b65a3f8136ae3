"""`camcensus survey`: every stage in order, resumable, with its options kept in survey.toml.

sample -> fetch -> detect -> locate -> estimate -> compare (with OSM). Each stage's library function is resumable on
its own; here a stage is marked done (``.stages/<stage>.json``, with the options that produced
it and the outputs it left) once it finishes. A rerun skips a stage only when its marker matches
the options **and** its outputs are all there and read back (``stage_problem``); a stage whose
options changed or whose outputs are gone or unreadable is run again from scratch, and so is
everything after it, and the run says why. One process writes a directory at a time
(``scripts.survey.lock``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

from scripts.survey import stages
from scripts import survey_dir as files
from scripts.survey.lock import survey_lock
from scripts.survey.options import SurveyOptions, check_options, options_to_toml

STAGES = ("sample", "fetch", "detect", "locate", "estimate", "compare")
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
                 files.REPORT, files.GEOPACKAGE),
    "compare": ("osm_compare.geojson", "osm_compare.parquet", "osm_new_josm.geojson", "osm_new_maproulette.geojson",
                "osm_unseen_maproulette.geojson", "osm_crops"),
}


# Outputs every finished stage has, checked for markers written before markers listed outputs.
STAGE_REQUIRED = {
    "sample": (files.POINTS, files.VIEWS, files.SAMPLE_INFO),
    "fetch": (files.IMAGES,),
    "detect": (files.DETECTIONS_DIR, files.DETECT_SUMMARY),
    "locate": (files.CAMERAS,),
    "estimate": (files.DENSITY_PARQUET, files.REPORT),
}


@dataclass
class StageRun:
    """What happened to one stage: ``ran`` or ``skipped``, in seconds; ``reason``: why a stage
    marked done ran again (its outputs were missing or unreadable, or its options changed)."""

    stage: str
    status: str
    seconds: float
    detail: str = ""
    reason: str = ""


@dataclass
class SurveyResult:
    """The stages run and the survey's report (report.json's content)."""

    survey_dir: Path
    stages: list[StageRun] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


# --- stages -----------------------------------------------------------------------------------

def run_survey(survey_dir: str | Path, options: SurveyOptions, *,
               say: Callable[[str], None] = print) -> SurveyResult:
    """Run every stage not yet done for ``options`` into ``survey_dir``; return the report.

    Holds the directory's lock throughout: a second writer is refused with one line naming this
    process (``scripts.survey.lock.SurveyBusyError``)."""
    survey_dir = Path(survey_dir)
    check_options(options)  # every option, before anything is loaded or written (survey.toml included)
    with survey_lock(survey_dir, command="camcensus survey"):
        return _run_stages(survey_dir, options, say=say)


def _run_stages(survey_dir: Path, options: SurveyOptions, *, say: Callable[[str], None]) -> SurveyResult:
    options_to_toml(options, survey_dir / files.SURVEY_TOML)
    result = SurveyResult(survey_dir)
    stale = False  # an earlier stage ran: every later one runs too
    redone = False  # an earlier stage was redone from scratch: later outputs are stale
    for number, stage in enumerate(STAGES, start=1):
        marker = survey_dir / MARKERS / f"{stage}.json"
        wanted = options.stage_options(stage)
        data = _read_marker(marker)
        recorded = data.get("options") if data is not None else None
        problem = stage_problem(survey_dir, stage, data) if recorded == wanted else None
        if not stale and recorded == wanted and problem is None:
            say(f"[{number}/{len(STAGES)}] {stage}: already done, skipped")
            result.stages.append(StageRun(stage, "skipped", 0.0))
            continue
        stale = True
        reason = ""
        if problem is not None:
            reason = f"marked done, but {problem}"
        elif recorded is not None and recorded != wanted:
            reason = "options changed"
        elif redone and recorded is not None:
            reason = "an earlier stage ran again"
        if redone or reason:
            redone = True
            marker.unlink(missing_ok=True)
            _remove_outputs(survey_dir, stage)
            say(f"[{number}/{len(STAGES)}] {stage}: {reason or 'an earlier stage ran again'}: "
                "previous results removed, running it again")
        say(f"[{number}/{len(STAGES)}] {stage} ...")
        started = time.perf_counter()
        detail = _STAGE_FUNCTIONS[stage](survey_dir, options)
        seconds = time.perf_counter() - started
        _write_marker(marker, {"options": wanted, "seconds": seconds, "detail": detail,
                               "outputs": _outputs_left(survey_dir, stage)})
        say(f"[{number}/{len(STAGES)}] {stage}: {detail} ({seconds:.1f} s)")
        result.stages.append(StageRun(stage, "ran", seconds, detail, reason))
    report_path = survey_dir / files.REPORT
    if report_path.exists():
        result.report = json.loads(report_path.read_text())
    return result


def _read_marker(marker: Path) -> dict | None:
    """A stage marker's content; None when it is missing or unreadable (the stage is not done)."""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _outputs_left(survey_dir: Path, stage: str) -> dict[str, dict]:
    """What a finished stage left: each output of ``STAGE_OUTPUTS`` that exists (hidden and
    in-progress names apart), with its size in files or rows where it has one."""
    left = {}
    for name in STAGE_OUTPUTS.get(stage, ()):
        path = survey_dir / name
        if name.startswith(".") or name.endswith(".parts") or not path.exists():
            continue
        try:
            left[name] = _read_back(path)
        except Exception:  # noqa: BLE001  (unreadable right after the stage: not recorded)
            continue
    return left


def stage_problem(survey_dir: str | Path, stage: str, marker: dict | None) -> str | None:
    """Why a stage marked done is not done (one phrase), or None when every output it left
    (its marker's ``outputs``; ``STAGE_REQUIRED`` for older markers) exists and reads back."""
    survey_dir = Path(survey_dir)
    recorded = (marker or {}).get("outputs")
    expected = recorded if isinstance(recorded, dict) else {name: None for name in STAGE_REQUIRED.get(stage, ())}
    for name, then in expected.items():
        path = survey_dir / name
        if not path.exists():
            return f"{name}{'/' if then and ('files' in then or 'parts' in then) else ''} is missing"
        try:
            now = _read_back(path)
        except Exception as error:  # noqa: BLE001  (any failure to read back means: redo)
            return f"{name} does not read back ({type(error).__name__})"
        for key in ("parts", "files", "rows"):
            if then and key in then and now.get(key, 0) < then[key]:
                return f"{name} has {now.get(key, 0)} of its {then[key]} {key.replace('parts', 'part files')}"
    return None


def _read_back(path: Path) -> dict:
    """Read an output enough to know it is whole: Parquet footers (rows), JSON, the end of
    GraphML and HTML, a PNG's signature; a directory of part files by its parts, any other
    directory by its file count. Raises when it does not read back."""
    if path.is_dir():
        parts = sorted(path.glob("part-*.parquet"))
        if parts:
            import pyarrow.parquet as pq

            return {"parts": len(parts), "rows": sum(pq.read_metadata(p).num_rows for p in parts)}
        return {"files": sum(1 for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))}
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return {"rows": pq.read_metadata(path).num_rows}
    if suffix in (".json", ".geojson"):
        text = path.read_text(encoding="utf-8")
        try:
            json.loads(text)
        except ValueError:
            if suffix == ".json":
                raise
            for line in text.splitlines():  # line-by-line GeoJSON (one feature per line)
                if line.strip():
                    json.loads(line)
    elif suffix in (".graphml", ".html"):
        end = "</graphml>" if suffix == ".graphml" else "</html>"
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 4096))
            if end.encode() not in handle.read().lower():
                raise ValueError(f"{path.name} is cut short")
    elif suffix == ".png":
        if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"{path.name} is not a PNG")
    elif path.stat().st_size == 0:
        raise ValueError(f"{path.name} is empty")
    return {}


def _remove_outputs(survey_dir: Path, stage: str) -> None:
    import shutil

    for name in STAGE_OUTPUTS.get(stage, ()):
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
    "locate": stages.locate_stage, "estimate": stages.estimate_stage, "compare": stages.compare_stage,
}
