"""What a survey directory holds (`camcensus info`), like ``ogrinfo``: stages done, row counts, the
estimate, the card check, the calibration and the files. Reads only; never writes."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from scripts import survey_dir as files

# Tables counted, in the order of work: name shown -> file (a part-file directory counts its parts' rows).
ROWS = {"points": files.POINTS, "views": files.VIEWS, "images": files.IMAGES, "detections": files.DETECTIONS_DIR,
        "cameras": files.CAMERAS, "density cells": files.DENSITY_PARQUET, "truth cameras": files.TRUTH,
        "OSM comparison": "osm_compare.parquet"}


def info_from_survey(survey: str | Path) -> dict[str, Any]:
    """A JSON-ready account of ``survey``: ``stages`` (stage -> done / not done / outputs only,
    with why), ``rows``, ``estimate`` (report.json's total), ``card_check``, ``calibration``,
    ``model``, ``options`` (survey.toml) and ``files`` (name -> bytes). ``FileNotFoundError``
    when ``survey`` is not a directory."""
    survey = Path(survey)
    if not survey.is_dir():
        raise FileNotFoundError(f"no survey directory: {survey}")
    report = _read_json(survey / files.REPORT) or {}
    total = report.get("total") or {}
    return {
        "survey": str(survey),
        "stages": stages_done(survey),
        "rows": {name: _rows(survey / file) for name, file in ROWS.items() if (survey / file).exists()},
        "estimate": {key: total.get(key) for key in ("est_cameras", "est_lo", "est_hi", "per_road_km",
                                                     "per_road_km_lo", "per_road_km_hi", "road_km", "surveyed_km",
                                                     "truth_cameras", "osm_cameras")} if total else None,
        "estimand": report.get("estimand"),
        "card_check": report.get("card_check"),
        "self_calibration": report.get("self_calibration"),
        "calibration": _calibration(report.get("calibration")),
        "model": report.get("model"),
        "warnings": report.get("warnings") or [],
        "options": _options(survey / files.SURVEY_TOML),
        "geopackage": _geopackage_layers(survey / files.GEOPACKAGE),
        "files": {p.name + ("/" if p.is_dir() else ""): _size(p) for p in sorted(survey.iterdir())
                  if not p.name.startswith(".")},
    }


def stages_done(survey: Path) -> dict[str, str]:
    """Each stage of ``scripts.survey.run.STAGES``: "done" (marked done, outputs whole), "done
    (outputs only)" (run by its own command), "not done", or why a marked stage is not done."""
    from scripts.survey.run import MARKERS, STAGE_OUTPUTS, STAGE_REQUIRED, STAGES, stage_problem

    found = {}
    for stage in STAGES:
        marker = _read_json(survey / MARKERS / f"{stage}.json")
        required = STAGE_REQUIRED.get(stage) or STAGE_OUTPUTS[stage][:1]
        present = all((survey / name).exists() for name in required)
        if marker is not None:
            problem = stage_problem(survey, stage, marker)
            found[stage] = "done" if problem is None else f"not done: {problem}"
        else:
            found[stage] = "done (outputs only)" if present else "not done"
    return found


def info_to_text(info: dict[str, Any]) -> str:
    """The account as aligned text, one section per kind of fact."""
    lines = [f"survey: {info['survey']}", "stages:"]
    lines += [f"  {stage:<10} {state}" for stage, state in info["stages"].items()]
    if info["rows"]:
        lines.append("rows:")
        lines += [f"  {name:<16} {count:>10,}" for name, count in info["rows"].items() if count is not None]
    if info.get("geopackage"):
        layers = ", ".join(f"{name} ({n:,})" for name, n in info["geopackage"].items())
        lines.append(f"{files.GEOPACKAGE} layers: {layers}")
    lines += _estimate_lines(info)
    lines += _calibration_lines(info)
    for note in info["warnings"]:
        lines.append(f"warning: {note}")
    lines.append("files:")
    lines += [f"  {name:<32} {_human(size):>10}" for name, size in info["files"].items()]
    return "\n".join(lines)


def _estimate_lines(info: dict[str, Any]) -> list[str]:
    est = info.get("estimate")
    if not est or est.get("est_cameras") is None:
        return ["estimate: none yet (camcensus estimate)"]
    lines = [f"estimate: {est['est_cameras']:,.0f} cameras (95% {est['est_lo']:,.0f}-{est['est_hi']:,.0f})"
             + (f", {est['per_road_km']:.2f} per road km" if est.get("per_road_km") is not None else "")]
    if info.get("estimand"):
        lines.append(f"  estimand: {info['estimand']}")
    for key, label in (("truth_cameras", "simulator truth"), ("osm_cameras", "mapped in OSM")):
        if est.get(key) is not None:
            lines.append(f"  {label}: {est[key]:,.0f}")
    return lines


def _calibration_lines(info: dict[str, Any]) -> list[str]:
    lines = []
    cal = info.get("calibration")
    if cal:
        figures = "  ".join(f"{name} {cal[name]:.2f} ({cal.get(name + '_lo', float('nan')):.2f}-"
                            f"{cal.get(name + '_hi', float('nan')):.2f})"
                            for name in ("precision", "recall") if cal.get(name) is not None)
        lines.append(f"calibration: {cal.get('source') or '?'}  {figures}".rstrip())
    check = info.get("card_check")
    if check:
        verdict = (check.get("verdict") or check.get("status") or check.get("summary")
                   if isinstance(check, dict) else None)
        lines.append(f"card check: {verdict if verdict is not None else json.dumps(check, default=str)[:200]}")
    model = info.get("model") or {}
    if model.get("model_id"):
        lines.append(f"model: {model['model_id']} (figures from {model.get('source') or '?'})")
    return lines


def _calibration(cal: dict | None) -> dict | None:
    """The calibration's headline figures (the bins stay in report.json)."""
    if not isinstance(cal, dict):
        return None
    keep = ("source", "n_verified", "n_audited", "conf_threshold", "precision", "precision_lo", "precision_hi",
            "recall", "recall_lo", "recall_hi", "false_per_image", "precision_from")
    return {key: cal.get(key) for key in keep if key in cal}


def _rows(path: Path) -> int | None:
    """Rows of a Parquet table, a directory of part files or a GeoJSON; None if unreadable."""
    try:
        if path.is_dir():
            import pyarrow.parquet as pq

            return sum(pq.read_metadata(p).num_rows for p in path.glob("part-*.parquet"))
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_metadata(path).num_rows
        return len(json.loads(path.read_text(encoding="utf-8")).get("features", []))
    except (OSError, ValueError, AttributeError):
        return None


def _geopackage_layers(path: Path) -> dict[str, int] | None:
    """Feature count of each layer of survey.gpkg (None when there is none or it cannot be read)."""
    if not path.is_file():
        return None
    try:
        import pyogrio

        return {str(name): int(pyogrio.read_info(path, layer=str(name))["features"])
                for name, _ in pyogrio.list_layers(path)}
    except Exception:  # noqa: BLE001  (an unreadable file is reported as such by its absence here)
        return None


def _options(path: Path) -> dict | None:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return data.get("survey", data)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _human(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size:,.1f} GB"
