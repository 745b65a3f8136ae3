"""Files for OpenStreetMap mappers' tools from the comparison with OSM (``geo.counting.osm_compare``):
evidence for a person to check, never an upload.

- ``osm_new_josm.geojson``: the ``new`` candidates as points tagged as OSM expects
  (``man_made=surveillance``, ``surveillance:type=camera``, ``camera:type``, ``camera:mount`` where
  locate knows it), for JOSM's GeoJSON import. The evidence rides along in ``camcensus:*`` keys
  (P(real), views, image ids, crop files, provenance), which are not OSM tags: a mapper who adds a
  camera copies the OSM tags, never these. The crops are JPEG files in ``osm_crops/``.
- ``osm_new_maproulette.geojson`` and ``osm_unseen_maproulette.geojson``: MapRoulette challenge
  files in its line-by-line format (RFC 7464: each line a record separator, then one
  FeatureCollection with one Feature: one task), the evidence crop inline as a data URI
  (``crop``) and in the task's Markdown (``instruction``). ``unseen`` tasks ask for a re-check
  of a mapped camera (``@id`` node/N links the OSM node), with the view the survey expected to
  show it.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from geo.io import write_bytes, write_text

JOSM_NEW = "osm_new_josm.geojson"
MAPROULETTE_NEW = "osm_new_maproulette.geojson"
MAPROULETTE_UNSEEN = "osm_unseen_maproulette.geojson"
CROPS_DIR = "osm_crops"
RS = "\x1e"  # RFC 7464 record separator, MapRoulette's line-by-line format
VIEW_PX = 256  # side of an unseen camera's expected view, inline
EVIDENCE_PREFIX = "camcensus:"
DISCLAIMER = ("Machine-made candidate from a camcensus street-imagery survey: evidence for a person to check "
              "on the ground or in imagery, not an edit. Do not upload it unchecked.")


def write_osm_exports(table: pd.DataFrame, survey_dir: str | Path, *, provenance: dict | None = None,
                      images: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write the JOSM GeoJSON of ``new`` candidates (with its crops) and the two MapRoulette
    challenge files from the comparison ``table`` into ``survey_dir``; return their paths
    (keys josm_new, maproulette_new, maproulette_unseen, crops). ``images``: the survey's images
    table (image_id, path), for the view an unseen camera was expected in (default: read from
    the survey)."""
    survey_dir = Path(survey_dir)
    provenance = provenance or {}
    if images is None and (survey_dir / "images.parquet").exists():
        images = pd.read_parquet(survey_dir / "images.parquet", columns=["image_id", "path"])
    new = table[table["status"] == "new"]
    unseen = table[table["status"] == "unseen"]
    crops_dir = survey_dir / CROPS_DIR
    crop_files = write_crops(new, crops_dir)
    paths = {
        "josm_new": write_text(survey_dir / JOSM_NEW, josm_geojson(new, crop_files=crop_files, provenance=provenance,
                                                                   relative_to=survey_dir)),
        "maproulette_new": write_text(survey_dir / MAPROULETTE_NEW, maproulette_new(new, provenance=provenance)),
        "maproulette_unseen": write_text(survey_dir / MAPROULETTE_UNSEEN,
                                         maproulette_unseen(unseen, provenance=provenance, images=images,
                                                            root=survey_dir)),
        "crops": crops_dir,
    }
    return paths


def write_crops(new: pd.DataFrame, crops_dir: Path) -> list[list[Path]]:
    """The crops (data URIs in the ``crops`` column) of each row as JPEG files
    ``camera-<id>-<k>.jpg``; one list of paths per row."""
    out: list[list[Path]] = []
    crops_dir.mkdir(parents=True, exist_ok=True)
    for row in new.itertuples(index=False):
        files = []
        for k, uri in enumerate(_list(row.crops)):
            if isinstance(uri, str) and uri.startswith("data:image/jpeg;base64,"):
                path = crops_dir / f"camera-{int(row.camera_id)}-{k}.jpg"
                write_bytes(path, base64.b64decode(uri.split(",", 1)[1]))
                files.append(path)
        out.append(files)
    return out


def josm_geojson(new: pd.DataFrame, *, crop_files: list[list[Path]] | None = None, provenance: dict | None = None,
                 relative_to: Path | None = None) -> str:
    """GeoJSON FeatureCollection of ``new`` candidates: the suggested OSM tags as properties,
    the evidence under ``camcensus:*`` keys (strings, as JOSM keeps them)."""
    features = []
    for k, row in enumerate(new.itertuples(index=False)):
        files = crop_files[k] if crop_files is not None else []
        names = [str(p.relative_to(relative_to)) if relative_to is not None else str(p) for p in files]
        props = dict(_tags(row.suggested_tags))
        props.update(_evidence(row, provenance, crops=names))
        features.append(_point(row.lon, row.lat, props))
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def maproulette_new(new: pd.DataFrame, *, provenance: dict | None = None) -> str:
    """MapRoulette line-by-line GeoJSON: one task per ``new`` candidate, its suggested tags, the
    evidence and the best crop inline (``crop``, and an image in ``instruction``)."""
    lines = []
    for row in new.itertuples(index=False):
        crops = [c for c in _list(row.crops) if isinstance(c, str)]
        tags = _tags(row.suggested_tags)
        tag_text = ", ".join(f"`{k}={v}`" for k, v in tags.items())
        text = (f"A street-imagery survey found what looks like a surveillance camera here, not mapped in "
                f"OpenStreetMap (P(real) {float(row.p_real):.2f}, seen in {_count(row.n_views)} view(s)). Check the "
                f"crop and current imagery or the street; if it is a camera and not yet mapped, add a node with "
                f"{tag_text}. If not, mark the task 'not an issue'. {DISCLAIMER}")
        if crops:
            text += f"\n\n![best crop]({crops[0]})"
        props = {"id": f"camcensus-new-{int(row.camera_id)}", **tags,
                 **_evidence(row, provenance), "instruction": text, "crop": crops[0] if crops else None}
        lines.append(RS + json.dumps({"type": "FeatureCollection",
                                      "features": [_point(row.lon, row.lat, props)]}, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def maproulette_unseen(unseen: pd.DataFrame, *, provenance: dict | None = None, images: pd.DataFrame | None = None,
                       root: Path | None = None) -> str:
    """MapRoulette line-by-line GeoJSON: one re-check task per ``unseen`` OSM camera (``@id``
    node/N), with p_find and, inline, the view the survey expected to show it."""
    paths = {}
    if images is not None and len(images) and "path" in images:
        paths = dict(zip(images["image_id"].astype(str), images["path"]))
    lines = []
    for row in unseen.itertuples(index=False):
        views = [str(v) for v in _list(row.expected_views)]
        view = _view_uri(paths.get(views[0]), root) if views else None
        p = float(row.p_find) if row.p_find is not None and np.isfinite(row.p_find) else float("nan")
        meaning = ("a high value: the camera is probably gone, moved or mis-mapped" if p >= 0.8 else
                   "a low value: this survey cannot tell whether it is there")
        text = (f"OpenStreetMap has a surveillance camera here (node {row.osm_id}) that a street-imagery survey "
                f"did not find, although it would have found it with probability {p:.2f} ({meaning}). Check "
                f"whether the camera still exists and where exactly; fix or remove the node only on evidence "
                f"you have checked yourself. {DISCLAIMER}")
        if view:
            text += f"\n\n![view expected to show it]({view})"
        props = {"id": f"camcensus-unseen-{row.osm_id}", "@id": f"node/{row.osm_id}", **_tags(row.osm_tags),
                 f"{EVIDENCE_PREFIX}p_find": round(p, 3) if np.isfinite(p) else None,
                 f"{EVIDENCE_PREFIX}expected_views": ";".join(views),
                 f"{EVIDENCE_PREFIX}evidence": str(row.evidence),
                 **{f"{EVIDENCE_PREFIX}{k}": v for k, v in (provenance or {}).items() if v is not None},
                 "instruction": text, "crop": view}
        lines.append(RS + json.dumps({"type": "FeatureCollection",
                                      "features": [_point(row.lon, row.lat, props)]}, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def read_line_by_line(path: str | Path) -> list[dict]:
    """The tasks of a line-by-line GeoJSON file: one FeatureCollection per line (RS stripped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").split("\n"):  # not splitlines: RS is a boundary there
        line = line.lstrip(RS).strip()
        if line:
            out.append(json.loads(line))
    return out


# --- helpers --------------------------------------------------------------------------------

def _evidence(row, provenance: dict | None, *, crops: list[str] | None = None) -> dict:
    """The evidence of a located camera as ``camcensus:*`` string keys."""
    out = {f"{EVIDENCE_PREFIX}camera_id": str(int(row.camera_id)),
           f"{EVIDENCE_PREFIX}p_real": f"{float(row.p_real):.3f}",
           f"{EVIDENCE_PREFIX}class": str(row.class_name),
           f"{EVIDENCE_PREFIX}views": _count(row.n_views),
           f"{EVIDENCE_PREFIX}detections": _count(row.n_detections),
           f"{EVIDENCE_PREFIX}position_uncertainty_m": f"{float(row.uncertainty_m):.1f}",
           f"{EVIDENCE_PREFIX}image_ids": ";".join(str(v) for v in _list(row.image_ids)),
           f"{EVIDENCE_PREFIX}evidence": str(row.evidence),
           f"{EVIDENCE_PREFIX}note": DISCLAIMER}
    if crops is not None:
        out[f"{EVIDENCE_PREFIX}crops"] = ";".join(crops)
    for key, value in (provenance or {}).items():
        if value is not None:
            out[f"{EVIDENCE_PREFIX}{key}"] = str(value)
    return out


def _view_uri(rel: str | None, root: Path | None, *, size: int = VIEW_PX) -> str | None:
    """A whole view scaled to ``size`` px as a JPEG data URI (None when unreadable)."""
    if not isinstance(rel, str) or not rel:
        return None
    from PIL import Image

    path = Path(rel) if Path(rel).is_absolute() or root is None else Path(root) / rel
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            img.thumbnail((size, size))
            buffer = io.BytesIO()
            img.save(buffer, format="JPEG", quality=75)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _tags(value) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str) and value:
        return {str(k): str(v) for k, v in json.loads(value).items()}
    return {}


def _list(value) -> list:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return list(value)


def _count(value) -> str:
    return "?" if value is None or pd.isna(value) else str(int(value))


def _point(lon: float, lat: float, props: dict) -> dict:
    point = {"type": "Point", "coordinates": [round(float(lon), 7), round(float(lat), 7)]}
    return {"type": "Feature", "geometry": point,
            "properties": props}
