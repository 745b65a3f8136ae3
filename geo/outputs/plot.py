"""density.png (or .svg, by suffix): a printable figure of a survey's density.

Panel 1, the map: density per area (discrete classes, colour bar in its units), the streets
(surveyed ones in blue, darker for more coverage; the rest grey), the located cameras (colour:
class, size: confidence; beyond ``MAX_PLOT_CAMERAS``, every k-th, said in the legend) and, when
known, the true cameras as rings; ticks in formatted degrees.
Panel 2, when the truth is known (simulated surveys): estimate against truth per area, with the
95% intervals as error bars and the 1:1 line.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.outputs.colours import (NO_DATA, TRUTH, UNSURVEYED, class_colours, colour_for, coverage_colour,
                                 coverage_colours, density_bins)
from geo.io import atomic_path
from geo.outputs.mapview import DENSITY_UNITS

MAX_PLOT_CAMERAS = 50_000  # camera markers drawn on density.png (a city's 300,000 take seconds and cover the map)


def write_density_plot(areas: gpd.GeoDataFrame, path: str | Path, *, cameras: gpd.GeoDataFrame | None = None,
                       streets: gpd.GeoDataFrame | None = None, coverage: np.ndarray | None = None,
                       truth: gpd.GeoDataFrame | None = None, title: str = "Camera density",
                       column: str = "per_road_km", dpi: int = 110) -> Path:
    """Write the figure (see the module docstring); the format follows the suffix (png, svg, pdf)."""
    import matplotlib.pyplot as plt

    fig = density_figure(areas, cameras=cameras, streets=streets, coverage=coverage, truth=truth,
                         title=title, column=column)
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def density_figure(areas: gpd.GeoDataFrame, *, cameras: gpd.GeoDataFrame | None = None,
                   streets: gpd.GeoDataFrame | None = None, coverage: np.ndarray | None = None,
                   truth: gpd.GeoDataFrame | None = None, title: str = "Camera density",
                   column: str = "per_road_km"):
    """The matplotlib Figure of ``write_density_plot`` (axes: the map, then estimate vs truth
    when ``areas`` has finite ``truth_cameras``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    areas = areas.to_crs(4326).reset_index(drop=True)
    with_truth = "truth_cameras" in areas and np.isfinite(pd.to_numeric(areas["truth_cameras"], errors="coerce")).any()
    if with_truth:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13.5, 6.8), gridspec_kw={"width_ratios": [1.25, 1]},
                                      layout="constrained")
    else:
        fig, ax = plt.subplots(figsize=(8, 7.6), layout="constrained")
        ax2 = None
    map_panel(ax, areas, cameras=cameras, streets=streets, coverage=coverage, truth=truth, column=column)
    if ax2 is not None:
        truth_panel(ax2, areas)
    fig.suptitle(title, fontsize=12.5, fontweight="bold")
    return fig


def map_panel(ax, areas: gpd.GeoDataFrame, *, cameras=None, streets=None, coverage=None, truth=None,
              column: str = "per_road_km") -> None:
    """Areas, streets, cameras and truth on ``ax`` in EPSG:4326, with a colour bar and a legend."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    values = (pd.to_numeric(areas[column], errors="coerce").to_numpy(float) if column in areas
              else np.full(len(areas), np.nan))
    edges, colours = density_bins(values)
    open_top = math.isinf(edges[-1])
    bounds = edges[:-1] if open_top else edges
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(bounds, len(colours), extend="max" if open_top else "neither")
    finite = np.isfinite(values)
    handles = []
    if (~finite).any():
        areas[~finite].plot(ax=ax, color=NO_DATA, edgecolor="#777777", linewidth=0.4, hatch="///", alpha=0.6)
        handles.append(Patch(facecolor=NO_DATA, edgecolor="#777777", hatch="///", label="area: no data"))
    if finite.any():
        areas[finite].plot(ax=ax, color=[colour_for(v, edges, colours) for v in values[finite]],
                           edgecolor="#666666", linewidth=0.5, alpha=0.8)
    bar = plt.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7, pad=0.02,
                       ticks=bounds, spacing="proportional", extend="max" if open_top else "neither")
    bar.set_label(DENSITY_UNITS.get(column, column.replace("_", " ")))
    if streets is not None and len(streets):
        lines = streets.to_crs(4326).reset_index(drop=True)
        share = np.zeros(len(lines)) if coverage is None else np.asarray(coverage, dtype=float)
        seen = share > 0
        if (~seen).any():
            lines[~seen].plot(ax=ax, color=UNSURVEYED, linewidth=0.6, zorder=2)
        if seen.any():
            lines[seen].plot(ax=ax, color=coverage_colours(share[seen]), linewidth=1.8, zorder=2)
        handles += [Line2D([], [], color=coverage_colour(1.0), lw=1.8, label="surveyed street (darker: more covered)"),
                    Line2D([], [], color=UNSURVEYED, lw=0.8, label="street not surveyed")]
    if truth is not None and len(truth):
        points = truth.to_crs(4326)
        points = points[points.geometry.notna() & ~points.geometry.is_empty]
        xy = np.array([(p.x, p.y) for p in points.geometry.representative_point()])
        if len(xy):
            ax.scatter(xy[:, 0], xy[:, 1], s=34, facecolors="none", edgecolors=TRUTH, linewidths=0.7, zorder=3)
            handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec=TRUTH, ms=6,
                                  label="true camera (simulated)"))
    if cameras is not None and len(cameras):
        names = (cameras["class_name"].astype(str).to_numpy() if "class_name" in cameras
                 else np.full(len(cameras), "camera"))
        palette = class_colours(names)
        step = math.ceil(len(cameras) / MAX_PLOT_CAMERAS)  # a city's cameras: every step-th one (the colours of all)
        drawn = f" (1 in {step:,} drawn)" if step > 1 else ""
        cameras, names = cameras.iloc[::step], names[::step]
        conf = (pd.to_numeric(cameras["conf_max"], errors="coerce").fillna(0.3).clip(0, 1).to_numpy(float)
                if "conf_max" in cameras else np.full(len(cameras), 0.3))
        ax.scatter(cameras["lon"], cameras["lat"], s=8 + 40 * conf, c=[palette[n] for n in names],
                   edgecolors="#222222", linewidths=0.4, zorder=4)
        handles += [Line2D([], [], marker="o", ls="", mfc=colour, mec="#222222", ms=6,
                           label=f"located camera: {name}{drawn}") for name, colour in palette.items()]
    _degree_axes(ax, areas, streets)
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=8.5,
                  frameon=False)


def truth_panel(ax, areas: gpd.GeoDataFrame) -> None:
    """Estimated cameras (95% interval as error bars) against true cameras, one point per area
    with surveyed road."""
    est = pd.to_numeric(areas["est_cameras"], errors="coerce").to_numpy(float)
    lo = pd.to_numeric(areas.get("est_lo"), errors="coerce").to_numpy(float) if "est_lo" in areas else est
    hi = pd.to_numeric(areas.get("est_hi"), errors="coerce").to_numpy(float) if "est_hi" in areas else est
    true = pd.to_numeric(areas["truth_cameras"], errors="coerce").to_numpy(float)
    road = (pd.to_numeric(areas["road_km"], errors="coerce").to_numpy(float) if "road_km" in areas
            else np.ones(len(areas)))
    keep = np.isfinite(est) & np.isfinite(true) & (road > 0)
    est, lo, hi, true = est[keep], lo[keep], hi[keep], true[keep]
    lo, hi = np.where(np.isfinite(lo), lo, est), np.where(np.isfinite(hi), hi, est)
    x_top = float(max(1.0, np.nanmax(true) if len(true) else 1.0)) * 1.1
    # the axis fits the points and the truth; intervals reaching past 2x that are cut at the top
    y_top = float(max(x_top, np.nanmax(est) if len(est) else 1.0))
    y_top = min(float(np.nanmax(hi)) * 1.05 if len(hi) else y_top, 2.0 * y_top) if len(hi) else y_top
    y_top = max(y_top, x_top)
    ax.plot([0, x_top], [0, x_top], color="#888888", lw=1, ls="--", label="estimate = truth")
    held = (lo <= true) & (true <= hi)
    ax.errorbar(true, est, yerr=[np.maximum(0, est - lo), np.maximum(0, hi - est)], fmt="o", ms=4.5,
                color="#08519c", ecolor="#6baed6", elinewidth=1.2, capsize=2.5,
                label="area: estimate with 95% interval")
    ax.set_xlim(0, x_top)
    ax.set_ylim(0, y_top)
    ax.set_xlabel("true cameras in the area (simulator)")
    ax.set_ylabel("estimated cameras")
    ax.set_title(f"estimate vs truth per area: {int(held.sum())} of {len(est)} intervals hold the truth",
                 fontsize=10.5)
    cut = hi > y_top
    if cut.any():
        ax.scatter(true[cut], np.full(cut.sum(), y_top), marker="^", s=28, color="#6baed6", clip_on=False,
                   zorder=3, label="interval reaches past the top")
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.legend(loc="upper left", fontsize=8.5)


def _degree_axes(ax, areas: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None) -> None:
    """Equal-distance aspect at the map's latitude and at most 5 ticks per axis, in degrees with
    just enough decimals (24.93°E, 60.165°N)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    bounds = areas.total_bounds if len(areas) else np.array([np.nan] * 4)
    if streets is not None and len(streets):
        sb = streets.to_crs(4326).total_bounds
        bounds = sb if not np.all(np.isfinite(bounds)) else np.array(
            [min(bounds[0], sb[0]), min(bounds[1], sb[1]), max(bounds[2], sb[2]), max(bounds[3], sb[3])])
    if np.all(np.isfinite(bounds)):
        pad_x, pad_y = (bounds[2] - bounds[0]) * 0.03 or 0.001, (bounds[3] - bounds[1]) * 0.03 or 0.001
        ax.set_xlim(bounds[0] - pad_x, bounds[2] + pad_x)
        ax.set_ylim(bounds[1] - pad_y, bounds[3] + pad_y)
        lat = float((bounds[1] + bounds[3]) / 2)
    else:
        lat = 0.0
    ax.set_aspect(1.0 / max(0.1, math.cos(math.radians(lat))))
    for axis, hemispheres in ((ax.xaxis, ("E", "W")), (ax.yaxis, ("N", "S"))):
        axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        axis.set_major_formatter(FuncFormatter(_degree_formatter(axis, hemispheres)))
    ax.tick_params(labelsize=8.5)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")


def _degree_formatter(axis, hemispheres: tuple[str, str]):
    def fmt(value: float, _pos) -> str:
        ticks = axis.get_majorticklocs()
        step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else 1.0
        digits = next((d for d in range(8) if abs(step * 10**d - round(step * 10**d)) < 1e-6), 8)
        return f"{abs(value):.{digits}f}°{hemispheres[0] if value >= 0 else hemispheres[1]}"
    return fmt
