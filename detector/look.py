"""Cheap per-image "look" statistics: does a survey's imagery look like the card's held-out images?

A model card's recall holds on imagery like its held-out set; every real city, and the renderer's
held-out look, is imagery the detector never saw. These statistics (a few ms per 640 px image, on
the decoded BGR image) describe how an image looks independent of what it shows, so that a survey
can be compared with the card's held-out images even where it found too few cameras to test recall
(dataset-shift detection, cf. Rabanser, Guennemann & Lipton 2019, "Failing Loudly").

:func:`look_features` returns, per image (grey = 0.299 R + 0.587 G + 0.114 B, in grey levels 0-255):

- ``noise``: sensor noise, grey levels: the robust SD of the image's second-difference residual
  (Immerkaer 1996's mask, median absolute response / (0.6745 x 6));
- ``sharpness``: the 99th percentile of the grey gradient magnitude (Sobel / 8), grey levels per px (the
  strength of the strongest edges: blur and lower resolution lower it);
- ``detail``: the share of the gradient energy left after a Gaussian blur of 1 px (unitless, 0-1):
  high for crisp edges, low for blurred or upsampled (low-resolution) images;
- ``blockiness``: the mean absolute grey step across 8 px JPEG block boundaries over the mean step
  elsewhere (unitless; about 1 for none, above 1 for strong JPEG compression);
- ``contrast``: the SD of grey, grey levels;
- ``brightness``: the mean grey, grey levels;
- ``saturation``: the mean chroma (max - min over B, G, R), grey levels;
- ``cast_rb``: log(mean R / mean B) (unitless: > 0 warm, < 0 cold cast);
- ``cast_g``: log(mean G / sqrt(mean R x mean B)) (unitless: > 0 green, < 0 magenta cast);
- ``haze``: the median of the dark channel (min over B, G, R, then a 15 px minimum filter), grey
  levels: near 0 in clear daylight scenes, high in haze or fog.

``LOOK_COLUMNS`` lists them in order.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from detector.schemas import LOOK, table_from_frame

LOOK_COLUMNS = tuple(LOOK.names[1:])  # noise, sharpness, detail, blockiness, contrast, brightness, saturation,
# cast_rb, cast_g, haze (detector.schemas.LOOK, the look.parquet contract)
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def look_features(image_bgr: np.ndarray) -> dict[str, float]:
    """The look statistics of one BGR uint8 image (see the module docstring for units)."""
    import cv2

    img = np.asarray(image_bgr)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    img = np.ascontiguousarray(img[..., :3])
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    out = {}
    resid = cv2.filter2D(grey, cv2.CV_32F, _IMMERKAER, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    # |residual| of integer grey levels is an integer: its histogram in unit bins centred on the integers
    counts = np.bincount(cv2.convertScaleAbs(resid).ravel(), minlength=256)
    out["noise"] = _counts_quantile(counts, 0.5, step=1.0, offset=0.5) / (0.6745 * 6.0)
    mag = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    out["sharpness"] = _grouped_quantile(mag, 0.99)
    soft = cv2.GaussianBlur(grey, (0, 0), 1.0)
    smag = cv2.magnitude(cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    total = float(np.dot(mag.ravel(), mag.ravel()))
    out["detail"] = float(max(0.0, 1.0 - float(np.dot(smag.ravel(), smag.ravel())) / total)) if total > 0 else 0.0
    out["blockiness"] = _blockiness(grey)
    mean, sd = cv2.meanStdDev(grey)
    out["contrast"] = float(sd[0, 0])
    out["brightness"] = float(mean[0, 0])
    b, g, r = cv2.split(img)
    lo, hi = cv2.min(cv2.min(b, g), r), cv2.max(cv2.max(b, g), r)
    out["saturation"] = float(cv2.mean(cv2.subtract(hi, lo))[0])
    mb, mg, mr = (m + 1.0 for m in cv2.mean(img)[:3])
    out["cast_rb"] = float(np.log(mr / mb))
    out["cast_g"] = float(np.log(mg / np.sqrt(mr * mb)))
    dark = cv2.erode(lo, np.ones((15, 15), np.uint8))
    out["haze"] = _counts_quantile(np.bincount(dark.ravel(), minlength=256), 0.5, step=1.0, offset=0.5)
    return out


def _grouped_quantile(values: np.ndarray, q: float, *, step: float = 0.25, offset: float = 0.0) -> float:
    """The ``q`` quantile of non-negative ``values`` from a histogram of ``step``-wide bins starting
    at ``-offset``, linearly interpolated within its bin (the grouped-data quantile: fast, and
    continuous for integer-valued data such as 8-bit images and their residuals, whose plain median
    jumps in whole grey levels; for those use ``step=1, offset=0.5``, bins centred on integers)."""
    v = np.asarray(values, np.float32).ravel()
    bins = np.minimum(((v + offset) * (1.0 / step)).astype(np.int32), 4095)
    return _counts_quantile(np.bincount(bins, minlength=1), q, step=step, offset=offset)


def _counts_quantile(counts: np.ndarray, q: float, *, step: float, offset: float) -> float:
    """The grouped-data ``q`` quantile of a histogram (bin k covers [k step - offset, (k+1) step - offset))."""
    cum = np.cumsum(counts, dtype=np.float64)
    target = q * cum[-1]
    k = int(np.searchsorted(cum, target, side="left"))
    below = cum[k - 1] if k > 0 else 0.0
    return float((k + (target - below) / counts[k]) * step - offset) if counts[k] > 0 else float(k * step - offset)


def _blockiness(grey: np.ndarray, block: int = 8) -> float:
    """Mean |step| across ``block``-px boundaries over the mean |step| elsewhere (both directions)."""
    on, off = [], []
    for d in (np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0)).T):
        cols = np.arange(d.shape[1])
        at = (cols % block) == block - 1  # the step between pixel 8k+7 and 8k+8
        on.append(float(d[:, at].mean()) if at.any() else 0.0)
        off.append(float(d[:, ~at].mean()))
    den = sum(off)
    return float(sum(on) / den) if den > 0 else 1.0


def look_table(paths, *, image_ids=None, workers: int = 1):
    """Look statistics of image files: a DataFrame with ``image_id`` (the file stem unless given)
    and :data:`LOOK_COLUMNS`; unreadable images are left out. ``workers``: threads (OpenCV
    releases the GIL)."""
    import pandas as pd
    from pathlib import Path

    paths = [str(p) for p in paths]
    ids = list(image_ids) if image_ids is not None else [Path(p).stem for p in paths]

    def one(path: str):
        import cv2

        image = cv2.imread(path, cv2.IMREAD_COLOR)
        return None if image is None else look_features(image)

    if workers > 1 and len(paths) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            feats = list(pool.map(one, paths))
    else:
        feats = [one(p) for p in paths]
    rows = [{"image_id": i, **f} for i, f in zip(ids, feats) if f is not None]
    return pd.DataFrame(rows, columns=["image_id", *LOOK_COLUMNS])


LOOK_FILE = "look.parquet"  # a survey's per-image look table, beside its detections
LOOK_MAX_IMAGES = 500  # images per survey with look statistics: a fixed sample (the test needs a few hundred)


def look_sample(image_ids, *, max_images: int = LOOK_MAX_IMAGES) -> list:
    """The images of a survey that get look statistics: all of them up to ``max_images``, else the
    ``max_images`` with the smallest CRC32 of their id (a fixed pseudo-random sample that stays the
    same when the survey is rerun or grows)."""
    import zlib

    ids = list(dict.fromkeys(str(i) for i in image_ids))
    if len(ids) <= max_images:
        return ids
    return sorted(ids, key=lambda i: (zlib.crc32(i.encode()), i))[:max_images]


def write_survey_look(out, images, *, max_images: int = LOOK_MAX_IMAGES, workers: int = 1):
    """Write (or complete) ``OUT/look.parquet``, the look statistics of a fixed sample of the
    images (``images``: image_id, path; ``look_sample``); images already in it are kept. Returns
    the table's path, or None when no image could be read."""
    import pandas as pd
    from pathlib import Path

    from detector.io import atomic_path

    out = Path(out)
    path = out / LOOK_FILE
    done = pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["image_id", *LOOK_COLUMNS])
    by_id = dict(zip(images["image_id"].astype(str), images["path"].astype(str)))
    want = [i for i in look_sample(by_id, max_images=max_images) if i not in set(done["image_id"].astype(str))]
    if want:
        new = look_table([by_id[i] for i in want], image_ids=want, workers=workers)
        table = pd.concat([done, new], ignore_index=True) if len(done) else new
        with atomic_path(path) as tmp:
            pq.write_table(table_from_frame(table, LOOK, what="look.parquet"), tmp)
    return path if path.exists() else None


LOOK_REFERENCE_VERSION = 1


def look_reference(table, *, source: str = "") -> dict:
    """The reference distribution of the look statistics of a set of images (a card's held-out
    set): a JSON-able dict stored in the card's ``calibration.look`` and read by the estimate's
    card check (``geo.counting.card_check.look_test``). Per statistic: ``median``, ``sd`` (robust:
    IQR / 1.349), and the ``q005`` / ``q995`` quantiles (the central 99%); units as in
    :func:`look_features`."""
    stats = {}
    for name in LOOK_COLUMNS:
        if name not in table:
            continue
        v = np.asarray(table[name], float)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            continue
        q = np.quantile(v, [0.005, 0.25, 0.5, 0.75, 0.995])
        stats[name] = {"median": round(float(q[2]), 5), "sd": round(float((q[3] - q[1]) / 1.349), 5),
                       "q005": round(float(q[0]), 5), "q995": round(float(q[4]), 5)}
    return {"version": LOOK_REFERENCE_VERSION, "n_images": int(len(table)), "source": source, "statistics": stats}
