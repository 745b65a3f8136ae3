"""The colours shared by map.html and density.png: density classes, camera classes, street coverage."""

from __future__ import annotations

import numpy as np

NO_DATA = "#d9d9d9"  # an area without a finite value
UNSURVEYED = "#9e9e9e"  # a street no viewpoint covered
TRUTH = "#111111"  # true cameras (simulated surveys): black rings
_CLASS = {"dome": "#e66101", "directed": "#5e3c99"}
_OTHER = ["#1b9e77", "#e7298a", "#66a61e", "#a6761d", "#e6ab02", "#666666"]


def density_bins(values: np.ndarray, *, n: int = 5) -> tuple[list[float], list[str]]:
    """Up to ``n`` classes of ``values`` (finite, >= 0) with round edges from 0, and their colours
    (YlOrRd). Returns (edges, colours), len(edges) = len(colours) + 1. When a few outliers (e.g.
    edge cells with little road) reach past twice the 90th percentile, the edges stop there and
    the last class is open: its upper edge is ``inf`` ("100+")."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex
    from matplotlib.ticker import MaxNLocator

    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    robust = float(np.quantile(finite, 0.9, method="lower")) if len(finite) >= 5 else top
    open_top = robust > 0 and top > 2.0 * robust
    reach = robust if open_top else top
    edges = [float(e) for e in MaxNLocator(nbins=n - 1 if open_top else n, steps=[1, 2, 2.5, 5, 10]
                                           ).tick_values(0.0, reach) if e >= 0]
    while edges[-1] < reach:  # the locator may stop one edge short
        edges.append(edges[-1] + (edges[1] - edges[0]))
    edges = [e for i, e in enumerate(edges) if i == 0 or edges[i - 1] < reach]
    if open_top:
        edges.append(float("inf"))
    cmap = colormaps["YlOrRd"]
    k = len(edges) - 1
    colours = [to_hex(cmap(0.12 + 0.83 * i / max(1, k - 1))) for i in range(k)]
    return edges, colours


def colour_for(value: float, edges: list[float], colours: list[str]) -> str:
    """The colour of ``value``'s class (NO_DATA when it is not finite)."""
    if value is None or not np.isfinite(value):
        return NO_DATA
    i = int(np.searchsorted(edges, value, side="right")) - 1
    return colours[min(max(i, 0), len(colours) - 1)]


def class_colours(names) -> dict[str, str]:
    """A colour per camera class name: dome orange, directed purple, others in turn."""
    out: dict[str, str] = {}
    others = iter(_OTHER * 10)
    if hasattr(names, "unique"):  # a Series: its distinct values first (321k cameras' names took 0.4 s one by one)
        names = names.unique()
    for name in sorted({str(n) for n in names}):
        out[name] = _CLASS.get(name) or next(others)
    return out


def coverage_colour(share: float) -> str:
    """Blue, darker for a street more fully covered (share 0-1); grey when not covered."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if not share > 0:
        return UNSURVEYED
    return to_hex(colormaps["Blues"](0.45 + 0.55 * min(1.0, float(share))))


def coverage_colours(shares) -> list[str]:
    """``coverage_colour`` of each share, vectorized: one colour-map call for all streets (the
    map has 256 colours, so each distinct one is turned to hex once)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    shares = np.asarray(shares, dtype=float)
    seen = shares > 0
    out = np.full(len(shares), UNSURVEYED, dtype=object)
    if seen.any():
        rgba = colormaps["Blues"](0.45 + 0.55 * np.minimum(1.0, shares[seen]))
        unique, back = np.unique(rgba, axis=0, return_inverse=True)
        out[seen] = np.array([to_hex(tuple(row)) for row in unique], dtype=object)[back.ravel()]
    return out.tolist()
