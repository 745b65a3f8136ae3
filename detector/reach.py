"""Reach: how far from the viewpoint a detector still finds cameras (issue 21's headline figure).

For each class, ``reach_m`` is the range (m, horizontal, from the viewpoint to the camera) at which
recall falls to 0.5, for 640 px views with a 90 degree field of view (focal 320 px). It comes from
every true box, found or not at the operating threshold, sorted by range: the non-increasing
(isotonic) fit of found against range, and reach is where that fit drops below 0.5 (the midpoint
between the farthest box of the last block at 0.5 or more and the nearest box of the next). The
isotonic fit makes no assumption about the curve's shape, so a detector that also misses the
largest, nearest cameras is not given a short reach for it. A logistic detection function

    P(found | range r) = 1 / (1 + exp(-(a + b * ln r)))      reach_logistic_m = exp(-a / b)

is fitted too (maximum likelihood) and reported beside it. Ranges are the simulator's truth when
the dataset has a ``truth_ranges.csv`` sidecar (``camcensus dataset synth`` writes one for its val
split); otherwise they follow from the box size and the class's physical size,
``range = size_m * focal_px / box_px`` (see :data:`CAMERA_SIZE_M`). Recall is also given per range
band and per size band (6-8 px included), per class and for all classes.

A camera counts as found when a detection of any class at the threshold matches it at IoU 0.5
(:func:`detector.matching.match_boxes`), as in ``recall_by_size``; boxes of every size count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# The cameras' physical sizes (sqrt of box area in metres), measured on the simulator's truth
# boxes; the same numbers as geo.counting.locate.CAMERA_SIZE_M (detector must not import geo).
CAMERA_SIZE_M = {"directed": 0.46, "dome": 0.33}
FOCAL_PX = 320.0  # 640 px wide view, 90 degree horizontal field of view
REACH_RECALL = 0.5
RANGE_EDGES_M = [0.0, 5.0, 8.0, 10.0, 12.0, 14.0, 16.0, 20.0, 25.0, 35.0, 1000.0]
SIZE_BANDS_PX = [(0.0, 6.0), (6.0, 8.0), (8.0, 12.0), (12.0, 16.0), (16.0, 32.0), (32.0, 1e9)]


def range_from_box(size_px: np.ndarray, class_name: np.ndarray, *, focal_px: float = FOCAL_PX) -> np.ndarray:
    """Range (m) at which a camera of its class shows a box of ``size_px`` (sqrt area, px)."""
    size_m = np.array([CAMERA_SIZE_M.get(str(c), np.nan) for c in np.asarray(class_name)], float)
    return size_m * focal_px / np.maximum(np.asarray(size_px, float), 1e-9)


def fit_detection_function(range_m: np.ndarray, found: np.ndarray) -> tuple[float, float] | None:
    """Maximum-likelihood ``(a, b)`` of P(found) = sigmoid(a + b ln r); None without both outcomes."""
    from scipy.optimize import minimize

    r = np.asarray(range_m, float)
    y = np.asarray(found, float)
    keep = np.isfinite(r) & (r > 0)
    r, y = r[keep], y[keep]
    if len(r) < 2 or y.min() == y.max():
        return None
    x = np.log(r)
    centre = float(np.median(x))

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + theta[1] * (x - centre)
        p = 1.0 / (1.0 + np.exp(-z))
        # log(1 + e^z) - y z, stable; a tiny ridge keeps separable data finite
        loss = np.sum(np.logaddexp(0.0, z) - y * z) + 1e-3 * float(theta @ theta)
        grad = np.array([np.sum(p - y), np.sum((p - y) * (x - centre))]) + 2e-3 * theta
        return float(loss), grad

    result = minimize(nll, np.zeros(2), jac=True, method="L-BFGS-B")
    a0, b = (float(v) for v in result.x)
    return a0 - b * centre, b


def isotonic_reach(range_m: np.ndarray, found: np.ndarray, *, recall: float = REACH_RECALL,
                   ) -> tuple[float | None, str | None]:
    """Where the non-increasing fit of ``found`` against ``range_m`` drops below ``recall``:
    ``(reach_m, bound)``; bound "beyond" (fit never drops: reach = farthest range) or "below"
    (under ``recall`` from the nearest box on: reach None)."""
    from scipy.optimize import isotonic_regression

    keep = np.isfinite(range_m)
    r, y = np.asarray(range_m, float)[keep], np.asarray(found, float)[keep]
    if not len(r):
        return None, None
    order = np.argsort(r, kind="stable")
    r, y = r[order], y[order]
    fitted = isotonic_regression(y, increasing=False).x
    under = np.flatnonzero(fitted < recall - 1e-12)
    if not len(under):
        return float(r[-1]), "beyond"
    first = int(under[0])
    if first == 0:
        return None, "below"
    return round(float((r[first - 1] + r[first]) / 2), 2), None


def reach_interval(range_m: np.ndarray, found: np.ndarray, *, recall: float = REACH_RECALL, n_boot: int = 200,
                   seed: int = 0) -> list[float] | None:
    """A 95% bootstrap interval (m) of the isotonic reach: boxes resampled with replacement,
    ``n_boot`` times (seeded); a resample whose reach is "below" counts as 0 m and one "beyond" as
    its farthest range. None with fewer than 10 boxes."""
    r, y = np.asarray(range_m, float), np.asarray(found, bool)
    if len(r) < 10:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(r), len(r))
        value, _ = isotonic_reach(r[pick], y[pick], recall=recall)
        values.append(0.0 if value is None else value)
    low, high = np.percentile(values, [2.5, 97.5])
    return [round(float(low), 2), round(float(high), 2)]


def reach_from_ranges(range_m: np.ndarray, found: np.ndarray, *, recall: float = REACH_RECALL) -> dict[str, Any]:
    """Reach (m) of one class from its true boxes' ranges and found flags.

    Returns ``reach_m`` (isotonic; None when recall is under ``recall`` from the nearest box on),
    ``bound`` ("below", "beyond": recall still at ``recall`` or more at the farthest box, reach is
    then that range, a lower bound; else None), ``reach_ci_m`` (95% bootstrap interval),
    ``reach_logistic_m`` with the fit's ``a``, ``b``
    (None when it cannot be fitted or recall does not fall with range), ``n`` and ``found``."""
    r = np.asarray(range_m, float)
    y = np.asarray(found, bool)
    out: dict[str, Any] = {"reach_m": None, "bound": None, "reach_ci_m": None, "reach_logistic_m": None,
                           "a": None, "b": None, "n": int(len(r)), "found": int(y.sum())}
    if not len(r):
        return out
    out["reach_m"], out["bound"] = isotonic_reach(r, y, recall=recall)
    out["reach_ci_m"] = reach_interval(r, y, recall=recall)
    fit = fit_detection_function(r, y)
    if fit is not None:
        a, b = fit
        out.update({"a": round(a, 4), "b": round(b, 4)})
        if b < 0:
            logit = np.log(recall / (1 - recall))
            out["reach_logistic_m"] = round(float(np.exp((logit - a) / b)), 2)
    return out


def recall_by_band(values: np.ndarray, found: np.ndarray, bands: list[tuple[float, float]],
                   ) -> list[dict[str, Any]]:
    """``n``, ``found`` and ``recall`` (None when empty) per [lo, hi) band of ``values``."""
    values, found = np.asarray(values, float), np.asarray(found, bool)
    rows = []
    for lo, hi in bands:
        inside = (values >= lo) & (values < hi)
        n = int(inside.sum())
        rows.append({"lo": lo, "hi": hi, "n": n, "found": int(found[inside].sum()),
                     "recall": round(float(found[inside].mean()), 4) if n else None})
    return rows


def reach_from_boxes(predictions: pd.DataFrame, truth: pd.DataFrame, *, conf: float,
                     ranges_m: np.ndarray | None = None, recall: float = REACH_RECALL) -> dict[str, Any]:
    """Reach per class and recall per range and size band, at threshold ``conf``.

    ``predictions`` (image_id, class_name, x1, y1, x2, y2, conf) and ``truth`` (image_id,
    class_name, x1, y1, x2, y2) in pixels of 640 px / 90 degree views; ``ranges_m`` per truth row
    (default: from the box size, :func:`range_from_box`). Returns ``reach_m`` {class: m or None},
    ``by_class`` {class: fit details, ``by_range`` and ``by_size`` bands}, ``all`` (every class
    together: ``by_range``, ``by_size``), ``range_source`` and ``conf``."""
    from detector.matching import match_boxes

    sizes = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy(float) if len(truth) else np.zeros(0)
    classes = truth["class_name"].astype(str).to_numpy() if len(truth) else np.zeros(0, str)
    source = "truth" if ranges_m is not None else "box size"
    if ranges_m is None:
        ranges_m = range_from_box(sizes, classes)
    ranges_m = np.asarray(ranges_m, float)
    if len(ranges_m) != len(truth):
        raise ValueError(f"ranges_m has {len(ranges_m)} values for {len(truth)} truth boxes")
    if len(truth):
        _, _, matched_conf = match_boxes(predictions, truth, class_aware=False, thresholds=np.array([0.5]))
        found = matched_conf >= conf
    else:
        found = np.zeros(0, bool)
    range_bands = list(zip(RANGE_EDGES_M[:-1], RANGE_EDGES_M[1:]))
    by_class = {}
    for name in sorted(set(classes)):
        mine = classes == name
        fit = reach_from_ranges(ranges_m[mine], found[mine], recall=recall)
        by_class[name] = {**fit, "by_range": recall_by_band(ranges_m[mine], found[mine], range_bands),
                          "by_size": recall_by_band(sizes[mine], found[mine], SIZE_BANDS_PX)}
    return {"conf": float(conf), "recall": recall, "range_source": source,
            "reach_m": {name: fit["reach_m"] for name, fit in by_class.items()},
            "by_class": by_class,
            "all": {"by_range": recall_by_band(ranges_m, found, range_bands),
                    "by_size": recall_by_band(sizes, found, SIZE_BANDS_PX)}}


def ranges_for_truth(truth: pd.DataFrame, images: list[Path], sidecar: str | Path | None) -> np.ndarray | None:
    """True ranges (m) for ``truth`` rows (``image_id`` = position in ``images``) from a dataset's
    ``truth_ranges.csv`` (image stem, class_name, x1, y1, x2, y2, range_m), matched to the
    nearest box of the same image and class; rows without a match get the size-based range.
    None when there is no sidecar."""
    if sidecar is None or not Path(sidecar).is_file():
        return None
    table = pd.read_csv(sidecar).drop_duplicates()
    by_image = {k: g for k, g in table.groupby("image")}
    sizes = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy(float) if len(truth) else np.zeros(0)
    out = range_from_box(sizes, truth["class_name"].to_numpy()) if len(truth) else np.zeros(0)
    cols = ["x1", "y1", "x2", "y2"]
    for i, row in enumerate(truth.itertuples(index=False)):
        group = by_image.get(Path(images[int(row.image_id)]).stem)
        if group is None:
            continue
        group = group[group["class_name"] == row.class_name]
        if not len(group):
            continue
        gap = np.abs(group[cols].to_numpy(float) - np.array([row.x1, row.y1, row.x2, row.y2])).max(axis=1)
        best = int(np.argmin(gap))
        if gap[best] <= 1.0:  # label files round to 1e-8 of the side; 1 px is generous
            out[i] = float(group["range_m"].iloc[best])
    return out


def reach_for_split(predictions: pd.DataFrame, truth: pd.DataFrame, images: list[Path], *, conf: float,
                    data_root: str | Path) -> dict[str, Any]:
    """:func:`reach_from_boxes` with the split's truth ranges when ``data_root`` has the sidecar."""
    ranges = ranges_for_truth(truth, images, Path(data_root) / "truth_ranges.csv")
    return reach_from_boxes(predictions, truth, conf=conf, ranges_m=ranges)


def reach_lines(reach: dict[str, Any]) -> list[str]:
    """Short text lines for a report: reach per class and recall per size band."""
    lines = []
    for name, fit in (reach.get("by_class") or {}).items():
        value = fit.get("reach_m")
        text = "-" if value is None else f"{value:.1f} m"
        if fit.get("reach_ci_m"):
            text += " (95% {:.1f}-{:.1f})".format(*fit["reach_ci_m"])
        if fit.get("bound") == "beyond":
            text = f"at least {text} (recall still >= {reach.get('recall', REACH_RECALL):g} at the farthest box)"
        bound = " (recall under 0.5 even at the nearest box)" if fit.get("bound") == "below" else ""
        bands = ", ".join(f"{b['lo']:g}{'-' + format(b['hi'], 'g') if b['hi'] < 1e8 else '+'} px "
                          f"{b['recall']:.2f} ({b['n']})" for b in fit["by_size"] if b["n"])
        lines.append(f"reach {name}: {text}{bound} [ranges: {reach.get('range_source')}]; recall by size: {bands}")
    return lines
