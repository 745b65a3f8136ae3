"""map.html: one self-contained Leaflet page of a survey that works offline.

Leaflet's JS and CSS come from the pinned ``xstatic-leaflet`` package (the upstream release files)
and are embedded in the page, its CSS images as data URIs, so that the page loads nothing from
anywhere: no CDN learns who looks at a map of cameras. An online basemap is optional
(``basemap``: a tile URL with {z}/{x}/{y}, or an xyzservices name such as OpenStreetMap.Mapnik).

The page draws the density per area with a legend, the street network styled by coverage, the
located cameras (colour: class, size: confidence; popup: confidence, views, position uncertainty
and a thumbnail of the best crop) and, for simulated surveys, the true cameras as a layer that
can be switched off; after ``camcensus compare-osm``, the comparison with OpenStreetMap as four
layers (confirmed, new, mapped but not seen, outside the strip; ``add_osm_layers``). Its data
travels as JSON in a ``<script type="application/json">`` block with <, > and & escaped, and
the page script builds every label with ``textContent``: no text from the data is ever parsed as
HTML.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.outputs.colours import (TRUTH, class_colours, colour_for, coverage_colour, coverage_colours,
                                  density_bins)
from geo.errors import GeoInputError
from geo.io import write_text

MAX_MAP_CAMERAS = 50_000  # camera markers drawn on map.html (all are in cameras.parquet)
CANVAS_ABOVE = 5_000  # more features than this: draw on a canvas instead of SVG (faster)
DENSITY_UNITS = {"per_road_km": "estimated cameras per road km", "per_km2": "estimated cameras per km²",
                 "est_cameras": "estimated cameras", "per_1000_people": "estimated cameras per 1,000 people"}
_AREA_FIELDS = [("road_km", "road km", 2), ("surveyed_km", "surveyed km", 2), ("n_images", "images", 0),
                ("n_detections", "detections", 0), ("n_cameras", "cameras located", 0),
                ("per_road_km", "cameras / road km", 3), ("per_km2", "cameras / km²", 2),
                ("per_1000_people", "cameras / 1,000 people", 3),
                ("rate_est_cameras", "Stanford rate estimate", 1),
                ("truth_cameras", "true cameras", 0), ("truth_seen_cameras", "true cameras in some image", 0),
                ("osm_cameras", "OSM-mapped cameras", 0)]


def write_map_html(areas: gpd.GeoDataFrame, path: str | Path, *, cameras: gpd.GeoDataFrame | None = None,
                   streets: gpd.GeoDataFrame | None = None, coverage: np.ndarray | None = None,
                   truth: gpd.GeoDataFrame | None = None, thumbnails: list[str | None] | None = None,
                   title: str = "Camera density", subtitle: str = "", column: str = "per_road_km",
                   basemap: str | None = None, banner: str = "") -> Path:
    """Write the map page (see the module docstring) to ``path``.

    ``areas``: the density table (``column`` coloured). ``streets``: any CRS, with ``coverage``
    (0-1 per street, same order) when known. ``cameras``: lon, lat, class_name, conf_max, n_views,
    n_detections, uncertainty_m, method. ``truth``: true camera points (camera_id, class_name).
    ``thumbnails``: a data URI or None per camera row. ``basemap``: None (no tiles: nothing is
    requested) or a tile URL / xyzservices name.
    """
    data = map_data(areas, cameras=cameras, streets=streets, coverage=coverage, truth=truth,
                    thumbnails=thumbnails, title=title, subtitle=subtitle, column=column, basemap=basemap)
    data["banner"] = str(banner or "")  # a provisional estimate's warning (issue 26)
    return write_text(path, page_from_data(data))


def _truth_features(truth: gpd.GeoDataFrame | None) -> list[dict]:
    """The simulator's true cameras as GeoJSON point features (class, mount, images seen in)."""
    features: list[dict] = []
    if truth is None or not len(truth):
        return features
    points = truth.to_crs(4326)
    points = points[points.geometry.notna() & ~points.geometry.is_empty].reset_index(drop=True)
    for _, row in points.iterrows():
        seen = row.get("seen_by")
        n_seen = len(seen) if isinstance(seen, (list, tuple, np.ndarray)) else None
        rows = [["class", _plain_text(row.get("class_name"))]]
        if _plain_text(row.get("mount")):
            rows.append(["mount", _plain_text(row.get("mount"))])
        if n_seen is not None:
            rows.append(["in images", f"{n_seen}"])
        point = row.geometry.representative_point()
        features.append({
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [_round(point.x), _round(point.y)]},
            "properties": {"title": f"true camera {_plain_text(row.get('camera_id'))}", "rows": rows}})
    return features


def map_data(areas: gpd.GeoDataFrame, *, cameras: gpd.GeoDataFrame | None = None,
             streets: gpd.GeoDataFrame | None = None, coverage: np.ndarray | None = None,
             truth: gpd.GeoDataFrame | None = None, thumbnails: list[str | None] | None = None,
             title: str = "Camera density", subtitle: str = "", column: str = "per_road_km",
             basemap: str | None = None) -> dict:
    """Everything the page draws, as one JSON-able dict (plain text: the page escapes it)."""
    areas = areas.to_crs(4326).reset_index(drop=True)
    values = (pd.to_numeric(areas[column], errors="coerce").to_numpy(float) if column in areas
              else np.full(len(areas), np.nan))
    edges, colours = density_bins(values)
    area_features = []
    for i, row in areas.iterrows():
        area_features.append(_feature(row.geometry, {
            "fill": colour_for(values[i], edges, colours),
            "label": f"{row.get('name', row.get('area_id', ''))}: {_value_text(values[i], column)}",
            "title": str(row.get("name", "")), "subtitle": str(row.get("area_id", "")),
            "rows": area_rows(row)}))
    bounds = list(areas.total_bounds) if len(areas) else [np.nan] * 4

    street_features = []
    if streets is not None and len(streets):
        lines = streets.to_crs(4326).reset_index(drop=True)
        share = np.zeros(len(lines)) if coverage is None else np.asarray(coverage, dtype=float)
        geoms = shapely.set_precision(shapely.simplify(lines.geometry.to_numpy(), 0.000005), 1e-6)  # all at once
        street_colours = coverage_colours(share)
        names_ = list(lines["name"]) if "name" in lines else [None] * len(lines)  # plain lists, not .iloc per street
        kinds = list(lines["highway"]) if "highway" in lines else [None] * len(lines)
        for i in range(len(lines)):
            covered = bool(share[i] > 0)
            name, kind = names_[i], kinds[i]
            street_features.append(_feature(geoms[i], precise=True, properties={
                "color": street_colours[i], "weight": 3.5 if covered else 1.5,
                "title": _plain_text(name) or _plain_text(kind) or "street",
                "rows": [["coverage", f"{100 * share[i]:.0f}% of its length"]] + (
                    [["road type", _plain_text(kind)]] if _plain_text(kind) else [])}))
        street_bounds = lines.total_bounds
        bounds = street_bounds if not np.all(np.isfinite(bounds)) else [
            min(bounds[0], street_bounds[0]), min(bounds[1], street_bounds[1]),
            max(bounds[2], street_bounds[2]), max(bounds[3], street_bounds[3])]

    camera_features = []
    names: list[str] = []
    if cameras is not None and len(cameras):
        cams = cameras.head(MAX_MAP_CAMERAS).reset_index(drop=True)
        thumbs = list(thumbnails or [])[:len(cams)]
        names = [str(v) for v in cams["class_name"]] if "class_name" in cams else ["camera"] * len(cams)
        palette = class_colours(names)
        conf = pd.to_numeric(cams.get("conf_max", pd.Series(np.nan, index=cams.index)), errors="coerce").to_numpy(float)
        radius = (4.0 + 6.0 * np.where(np.isfinite(conf), np.clip(conf, 0, 1), 0.3)).tolist()
        lons, lats = cams["lon"].to_numpy(float).tolist(), cams["lat"].to_numpy(float).tolist()
        used = [c for c in ("camera_id", "class_name", "conf_max", "n_views", "n_detections", "uncertainty_m",
                            "method") if c in cams.columns]  # what the title and camera_rows read
        columns = [cams[c].tolist() for c in used]  # plain dict rows, not a Series per camera
        records = (dict(zip(used, values)) for values in zip(*columns)) if used else ({} for _ in range(len(cams)))
        for i, row in enumerate(records):
            camera_features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lons[i], 6), round(lats[i], 6)]},
                "properties": {
                    "color": palette[names[i]],
                    "radius": radius[i],
                    "title": f"camera {row.get('camera_id', i)}",
                    "rows": camera_rows(row),
                    "thumb": thumbs[i] if i < len(thumbs) and _is_thumb(thumbs[i]) else None}})
        if len(cameras) > len(cams):
            subtitle = f"{subtitle} · {len(cams):,} of {len(cameras):,} cameras drawn".strip(" ·")
    truth_features = _truth_features(truth)
    if not np.all(np.isfinite(bounds)):
        bounds = [-180.0, -85.0, 180.0, 85.0]
    n_features = len(area_features) + len(street_features) + len(camera_features) + len(truth_features)
    return {
        "title": str(title), "subtitle": str(subtitle),
        "bounds": [[float(bounds[1]), float(bounds[0])], [float(bounds[3]), float(bounds[2])]],
        "canvas": n_features > CANVAS_ABOVE,
        "basemap": basemap_from_spec(basemap),
        "legend": {"title": DENSITY_UNITS.get(column, column.replace("_", " ")),
                   "bins": [[_edge(edges[k]), _edge(edges[k + 1]), colours[k]] for k in range(len(colours))],
                   "nodata": bool(np.isnan(values).any()) or not len(values),
                   "classes": [[name, colour] for name, colour in class_colours(names).items()],
                   "truth": TRUTH if truth_features else None,
                   "coverage": ([[f"{p}%", coverage_colour(p / 100)] for p in (25, 50, 100)]
                                if street_features else None)},
        "areas": {"type": "FeatureCollection", "features": area_features},
        "streets": {"type": "FeatureCollection", "features": street_features},
        "cameras": {"type": "FeatureCollection", "features": camera_features},
        "truth": {"type": "FeatureCollection", "features": truth_features},
    }


OSM_STATUS_COLOURS = {"confirmed": "#1a9850", "new": "#d01c8b", "unseen": "#f46d43", "outside": "#8c8c8c"}
OSM_LAYER_NAMES = {"confirmed": "OSM: confirmed", "new": "OSM: new (not in OSM)",
                   "unseen": "OSM: mapped, not seen", "outside": "OSM: outside the strip"}
_MAP_DATA = re.compile(r'(<script type="application/json" id="map-data">)(.*?)(</script>)', re.DOTALL)


def osm_layers(table: pd.DataFrame) -> dict:
    """The comparison with OSM (``geo.counting.osm_compare``) as map layers: one FeatureCollection
    per status (confirmed, new, unseen, outside), popups with the probability, the crops and, for
    a new candidate, its suggested OSM tags."""
    out = {}
    for status in OSM_STATUS_COLOURS:
        rows = table[table["status"] == status] if len(table) else table
        features = []
        for row in rows.itertuples(index=False):
            props = {"color": OSM_STATUS_COLOURS[status], "status": status, "rows": [["status", status]]}
            if status in ("confirmed", "new"):
                props["title"] = f"located camera {int(row.camera_id)}"
                props["rows"] += [["P(real)", _fmt(row.p_real, 2)], ["class", _plain_text(row.class_name)],
                                  ["views", _fmt(row.n_views, 0)],
                                  ["position", f"± {_fmt(row.uncertainty_m, 1)} m"]]
                props["thumbs"] = [t for t in (row.crops if row.crops is not None else []) if _is_thumb(t)][:3]
            else:
                props["title"] = f"OSM node {_plain_text(row.osm_id)}"
            if status == "confirmed":
                props["subtitle"] = f"OSM node {_plain_text(row.osm_id)}"
                props["rows"] += [["distance", f"{_fmt(row.distance_m, 1)} m"]]
                if row.class_agree is not None and row.class_agree is not pd.NA:
                    props["rows"] += [["class agrees with OSM", "yes" if bool(row.class_agree) else "no"]]
            if status in ("confirmed", "unseen") and _finite(row.p_find):
                props["rows"] += [["p_find", _fmt(row.p_find, 2)]]
            if status == "unseen":
                props["subtitle"] = ("probably gone, moved or mis-mapped" if float(row.p_find or 0) >= 0.8
                                     else "this survey cannot tell")
            if status == "outside":
                props["subtitle"] = "outside the survey's strip: the survey says nothing about it"
            if status == "new":
                tags = json.loads(row.suggested_tags) if isinstance(row.suggested_tags, str) else {}
                props["tags"] = [f"{k}={v}" for k, v in tags.items()]
                props["subtitle"] = "not in OpenStreetMap: a candidate for a person to check, not an edit"
            features.append({"type": "Feature",
                             "geometry": {"type": "Point", "coordinates": [_round(row.lon), _round(row.lat)]},
                             "properties": props})
        out[status] = {"type": "FeatureCollection", "features": features}
    return out


def add_osm_layers(path: str | Path, table: pd.DataFrame) -> Path:
    """Add (or replace) the comparison with OSM as four layers of an existing map.html."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    found = _MAP_DATA.search(text)
    if not found:
        raise GeoInputError(f"{path} is not a camcensus map page (no map data)")
    data = json.loads(found.group(2))
    data["osm"] = osm_layers(table)
    data["legend"]["osm"] = [[OSM_LAYER_NAMES[s], c, s in ("confirmed", "new")] for s, c in OSM_STATUS_COLOURS.items()]
    return write_text(path, page_from_data(data))


def page_from_data(data: dict) -> str:
    """The HTML page: Leaflet's CSS and JS, the data block and the page script, all inline."""
    version, leaflet_js, leaflet_css = leaflet_assets()
    payload = script_json(data)
    title = html.escape(data["title"], quote=True)
    subtitle = html.escape(data["subtitle"], quote=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="camcensus; Leaflet {html.escape(version)} embedded">
<meta http-equiv="Content-Security-Policy" content="{html.escape(_csp(data), quote=True)}">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>
{leaflet_css}
</style>
<style>{_PAGE_CSS}</style>
</head>
<body>
<header><h1 id="title">{title}</h1><p id="subtitle">{subtitle}</p>{_banner_html(data)}</header>
<div id="map"></div>
<script type="application/json" id="map-data">{payload}</script>
<script>
{leaflet_js}
</script>
<script>
{_PAGE_JS}
</script>
</body>
</html>
"""


def banner_from_report(report: dict | None) -> str:
    """The provisional banner of a report whose card check failed (issue 26), else ""."""
    if not report or not report.get("provisional"):
        return ""
    warning = (report.get("card_check") or {}).get("warning") or next(
        (w for w in report.get("warnings", []) if "card does not fit" in w), "")
    return f"Provisional estimate: {warning}" if warning else "Provisional estimate"


def _banner_html(data: dict) -> str:
    text = data.get("banner") or ""
    return f'<p id="banner" class="provisional">{html.escape(text, quote=True)}</p>' if text else ""


def script_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: <, >, & and the JS line separators escaped."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str, str]:
    """(version, leaflet.js, leaflet.css with its images inlined) from the xstatic-leaflet package."""
    try:
        import xstatic.pkg.leaflet as leaflet
    except ImportError:
        raise GeoInputError("map.html needs the xstatic-leaflet package (pip install -e .)") from None
    base = Path(leaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        image = base / match.group(1)
        return f"url(data:image/png;base64,{base64.b64encode(image.read_bytes()).decode('ascii')})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    return str(leaflet.VERSION), js, css


def basemap_from_spec(spec: str | None) -> dict | None:
    """None, or {"url", "attribution", "max_zoom"} for a tile URL (http(s), with {z}, {x}, {y})
    or an xyzservices provider name (case-insensitive, e.g. OpenStreetMap.Mapnik; "osm" for it)."""
    if spec is None or str(spec).strip().lower() in ("", "none", "off"):
        return None
    spec = str(spec).strip()
    if spec.lower() == "osm":
        spec = "OpenStreetMap.Mapnik"
    if re.match(r"^https?://", spec, flags=re.IGNORECASE):
        if not all(k in spec for k in ("{z}", "{x}", "{y}")):
            raise GeoInputError(f"--basemap URL must hold {{z}}, {{x}} and {{y}}: {spec}")
        if not re.match(r"^https?://[A-Za-z0-9.{}:-]+(/[^\s;,'\"<>]*)?$", spec, flags=re.IGNORECASE):
            raise GeoInputError(f"--basemap URL is malformed (a host, then a path without spaces or quotes): {spec}")
        return {"url": spec, "attribution": "", "max_zoom": 19}
    import xyzservices

    try:
        provider = xyzservices.providers.query_name(spec)
    except ValueError:
        raise GeoInputError(f"unknown --basemap '{spec}': give a tile URL with {{z}}/{{x}}/{{y}} or a "
                            "name such as OpenStreetMap.Mapnik or Esri.WorldImagery") from None
    if provider.requires_token():
        raise GeoInputError(f"--basemap {spec} needs an API key: give its tile URL instead")
    return {"url": provider.build_url(), "attribution": str(provider.get("attribution", "")),
            "max_zoom": int(provider.get("max_zoom", 19))}


def area_rows(row: pd.Series) -> list[list[str]]:
    """The popup table of one area: [label, value] pairs, plain text."""
    rows = []
    est, lo, hi = row.get("est_cameras"), row.get("est_lo"), row.get("est_hi")
    if _finite(est):
        interval = f" (95% {_fmt(lo, 1)}–{_fmt(hi, 1)})" if _finite(lo) and _finite(hi) else ""
        rows.append(["estimated cameras", f"{_fmt(est, 1)}{interval}"])
    for key, label, digits in _AREA_FIELDS:
        value = row.get(key)
        if _finite(value):
            rows.append([label, _fmt(value, digits)])
    return rows


def camera_rows(row: pd.Series) -> list[list[str]]:
    """The popup table of one located camera: [label, value] pairs, plain text."""
    rows = [["class", _plain_text(row.get("class_name")) or "camera"]]
    if _finite(row.get("conf_max")):
        rows.append(["confidence", _fmt(row.get("conf_max"), 2)])
    views = row.get("n_views")
    if _finite(views):
        dets = row.get("n_detections")
        extra = f" ({_fmt(dets, 0)} detections)" if _finite(dets) and dets != views else ""
        rows.append(["views", f"{_fmt(views, 0)}{extra}"])
    if _finite(row.get("uncertainty_m")):
        method = _plain_text(row.get("method"))
        rows.append(["position", f"± {_fmt(row.get('uncertainty_m'), 1)} m" + (f" ({method})" if method else "")])
    return rows


# --- helpers --------------------------------------------------------------------------------

def _csp(data: dict) -> str:
    """Content-Security-Policy: inline script and style only; images from data: (thumbnails,
    Leaflet's) and, with a basemap, from its tile server only."""
    img = "data:"
    if data.get("basemap"):
        url = re.match(r"^(https?://[^/]+)", data["basemap"]["url"], flags=re.IGNORECASE)
        if url:  # a templated host ({s}.tile...) allows its scheme: CSP wildcards only lead a host
            img += " " + (url.group(1) if "{" not in url.group(1) else url.group(1).split(":")[0] + ":")
    return (f"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src {img}; "
            "connect-src 'none'; font-src 'none'; base-uri 'none'; form-action 'none'")


def _feature(geometry, properties: dict, *, precise: bool = False) -> dict:
    """A GeoJSON feature; coordinates on a 1e-6 degree grid (``precise``: already on it)."""
    if geometry is None or geometry.is_empty:
        geom = None
    else:
        geom = shapely.geometry.mapping(geometry if precise else shapely.set_precision(geometry, 1e-6))
    return {"type": "Feature", "geometry": geom, "properties": properties}


def _round(value: Any) -> float:
    return round(float(value), 6)


def _is_thumb(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:image/jpeg;base64,")


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _fmt(value: Any, digits: int) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "n/a"
    return f"{number:,.{digits}f}"


def _edge(value: float) -> str:
    return "" if math.isinf(value) else f"{value:g}"


def _value_text(value: float, column: str) -> str:
    if not np.isfinite(value):
        return "no data"
    unit = {"per_road_km": "/ road km", "per_km2": "/ km²", "per_1000_people": "/ 1,000 people"}.get(column, "")
    return f"{value:.2f} {unit}".strip()


def _plain_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    return str(value)


_PAGE_CSS = """
html, body { height: 100%; margin: 0; font: 14px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { display: flex; flex-direction: column; }
header { padding: 6px 12px; background: #fff; border-bottom: 1px solid #ccc; }
header h1 { font-size: 17px; margin: 0; }
header p { margin: 2px 0 0; color: #555; font-size: 12.5px; }
header p.provisional { color: #7a4b00; background: #fff3cd; padding: 2px 6px; font-weight: 600; }
header p:empty { display: none; }
#map { flex: 1; background: #f3f2ee; }
.cc-legend { background: rgba(255,255,255,.92); padding: 6px 8px; border-radius: 4px;
             box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 12px; max-width: 220px; }
.cc-legend h4 { margin: 0 0 4px; font-size: 12px; }
.cc-legend .row { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.cc-legend .sw { width: 16px; height: 12px; border: 1px solid #777; flex: none; }
.cc-legend .ln { width: 18px; height: 0; border-top-width: 4px; border-top-style: solid; flex: none; }
.cc-legend .dot { width: 10px; height: 10px; border-radius: 50%; border: 1px solid #222; flex: none; }
.cc-legend .ring { width: 10px; height: 10px; border-radius: 50%; border: 2px solid #111; flex: none; }
.cc-popup h3 { margin: 0 0 2px; font-size: 13px; }
.cc-popup small { color: #666; }
.cc-popup table { border-collapse: collapse; margin-top: 4px; }
.cc-popup td { padding: 1px 4px; vertical-align: top; }
.cc-popup td + td { text-align: right; font-variant-numeric: tabular-nums; }
.cc-popup img { display: block; margin-top: 6px; width: 96px; height: 96px; border: 1px solid #999; }
.cc-popup .cc-crops { display: flex; gap: 4px; }
.cc-popup pre.cc-tags { margin: 2px 0; font-size: 11.5px; background: #f4f4f4; padding: 3px; }
"""

_PAGE_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("map-data").textContent);
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function popup(props) {
    var box = el("div", "cc-popup");
    box.appendChild(el("h3", null, props.title || ""));
    if (props.subtitle) box.appendChild(el("small", null, props.subtitle));
    var table = el("table");
    (props.rows || []).forEach(function (pair) {
      var tr = el("tr");
      tr.appendChild(el("td", null, pair[0]));
      tr.appendChild(el("td", null, pair[1]));
      table.appendChild(tr);
    });
    box.appendChild(table);
    if (typeof props.thumb === "string" && props.thumb.indexOf("data:image/jpeg;base64,") === 0) {
      var img = el("img");
      img.src = props.thumb;
      img.alt = "best crop";
      box.appendChild(img);
    }
    if (props.tags && props.tags.length) {
      box.appendChild(el("small", null, "suggested OSM tags (check before adding):"));
      box.appendChild(el("pre", "cc-tags", props.tags.join("\n")));
    }
    if (props.thumbs && props.thumbs.length) {
      var strip = el("div", "cc-crops");
      props.thumbs.forEach(function (t) {
        if (typeof t !== "string" || t.indexOf("data:image/jpeg;base64,") !== 0) return;
        var im = el("img");
        im.src = t;
        im.alt = "crop";
        strip.appendChild(im);
      });
      box.appendChild(strip);
    }
    return box;
  }
  function bindPopup(feature, layer) {
    layer.bindPopup(function () { return popup(feature.properties); }, {maxWidth: 320});
  }
  var map = L.map("map", {preferCanvas: !!data.canvas, zoomSnap: 0.25});
  map.attributionControl.setPrefix("Leaflet");
  map.fitBounds(data.bounds, {padding: [12, 12]});
  L.control.scale({imperial: false}).addTo(map);
  var overlays = {};
  if (data.basemap) {
    var tiles = L.tileLayer(data.basemap.url, {maxZoom: data.basemap.max_zoom || 19});
    tiles.getAttribution = function () { return ""; };
    tiles.addTo(map);
    if (data.basemap.attribution) {
      var credit = el("span", null, data.basemap.attribution);
      map.attributionControl.addAttribution(credit.outerHTML);
    }
    overlays["basemap"] = tiles;
  }
  var areas = L.geoJSON(data.areas, {
    style: function (f) {
      return {fillColor: f.properties.fill, color: "#555", weight: 1, fillOpacity: 0.55, className: "cc-area"};
    },
    onEachFeature: function (f, layer) {
      bindPopup(f, layer);
      layer.bindTooltip(el("span", null, f.properties.label), {sticky: true});
    }
  }).addTo(map);
  overlays["density per area"] = areas;
  if (data.streets.features.length) {
    var streets = L.geoJSON(data.streets, {
      style: function (f) {
        return {color: f.properties.color, weight: f.properties.weight, opacity: 0.95, className: "cc-street"};
      },
      onEachFeature: bindPopup
    }).addTo(map);
    overlays["streets (coverage)"] = streets;
  }
  if (data.truth.features.length) {
    var truth = L.geoJSON(data.truth, {
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 5.5, color: data.legend.truth, weight: 1, opacity: 0.75,
                                       fill: true, fillOpacity: 0, className: "cc-truth"});
      },
      onEachFeature: bindPopup
    }).addTo(map);
    overlays["true cameras (simulated)"] = truth;
  }
  if (data.cameras.features.length) {
    var cameras = L.geoJSON(data.cameras, {
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: f.properties.radius, color: "#222", weight: 1,
                                       fillColor: f.properties.color, fillOpacity: 0.9, className: "cc-camera"});
      },
      onEachFeature: bindPopup
    }).addTo(map);
    overlays["located cameras"] = cameras;
  }
  if (data.osm) {
    [["confirmed", "OSM: confirmed", true], ["new", "OSM: new (not in OSM)", true],
     ["unseen", "OSM: mapped, not seen", true], ["outside", "OSM: outside the strip", false]].forEach(function (s) {
      var fc = data.osm[s[0]];
      if (!fc || !fc.features.length) return;
      var layer = L.geoJSON(fc, {
        pointToLayer: function (f, latlng) {
          var filled = s[0] === "confirmed" || s[0] === "new";
          return L.circleMarker(latlng, {radius: 7, color: f.properties.color, weight: 2.5, fill: true,
                                         fillColor: f.properties.color, fillOpacity: filled ? 0.35 : 0,
                                         className: "cc-osm cc-osm-" + s[0]});
        },
        onEachFeature: bindPopup
      });
      if (s[2]) layer.addTo(map);
      overlays[s[1]] = layer;
    });
  }
  L.control.layers(null, overlays, {collapsed: false}).addTo(map);
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var box = el("div", "cc-legend");
    var lg = data.legend;
    box.appendChild(el("h4", null, lg.title));
    lg.bins.forEach(function (b) {
      var row = el("div", "row"), sw = el("span", "sw");
      sw.style.background = b[2];
      row.appendChild(sw);
      row.appendChild(el("span", null, b[1] === "" ? b[0] + " or more" : b[0] + " – " + b[1]));
      box.appendChild(row);
    });
    if (lg.nodata) {
      var nd = el("div", "row"), nsw = el("span", "sw");
      nsw.style.background = "#d9d9d9";
      nd.appendChild(nsw);
      nd.appendChild(el("span", null, "no data"));
      box.appendChild(nd);
    }
    if (lg.classes.length) box.appendChild(el("h4", null, "located cameras (size: confidence)"));
    lg.classes.forEach(function (c) {
      var row = el("div", "row"), dot = el("span", "dot");
      dot.style.background = c[1];
      row.appendChild(dot);
      row.appendChild(el("span", null, c[0]));
      box.appendChild(row);
    });
    if (lg.truth) {
      var tr = el("div", "row");
      tr.appendChild(el("span", "ring"));
      tr.appendChild(el("span", null, "true camera (simulated)"));
      box.appendChild(tr);
    }
    if (lg.osm) {
      box.appendChild(el("h4", null, "OpenStreetMap comparison"));
      lg.osm.forEach(function (o) {
        var row = el("div", "row"), dot = el("span", o[2] ? "dot" : "ring");
        if (o[2]) dot.style.background = o[1]; else dot.style.borderColor = o[1];
        row.appendChild(dot);
        row.appendChild(el("span", null, o[0]));
        box.appendChild(row);
      });
    }
    if (lg.coverage) {
      box.appendChild(el("h4", null, "street coverage"));
      var none = el("div", "row"), nln = el("span", "ln");
      nln.style.borderTopColor = "#9e9e9e";
      nln.style.borderTopWidth = "2px";
      none.appendChild(nln);
      none.appendChild(el("span", null, "not surveyed"));
      box.appendChild(none);
      lg.coverage.forEach(function (c) {
        var row = el("div", "row"), ln = el("span", "ln");
        ln.style.borderTopColor = c[1];
        row.appendChild(ln);
        row.appendChild(el("span", null, c[0] + " of its length"));
        box.appendChild(row);
      });
    }
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  legend.addTo(map);
  window.camcensusMap = map;
})();
"""
