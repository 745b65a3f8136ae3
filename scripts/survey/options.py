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
    along: bool = False
    fov: float = 90.0
    pitch: float = 0.0
    # fetch
    sim_cameras: str | None = None
    style: str = "default"  # the simulator's look (alt: a look never used in training)
    size: int = 640
    endpoint: str | None = None
    workers: int | None = None
    rate: float = 10.0  # requests per second at most (real providers); 0 = unlimited
    images: str | None = None  # local provider: folder of the user's own images
    manifest: str | None = None  # local provider: CSV / Parquet of path, lon, lat, heading
    key: str | None = None  # gsv API key: never written to survey.toml (SECRETS)
    token: str | None = None  # Mapillary token: never written to survey.toml (SECRETS)
    # detect
    device: str = "auto"
    dtype: str = "auto"
    batch: int = 16
    conf: float | None = None
    iou: float = 0.7
    imgsz: int | None = None  # None: the card's, else the model's training size, else 640
    slice: str | None = None
    # estimate
    by: str = "h3:9"  # per-cell density by default (the whole-area total is always reported)
    precision: float | None = None
    recall: float | None = None
    strip: float | str = "auto"  # metres either side of the streets, or "auto": per class from the design
    population: str | None = None
    population_field: str | None = None
    basemap: str | None = None  # online tiles under map.html (None: the page requests nothing)

    # Which options each stage depends on: a change reruns that stage and the later ones.
    STAGE_OPTIONS = {
        "sample": ("area", "network", "method", "spacing", "n", "seed", "min_gap", "sides", "along", "fov",
                   "pitch"),
        "fetch": ("provider", "sim_cameras", "style", "size", "endpoint", "images", "manifest"),
        "detect": ("model", "conf", "iou", "imgsz", "slice"),
        "locate": (),
        "estimate": ("by", "precision", "recall", "strip", "population", "population_field", "basemap"),
        "compare": (),  # the comparison with OSM: reruns whenever estimate does
    }

    def stage_options(self, stage: str) -> dict[str, Any]:
        """The options ``stage`` depends on; those at their default and new since older surveys
        (``along``, ``style``, ``iou``, the local provider's) are left out: such surveys stay done."""
        return {name: getattr(self, name) for name in self.STAGE_OPTIONS[stage]
                if not (name in _NEWER and getattr(self, name) == _NEWER[name])}


# Options added after surveys were made: at these values a marker without them still matches.
_NEWER = {"along": False, "style": "default", "images": None, "manifest": None, "iou": 0.7}
SECRETS = ("key", "token")  # credentials: used for this run, never written to survey.toml
PROVIDERS = ("simulated", "local", "mapillary", "gsv")


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
        if value is None or name in SECRETS:
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


# --- checks -----------------------------------------------------------------------------------

def check_options(options: SurveyOptions) -> None:
    """Raise one line (``GeoInputError`` / ``DetectorInputError``) for any bad option, before a
    survey loads its area or writes anything; reads no data (it only looks whether named files exist)."""
    from geo.streets.sampling import check_sampling

    check_sampling(network_type=options.network, method=options.method, spacing=options.spacing,
                   n=options.n, min_gap=options.min_gap, sides=options.sides, fov=options.fov, pitch=options.pitch)
    _check_fetch(options)
    _check_detect(options)
    _check_estimate(options)
    from geo.streets.area import area_from_spec

    area_from_spec(options.area)  # a missing file or malformed bbox: one line, nothing loaded


def _check_fetch(o: SurveyOptions) -> None:
    from geo.errors import GeoInputError

    if o.provider not in PROVIDERS:
        raise GeoInputError(f"unknown --provider '{o.provider}': choose one of {', '.join(PROVIDERS)}")
    if o.provider == "local" and o.images is None:
        raise GeoInputError("--provider local needs --images FOLDER (with --manifest FILE, or EXIF in the photos)")
    for name in ("images", "manifest"):
        value = getattr(o, name)
        if value is not None and not Path(value).expanduser().exists():
            raise GeoInputError(f"--{name} not found: {value}")
    import os

    if o.provider == "gsv" and not (o.key or os.environ.get("GOOGLE_MAPS_API_KEY")):
        raise GeoInputError("the gsv provider needs an API key: --key or GOOGLE_MAPS_API_KEY")
    if o.provider == "mapillary" and not (o.token or os.environ.get("MAPILLARY_TOKEN")):
        raise GeoInputError("the mapillary provider needs a token: --token or MAPILLARY_TOKEN")
    if o.style not in ("default", "alt"):
        raise GeoInputError(f"--style must be default or alt, got {o.style!r}")
    _positive(o.size, "--size", "pixels")
    if o.workers is not None:
        _positive(o.workers, "--workers", "processes")
    if not o.rate >= 0:
        raise GeoInputError(f"--rate must be requests per second >= 0 (0: unlimited), got {o.rate}")
    if o.sim_cameras is not None and o.provider == "simulated":
        from geo.sim.scene import _parse_sim_cameras

        _parse_sim_cameras(o.sim_cameras)


def _check_detect(o: SurveyOptions) -> None:
    from detector.slicing import parse_slice
    from scripts.commands.vocabulary import DETECT_DTYPES, device_from_option, dtype_from_option

    device_from_option(o.device)
    dtype_from_option(o.dtype, allowed=DETECT_DTYPES)
    _positive(o.batch, "--batch", "images")
    if o.imgsz is not None:
        _positive(o.imgsz, "--imgsz", "pixels")
    for name, value in (("--conf", o.conf), ("--iou", o.iou)):
        _share(value, name)
    parse_slice(o.slice)


def _check_estimate(o: SurveyOptions) -> None:
    check_estimate(by=o.by, precision=o.precision, recall=o.recall, strip=o.strip, basemap=o.basemap,
                   population=o.population, population_field=o.population_field)


def check_estimate(*, by: str = "h3:9", precision: float | None = None, recall: float | None = None,
                   strip: str | float | None = "auto", basemap: str | None = None, population: str | None = None,
                   population_field: str | None = None) -> None:
    """Raise one line for a bad estimate option (--by, --precision, --recall, --strip, --basemap,
    --population with its field) before any table is read."""
    from geo.counting.estimate import strip_from_option
    from geo.errors import GeoInputError
    from geo.outputs.mapview import basemap_from_spec

    for name, value in (("--precision", precision), ("--recall", recall)):
        _share(value, name)
    strip_from_option(strip)
    basemap_from_spec(basemap)
    text = str(by).strip().lower()
    if text.startswith("h3:"):
        if not text[3:].isdigit() or not 0 <= int(text[3:]) <= 15:
            raise GeoInputError(f"--by h3:RES needs a resolution 0-15, got {by!r}")
    elif text.startswith("grid:"):
        _positive(_number(text[5:], "--by grid:METRES"), "--by grid:METRES", "metres")
    elif text not in ("area", "all", "total"):
        from geo.counting.areas import _VECTOR_SUFFIXES

        if not (text.endswith(_VECTOR_SUFFIXES) or "/" in text or "\\" in text):
            raise GeoInputError(f"unknown --by '{by}': use area, h3:RES, grid:METRES or a polygons file (.geojson)")
        if not Path(str(by)).expanduser().is_file():
            raise GeoInputError(f"--by polygons file not found: {by}")
    if (population is None) != (population_field is None):
        raise GeoInputError("--population and --population-field go together: give both or neither")


def _number(text: str, name: str) -> float:
    from geo.errors import GeoInputError

    try:
        return float(text)
    except ValueError:
        raise GeoInputError(f"{name} must be a number, got {text!r}") from None


def _positive(value: float, name: str, unit: str) -> None:
    from geo.errors import GeoInputError

    if not value > 0:
        raise GeoInputError(f"{name} must be a positive number of {unit}, got {value}")


def _share(value: float | None, name: str) -> None:
    from geo.errors import GeoInputError

    if value is not None and not 0 <= value <= 1:
        raise GeoInputError(f"{name} must be between 0 and 1, got {value}")


def options_from_command(out: str | Path, *, plan: str | Path | None = None, **given: Any) -> SurveyOptions:
    """The options of `camcensus survey`: those given (None or False: not given), then the plan's
    recommended design (``plan``), then OUT/survey.toml, then the defaults; checked (``check_options``)."""
    given = {name: (None if value is False else value) for name, value in given.items()}
    for name in ("images", "manifest", "population"):
        if given.get(name) is not None:
            given[name] = str(given[name])
    if plan is not None:
        from scripts.survey.plan import options_from_plan

        given.update({k: v for k, v in options_from_plan(plan).items() if given.get(k) is None})
    options = options_from_toml(Path(out) / "survey.toml", **given)
    if isinstance(options.strip, str) and options.strip.strip().lower() != "auto":
        from geo.counting.estimate import strip_from_option

        options.strip = strip_from_option(options.strip)
    check_options(options)
    return options
