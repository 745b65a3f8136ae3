"""Matching predicted boxes to truth boxes: IoU and greedy COCO matching (pixels, xyxy).

Shared by the evaluation (``detector.evaluate``) and reach (``detector.reach``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

IOU_THRESHOLDS = np.round(np.arange(0.5, 0.96, 0.05), 2)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (n, 4 xyxy) with every box in ``b`` (m, 4)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def overlaps_no_truth(predictions: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Per prediction: True where it overlaps no true box of its image (IoU 0, any class, any size).

    These are the false cameras a card's ``false_bins`` count per image: a second box on a camera
    (a duplicate) is not one of them, because duplicates follow the cameras in view, not the images
    (docs/estimator.md section 10)."""
    out = np.ones(len(predictions), dtype=bool)
    if not len(predictions) or not len(truth):
        return out
    cols = ["x1", "y1", "x2", "y2"]
    pxy, txy = predictions[cols].to_numpy(float), truth[cols].to_numpy(float)
    t_groups = truth.groupby("image_id").indices
    for image_id, p_idx in predictions.groupby("image_id").indices.items():
        t_idx = t_groups.get(image_id)
        if t_idx is not None:
            out[p_idx] = ~(iou_matrix(pxy[p_idx], txy[t_idx]) > 0).any(axis=1)
    return out


def match_boxes(predictions: pd.DataFrame, truth: pd.DataFrame, *, class_aware: bool,
                thresholds: np.ndarray = IOU_THRESHOLDS, ignore: np.ndarray | None = None,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy COCO matching, per image, predictions in descending ``conf``.

    ``ignore`` (bool per truth row): "difficult" truths. A prediction first matches the best
    free non-ignored truth; failing that, a prediction overlapping an ignored truth by the IoU
    threshold is ignored (VOC: any number of them), else it is false.
    Returns ``tp`` and ``ignored`` (n_pred, n_thresholds) bool in the row order of
    ``predictions`` and, for each truth row, the conf of the first (most confident) prediction
    matched to it at the first IoU threshold (-inf if none; ignored truths included).
    """
    tp = np.zeros((len(predictions), len(thresholds)), bool)
    ignored = np.zeros((len(predictions), len(thresholds)), bool)
    matched_conf = np.full(len(truth), -np.inf)
    ignore = np.zeros(len(truth), bool) if ignore is None else np.asarray(ignore, bool)
    pred_groups = predictions.groupby("image_id").indices if len(predictions) else {}
    truth_groups = truth.groupby("image_id").indices if len(truth) else {}
    cols = ["x1", "y1", "x2", "y2"]
    pred_xyxy, truth_xyxy = predictions[cols].to_numpy(float), truth[cols].to_numpy(float)
    pred_conf = predictions["conf"].to_numpy(float)
    pred_cls, truth_cls = predictions["class_name"].to_numpy(), truth["class_name"].to_numpy()
    for image_id, p_idx in pred_groups.items():
        t_idx = truth_groups.get(image_id)
        if t_idx is None:
            continue
        p_idx = p_idx[np.argsort(-pred_conf[p_idx], kind="stable")]
        ious = iou_matrix(pred_xyxy[p_idx], truth_xyxy[t_idx])
        if class_aware:
            ious = np.where(pred_cls[p_idx][:, None] == truth_cls[t_idx][None, :], ious, 0.0)
        hard = ignore[t_idx]
        for k, threshold in enumerate(thresholds):
            taken = np.zeros(len(t_idx), bool)
            for row, p in enumerate(p_idx):
                candidates = np.where(taken | hard, -1.0, ious[row])
                best = int(np.argmax(candidates))
                if candidates[best] >= threshold - 1e-12:
                    taken[best] = True
                    tp[p, k] = True
                    if k == 0:
                        matched_conf[t_idx[best]] = pred_conf[p]
                    continue
                on_hard = np.where(hard, ious[row], -1.0)
                best = int(np.argmax(on_hard))
                if on_hard[best] >= threshold - 1e-12:
                    ignored[p, k] = True
                    if k == 0 and matched_conf[t_idx[best]] == -np.inf:
                        matched_conf[t_idx[best]] = pred_conf[p]
    return tp, ignored, matched_conf
