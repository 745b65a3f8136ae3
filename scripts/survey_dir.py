"""File names inside a survey directory (the data contracts of shared/DESIGN.md)."""

from __future__ import annotations

import json
from pathlib import Path

NETWORK = "network.graphml"
SAMPLE_INFO = "sample.json"  # area spec, network type and sampling parameters, road km
POINTS = "points.parquet"
VIEWS = "views.parquet"
IMAGES = "images.parquet"
IMAGES_DIR = "images"
TRUTH = "truth.geojson"
TRUTH_BOXES = "truth_boxes.parquet"
DETECTIONS_DIR = "detections"
DETECT_SUMMARY = "detect_summary.json"
CAMERAS = "cameras.parquet"
DENSITY_GEOJSON = "density.geojson"
DENSITY_PARQUET = "density.parquet"
MAP_HTML = "map.html"
DENSITY_PNG = "density.png"
REPORT = "report.json"
GEOPACKAGE = "survey.gpkg"  # every layer, styled for QGIS (geo.outputs.geopackage)
SURVEY_TOML = "survey.toml"


def recorded_model_id(survey_dir: str | Path) -> str | None:
    """The model id the detect stage recorded: detect_summary.json, else the first part's rows."""
    survey_dir = Path(survey_dir)
    summary = survey_dir / DETECT_SUMMARY
    if summary.exists():
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            data = {}
        for key in ("model_id", "model"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key]
    parts = sorted((survey_dir / DETECTIONS_DIR).glob("part-*.parquet"))
    if parts:
        import pyarrow.parquet as pq

        table = pq.read_table(parts[0])
        if "model_id" in table.column_names and table.num_rows:
            value = table.column("model_id")[0].as_py()
            return str(value) if value else None
    return None
