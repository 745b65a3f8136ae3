"""The options of a survey (``SurveyOptions``) and their survey.toml round trip.

Both the stage functions (``scripts.survey.stages``) and the survey runner (``scripts.survey.run``) import
this module, which imports neither.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from detector.registry import DEFAULT_MODEL


@dataclass
class SurveyOptions:
    """Every option of a survey (units in the names). Written to survey.toml."""

    area: str = "demo"
    provider: str = "simulated"
    model: str = DEFAULT_MODEL
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
    by: str = "h3:9"  # per-cell density by default (the whole-area total is always reported)
    precision: float | None = None
    recall: float | None = None
    strip: float | str = "auto"  # metres either side of the streets, or per class from the design (geo.counting.estimate)
    population: str | None = None
    population_field: str | None = None
    basemap: str | None = None  # online tiles under map.html (None: the page requests nothing)

    # Which options each stage depends on: a change reruns that stage and the later ones.
    STAGE_OPTIONS = {
        "sample": ("area", "network", "method", "spacing", "n", "seed", "min_gap", "sides", "fov", "pitch"),
        "fetch": ("provider", "sim_cameras", "size", "endpoint"),
        "detect": ("model", "conf", "imgsz", "slice"),
        "locate": (),
        "estimate": ("by", "precision", "recall", "strip", "population", "population_field", "basemap"),
        "compare": (),  # the comparison with OSM: reruns whenever estimate does
    }

    def stage_options(self, stage: str) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.STAGE_OPTIONS[stage]}


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
