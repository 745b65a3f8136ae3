"""The card check's capture histories at city scale: only the cameras its seeded samples read.

The card check (``geo.counting.card_check``) reads the capture histories through two seeded samples
of the usable cameras (the recall fit's ``recapture.MAX_FIT_CAMERAS``, the recapture test's
``card_check.MAX_TEST_CAMERAS``) and through per-camera counts (usable cameras, their P(real),
how many views found each). Beyond the larger sample, ``sampled_histories`` builds the candidate
views (``geo.counting.inclusion.view_pairs``) of the sampled cameras only: the same draws, the same
histories of those cameras, the same tests and fit; only the pair counts the report gives
(``n_pairs``, ``n_unmatched_views``) are then scaled from the sample. Speed for issue 27's 1M
benchmark (321k located cameras: their histories took about 4 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.counting.calibration import Calibration
from geo.counting.recapture import CaptureHistories, _chosen, camera_reality, histories_from_tables


@dataclass(frozen=True)
class SampledHistories(CaptureHistories):
    """Capture histories whose pairs are those of some cameras only (``sampled_histories``: the
    cameras the card check's seeded samples draw), numbered among all ``n_cameras``, while the
    per-camera ``weight`` and ``found`` (views that detected each camera) cover every camera, so
    ``usable`` and ``subsampled`` see all cameras and draw the same samples as from the full
    histories. ``n_built``: cameras whose pairs are here, of ``n_usable``."""

    found: np.ndarray | None = field(default=None, repr=False)
    n_built: int = 0
    n_usable: int = 0

    def n_found(self) -> np.ndarray:
        return self.found

    def n_candidates(self) -> np.ndarray:
        """The built cameras' candidate views; the others' at least their detecting views."""
        built = np.bincount(self.cam, minlength=self.n_cameras)
        return np.where(built > 0, built, self.found)

    def per_usable(self, count: float) -> int:
        """A count over the built cameras' pairs scaled to all usable cameras (they are a uniform
        random sample of them)."""
        return int(round(count * self.n_usable / max(self.n_built, 1)))


def sampled_histories(cameras: pd.DataFrame, images: pd.DataFrame, *, crs, samples: tuple[tuple[int, int], ...],
                      detections: pd.DataFrame | None = None, calibration: Calibration | None = None,
                      buildings=None) -> CaptureHistories:
    """``histories_from_tables`` for readers that use the histories only through ``subsampled``
    draws ``samples`` ((max_cameras, seed) each) and per-camera counts (the card check): where more
    cameras are usable than every draw takes, only the cameras the draws pick get their pairs built
    (``SampledHistories``; the draws are those ``subsampled`` makes on the full histories), else the
    full histories. Speed at 1M detections: the histories of 321k cameras took 4 s, of the ~23k
    the card check reads a fraction of that (issue 27 part 6)."""
    ok = _ok_images(images)
    found = _found_counts(cameras, ok["image_id"].to_numpy())
    keep = found > 0
    if int(keep.sum()) <= max(m for m, _ in samples):
        return histories_from_tables(cameras, images, crs=crs, detections=detections, calibration=calibration,
                                     buildings=buildings)
    rows = np.unique(np.concatenate([_chosen(keep, m, seed) for m, seed in samples]))
    weight = (camera_reality(cameras, detections, calibration, n_images=len(ok))
              if calibration is not None and detections is not None else np.ones(len(cameras)))
    h = histories_from_tables(cameras, images, crs=crs, detections=detections, calibration=calibration,
                              buildings=buildings, rows=rows, reality=weight)  # P(real) once (speed)
    return SampledHistories(rows[h.cam], h.size_px, h.other, h.detected, weight, len(cameras),
                            n_unmatched=h.n_unmatched, found=found, n_built=len(rows), n_usable=int(keep.sum()))


def _ok_images(images: pd.DataFrame) -> pd.DataFrame:
    """The images with imagery (status ok), one row per image_id (``histories_from_tables``' views)."""
    ok = images
    if "status" in ok.columns:
        ok = ok[ok["status"].fillna("ok").eq("ok")]
    return ok.drop_duplicates("image_id")


def _found_counts(cameras: pd.DataFrame, view_ids: np.ndarray) -> np.ndarray:
    """Per camera, its distinct ``image_ids`` among ``view_ids``: what ``_seen_rows`` gives each
    camera, vectorised (pyarrow's hash lookup; 0.4 s for 1M detections against 1.8 s)."""
    n = len(cameras)
    if "image_ids" not in cameras.columns or n == 0 or len(view_ids) == 0:
        return np.zeros(n, np.int64)
    ids = cameras["image_ids"].to_numpy()
    lengths = np.fromiter((0 if v is None else len(v) for v in ids), np.int64, count=n)
    if lengths.sum() == 0:
        return np.zeros(n, np.int64)
    flat = np.concatenate([np.asarray(v, dtype=object) for v in ids if v is not None and len(v)])
    index = pd.Index(view_ids).drop_duplicates()
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        row = pc.index_in(pa.array(flat), value_set=pa.array(index.to_numpy())).fill_null(-1).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):  # mixed or unhashable types
        row = index.get_indexer(flat)
    row = np.asarray(row, np.int64)
    cam = np.repeat(np.arange(n, dtype=np.int64), lengths)[row >= 0]
    code = np.sort(cam * len(index) + row[row >= 0])  # distinct (camera, view): sorted, not np.unique (hashing)
    return np.bincount(code[np.r_[True, code[1:] != code[:-1]]] // len(index), minlength=n)
