"""Exports of a density table: GeoJSON (RFC 7946), GeoParquet, an HTML map, a PNG map, JSON.

Every file is written to a temporary name in the target directory and renamed, so a crash never
leaves a half-written output. The HTML map (folium/Leaflet) escapes every text it shows.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.io import atomic_path, write_parquet, write_text

MAX_MAP_CAMERAS = 50_000  # camera markers drawn on map.html (the rest are in cameras.parquet)
_POPUP_FIELDS = [("road_km", "road km", 2), ("surveyed_km", "surveyed km", 2), ("n_images", "images", 0),
                 ("n_detections", "detections", 0), ("n_cameras", "cameras located", 0),
                 ("est_cameras", "estimated cameras", 1), ("est_lo", "95% low", 1), ("est_hi", "95% high", 1),
                 ("per_road_km", "cameras / road km", 3), ("per_km2", "cameras / km²", 2),
                 ("per_1000_people", "cameras / 1000 people", 3),
                 ("rate_est_cameras", "Stanford rate estimate", 1),
                 ("truth_cameras", "true cameras", 0), ("truth_seen_cameras", "true cameras in some image", 0),
                 ("osm_cameras", "OSM-mapped cameras", 0)]


def write_exports(out_dir: str | Path, areas: gpd.GeoDataFrame, *, cameras: gpd.GeoDataFrame | None = None,
                  report: dict | None = None, title: str | None = None) -> dict[str, Path]:
    """Write density.geojson, density.parquet, map.html and density.png into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = title or _title(report)
    return {
        "density.geojson": write_geojson(areas, out_dir / "density.geojson"),
        "density.parquet": write_geoparquet(areas, out_dir / "density.parquet"),
        "map.html": write_map_html(areas, out_dir / "map.html", cameras=cameras, title=title),
        "density.png": write_png(areas, out_dir / "density.png", cameras=cameras, title=title),
    }


def geojson_from_frame(frame: gpd.GeoDataFrame) -> dict:
    """RFC 7946 FeatureCollection: EPSG:4326 lon/lat, no ``crs`` member, counter-clockwise outer
    rings, NaN as null."""
    frame = frame.to_crs(4326)
    geoms = frame.geometry.to_numpy()
    polys = np.isin(shapely.get_type_id(geoms), [3, 6])
    if polys.any():
        geoms = geoms.copy()
        geoms[polys] = shapely.orient_polygons(geoms[polys], exterior_cw=False)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=4326))
    data = frame.to_geo_dict(na="null", drop_id=True)
    data.pop("crs", None)
    return _clean(data)


def write_geojson(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``frame`` as an RFC 7946 GeoJSON file."""
    text = json.dumps(geojson_from_frame(frame), allow_nan=False, ensure_ascii=False)
    return write_text(path, text)


def write_geoparquet(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``frame`` as GeoParquet (EPSG:4326)."""
    plain = frame.to_crs(4326)
    plain.attrs = {}
    return write_parquet(plain, path)


def write_json(data: dict, path: str | Path) -> Path:
    """Write ``data`` as indented JSON (NaN and infinities as null)."""
    return write_text(path, json.dumps(_clean(data), indent=2, allow_nan=False, ensure_ascii=False) + "\n")


def write_map_html(areas: gpd.GeoDataFrame, path: str | Path, *, cameras: gpd.GeoDataFrame | None = None,
                   title: str = "Camera density", column: str = "per_road_km") -> Path:
    """A folium (Leaflet) choropleth of ``column`` with a popup per area and the located cameras
    as points (one GeoJSON layer each, so it stays fast for many areas and cameras). Every text
    is HTML-escaped before it reaches the page."""
    import branca.colormap as cm
    import folium

    areas = areas.to_crs(4326).reset_index(drop=True)
    west, south, east, north = areas.total_bounds if len(areas) else (-180, -85, 180, 85)
    fmap = folium.Map(tiles="OpenStreetMap", control_scale=True)
    fmap.fit_bounds([[south, west], [north, east]])
    values = pd.to_numeric(areas[column], errors="coerce").to_numpy(float) if column in areas else np.full(len(areas), np.nan)
    finite = values[np.isfinite(values)]
    vmax = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    colormap = cm.LinearColormap(["#ffffcc", "#fd8d3c", "#800026"], vmin=0.0, vmax=vmax,
                                 caption=f"{column.replace('_', ' ')} (estimated cameras)")
    shown = gpd.GeoDataFrame({
        "fill": [colormap(v) if np.isfinite(v) else "#bdbdbd" for v in values],
        "label": [_text(row.get("name", row.get("area_id", ""))) for _, row in areas.iterrows()],
        "figures": [popup_html(row) for _, row in areas.iterrows()],
    }, geometry=areas.geometry.to_numpy(), crs=4326)
    folium.GeoJson(
        geojson_from_frame(shown), name="density per area",
        style_function=lambda feature: {"fillColor": feature["properties"]["fill"], "color": "#555555",
                                        "weight": 1, "fillOpacity": 0.6},
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        popup=folium.GeoJsonPopup(fields=["figures"], labels=False, max_width=340),
    ).add_to(fmap)
    colormap.add_to(fmap)
    if cameras is not None and len(cameras):
        cams = cameras.head(MAX_MAP_CAMERAS)
        points = gpd.GeoDataFrame({
            "camera": [_text(v) for v in cams.get("camera_id", pd.Series(range(len(cams))))],
            "class": [_text(v) for v in cams.get("class_name", pd.Series([""] * len(cams)))],
            "views": [_text(v) for v in cams.get("n_views", pd.Series([""] * len(cams)))],
            "method": [_text(v) for v in cams.get("method", pd.Series([""] * len(cams)))],
            "uncertainty (m)": [_text(_fmt(v, 1)) for v in cams.get("uncertainty_m", pd.Series([np.nan] * len(cams)))],
        }, geometry=gpd.points_from_xy(cams["lon"], cams["lat"]), crs=4326)
        folium.GeoJson(
            geojson_from_frame(points), name=f"located cameras ({len(cams):,} of {len(cameras):,})",
            marker=folium.CircleMarker(radius=3, color="#08306b", fill=True, fill_opacity=0.9, weight=1),
            popup=folium.GeoJsonPopup(fields=list(points.columns.drop("geometry")), max_width=260),
        ).add_to(fmap)
    folium.LayerControl().add_to(fmap)
    heading = f'<h3 style="position:absolute;z-index:1000;left:60px;top:4px;background:white;padding:2px 6px">' \
              f"{_text(title)}</h3>"
    fmap.get_root().html.add_child(folium.Element(heading))
    fmap.get_root().header.add_child(folium.Element(f"<title>{_text(title)}</title>"))
    return write_text(path, fmap.get_root().render())


def popup_html(row: pd.Series) -> str:
    """Escaped HTML table of one area's figures."""
    name = _text(str(row.get("name", "")))
    area_id = _text(str(row.get("area_id", "")))
    lines = [f"<b>{name}</b><br><small>{area_id}</small><table>"]
    for key, label, digits in _POPUP_FIELDS:
        value = row.get(key)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            continue
        lines.append(f"<tr><td>{_text(label)}</td><td style='text-align:right'>"
                     f"{_text(_fmt(value, digits))}</td></tr>")
    lines.append("</table>")
    return "".join(lines)


def write_png(areas: gpd.GeoDataFrame, path: str | Path, *, cameras: gpd.GeoDataFrame | None = None,
              title: str = "Camera density", column: str = "per_road_km") -> Path:
    """A matplotlib choropleth of ``column`` with a colour bar legend, title and cameras.
    The format follows the file's suffix (``.png`` by default, ``.svg`` for documents)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    areas = areas.to_crs(4326)
    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    try:
        if len(areas):
            plot = areas.assign(**{column: pd.to_numeric(areas[column], errors="coerce")})
            plot.plot(column=column, ax=ax, cmap="YlOrRd", legend=True, edgecolor="#555555", linewidth=0.4,
                      vmin=0.0, missing_kwds={"color": "#dddddd", "label": "no data"},
                      legend_kwds={"label": "estimated cameras per road km", "shrink": 0.6})
        if cameras is not None and len(cameras):
            ax.scatter(cameras["lon"], cameras["lat"], s=4, c="#08306b", label="located cameras", zorder=3)
            ax.legend(loc="lower left", fontsize=8)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
        ax.set_aspect(1.0 / max(0.1, math.cos(math.radians(float(np.mean(areas.total_bounds[[1, 3]]))
                                                            if len(areas) else 0.0))))
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


# --- helpers --------------------------------------------------------------------------------

def _text(value: Any) -> str:
    """Text made safe for HTML and for the JavaScript template strings folium puts it in."""
    return html.escape(str(value), quote=True).replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def _title(report: dict | None) -> str:
    if not report:
        return "Camera density"
    total = report.get("total", {})
    est, lo, hi = total.get("est_cameras"), total.get("est_lo"), total.get("est_hi")
    name = report.get("parameters", {}).get("area") or report.get("survey", "")
    if est is None:
        return f"Camera density: {name}"
    return f"Camera density: {name} - {est:.0f} cameras (95% {lo:.0f}-{hi:.0f})"


def _fmt(value: Any, digits: int) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "n/a"
    return f"{number:.{digits}f}"


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value



