"""Evaluate a detector on a YOLO dataset split: AP, the operating threshold and recall by size.

Two views of the same predictions:
- ``ap50`` / ``ap50_95``: class-aware COCO average precision (101 recall points, IoU 0.5 and
  0.5:0.95), averaged over the classes present in the ground truth (the usual mAP).
- ``precision``, ``recall``, ``f1`` at the operating threshold ``conf`` and ``recall_by_size``:
  class-agnostic (a camera found is a camera found, whatever its type), IoU >= 0.5, which is what
  the density estimator needs. ``conf`` maximises F1, or, with ``precision_target``, is the
  threshold with the highest recall whose precision reaches the target.
Box sizes are ``sqrt(w*h)`` of ground-truth boxes in original image pixels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import detector  # noqa: F401  (offline ultralytics set-up)
from detector.card import ModelCard, read_card, write_card
from detector.errors import DetectorInputError
from detector.io import atomic_path, write_text
from detector.yolo_dataset import (
    SIZE_BINS,
    boxes_from_label_file,
    image_size,
    label_path_of,
    read_data_yaml,
    size_bin,
)

IOU_THRESHOLDS = np.round(np.arange(0.5, 0.96, 0.05), 2)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
SECTION_START, SECTION_END = "<!-- evaluation -->", "<!-- /evaluation -->"


# ----------------------------------------------------------------------------- pure scoring

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


def match_boxes(predictions: pd.DataFrame, truth: pd.DataFrame, *, class_aware: bool,
                thresholds: np.ndarray = IOU_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """Greedy COCO matching, per image, predictions in descending ``conf``.

    Returns ``tp`` (n_pred, n_thresholds) bool in the row order of ``predictions`` and, for each
    truth row, the conf of the prediction matched to it at the first IoU threshold (-inf if none).
    """
    tp = np.zeros((len(predictions), len(thresholds)), bool)
    matched_conf = np.full(len(truth), -np.inf)
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
        for k, threshold in enumerate(thresholds):
            taken = np.zeros(len(t_idx), bool)
            for row, p in enumerate(p_idx):
                candidates = np.where(taken, -1.0, ious[row])
                best = int(np.argmax(candidates))
                if candidates[best] >= threshold - 1e-12:
                    taken[best] = True
                    tp[p, k] = True
                    if k == 0:
                        matched_conf[t_idx[best]] = pred_conf[p]
    return tp, matched_conf


def average_precision(tp: np.ndarray, conf: np.ndarray, n_truth: int) -> float:
    """COCO 101-point interpolated AP of one class at one IoU threshold."""
    if n_truth == 0:
        return float("nan")
    if not len(tp):
        return 0.0
    order = np.argsort(-conf, kind="stable")
    hits = tp[order].astype(float)
    cum_tp, cum_fp = np.cumsum(hits), np.cumsum(1 - hits)
    recall = cum_tp / n_truth
    precision = cum_tp / (cum_tp + cum_fp)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    return float(np.mean([envelope[i] if i < len(envelope) else 0.0 for i in idx]))


def pr_curve(tp: np.ndarray, conf: np.ndarray, n_truth: int) -> pd.DataFrame:
    """Precision, recall and F1 when keeping detections with ``conf >= threshold``, one row per
    distinct confidence (descending)."""
    order = np.argsort(-conf, kind="stable")
    conf_sorted, hits = conf[order], tp[order].astype(float)
    cum_tp = np.cumsum(hits)
    precision = cum_tp / np.arange(1, len(hits) + 1)
    recall = cum_tp / max(n_truth, 1)
    last_of_group = np.r_[conf_sorted[1:] != conf_sorted[:-1], True] if len(conf_sorted) else np.zeros(0, bool)
    curve = pd.DataFrame({"conf": conf_sorted, "precision": precision, "recall": recall})[last_of_group]
    f1 = 2 * curve.precision * curve.recall / (curve.precision + curve.recall)
    curve["f1"] = f1.fillna(0.0)
    return curve.reset_index(drop=True)


def scores_from_boxes(predictions: pd.DataFrame, truth: pd.DataFrame, *, precision_target: float | None = None,
                      ) -> dict[str, Any]:
    """Score predictions (image_id, class_name, x1, y1, x2, y2, conf) against truth (image_id,
    class_name, x1, y1, x2, y2); pixels of the original images. See the module docstring."""
    if precision_target is not None and not 0 < precision_target <= 1:
        raise DetectorInputError(f"--precision target must be in (0, 1], got {precision_target}")
    n_truth = len(truth)
    classes = sorted(set(truth["class_name"])) if n_truth else []
    aps = []
    for name in classes:
        p = predictions[predictions.class_name == name].reset_index(drop=True)
        t = truth[truth.class_name == name].reset_index(drop=True)
        tp_c, _ = match_boxes(p, t, class_aware=True)
        conf_c = p["conf"].to_numpy(float)
        aps.append([average_precision(tp_c[:, k], conf_c, len(t)) for k in range(len(IOU_THRESHOLDS))])
    ap = np.array(aps) if aps else np.zeros((0, len(IOU_THRESHOLDS)))
    tp, matched_conf = match_boxes(predictions, truth, class_aware=False)
    conf = predictions["conf"].to_numpy(float)
    curve = pr_curve(tp[:, 0], conf, n_truth)
    target_met = None
    if curve.empty:
        point = {"conf": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    elif precision_target is None:
        point = curve.loc[curve.f1.idxmax()].to_dict()
    else:
        reach = curve[curve.precision >= precision_target - 1e-12]
        target_met = not reach.empty
        point = (reach.loc[reach.recall.idxmax()] if target_met else curve.loc[curve.precision.idxmax()]).to_dict()
    sizes = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy() if n_truth else np.zeros(0)
    bins = np.array([size_bin(s) for s in sizes])
    recall_by_size: dict[str, float | None] = {}
    n_by_size: dict[str, int] = {}
    for label, _, _ in SIZE_BINS:
        in_bin = bins == label
        n_by_size[label] = int(in_bin.sum())
        recall_by_size[label] = float(np.mean(matched_conf[in_bin] >= point["conf"])) if in_bin.any() else None
    return {
        "ap50": float(np.mean(ap[:, 0])) if len(ap) else None,
        "ap50_95": float(np.mean(ap)) if len(ap) else None,
        "ap50_any_class": average_precision(tp[:, 0], conf, n_truth) if n_truth else None,
        "precision": float(point["precision"]), "recall": float(point["recall"]), "f1": float(point["f1"]),
        "conf": float(point["conf"]), "precision_target": precision_target, "precision_target_met": target_met,
        "recall_by_size": recall_by_size, "n_by_size": n_by_size,
        "n_images": len(set(truth["image_id"]) | set(predictions["image_id"])) if (n_truth or len(predictions)) else 0,
        "n_truth": n_truth, "n_predictions": len(predictions),
        "curve": curve,
    }


# ----------------------------------------------------------------------------- model evaluation

def predictions_from_model(model: Any, images: list[Path], *, imgsz: int = 640, device: str = "auto",
                           batch: int = 8, conf_min: float = 0.001, max_det: int = 100) -> pd.DataFrame:
    """Run ``model`` (a path or an ultralytics ``YOLO``) on ``images``; boxes in original pixels."""
    from ultralytics import YOLO

    yolo = model if isinstance(model, YOLO) else YOLO(str(model))
    device_arg = None if device in ("auto", "", None) else device
    rows = []
    for start in range(0, len(images), batch):
        chunk = [str(p) for p in images[start:start + batch]]
        for image_id, result in zip(range(start, start + len(chunk)), yolo.predict(
                chunk, imgsz=imgsz, conf=conf_min, max_det=max_det, device=device_arg, verbose=False)):
            boxes = result.boxes
            if boxes is None or not len(boxes):
                continue
            xyxy = boxes.xyxy.cpu().numpy()
            confs = boxes.conf.cpu().numpy()
            classes = boxes.cls.cpu().numpy().astype(int)
            for (x1, y1, x2, y2), c, k in zip(xyxy, confs, classes):
                rows.append((image_id, result.names[k], float(x1), float(y1), float(x2), float(y2), float(c)))
    return pd.DataFrame(rows, columns=["image_id", "class_name", "x1", "y1", "x2", "y2", "conf"])


def truth_from_split(images: list[Path], names: list[str]) -> pd.DataFrame:
    """Ground-truth boxes (pixels) of a split's images, ``image_id`` = position in ``images``."""
    parts = []
    for image_id, path in enumerate(images):
        label = label_path_of(path)
        if not label.exists():
            continue
        width, height = image_size(path)
        boxes = boxes_from_label_file(label, width, height, names=names)
        if len(boxes):
            boxes.insert(0, "image_id", image_id)
            parts.append(boxes)
    if not parts:
        return pd.DataFrame(columns=["image_id", "class_name", "x1", "y1", "x2", "y2"])
    return pd.concat(parts, ignore_index=True)


def evaluate_model(model: Any, data_yaml: str | Path, *, precision_target: float | None = None,
                   split: str = "val", imgsz: int = 640, device: str = "auto", batch: int = 8,
                   card: str | Path | None = None, plot: str | Path | None = None,
                   json_path: str | Path | None = None) -> dict[str, Any]:
    """Evaluate ``model`` on ``split`` of ``data_yaml`` at ``imgsz`` px (full images, boxes scored in
    original pixels). Returns ap50, ap50_95, precision, recall, f1, conf, recall_by_size (+ counts).

    ``card``: a model card to update with the figures (created if missing); ``plot``: PR-curve PNG;
    ``json_path``: the figures as JSON."""
    spec = read_data_yaml(data_yaml)
    if split not in spec.splits:
        raise DetectorInputError(f"{spec.yaml_path} has no split '{split}' (has {', '.join(spec.splits)})")
    images = spec.splits[split]
    if not images:
        raise DetectorInputError(f"split '{split}' of {spec.yaml_path} has no images")
    if isinstance(model, (str, Path)) and not Path(model).is_file():
        raise DetectorInputError(f"model weights not found: {model}")
    truth = truth_from_split(images, spec.names)
    predictions = predictions_from_model(model, images, imgsz=imgsz, device=device, batch=batch)
    scores = scores_from_boxes(predictions, truth, precision_target=precision_target)
    scores["n_images"] = len(images)
    curve = scores.pop("curve")
    scores.update({"imgsz": imgsz, "split": split, "data": str(spec.yaml_path)})
    if plot is not None:
        plot_pr_curve(curve, scores, plot)
        scores["pr_curve_png"] = str(plot)
    if json_path is not None:
        write_text(json_path, json.dumps(scores, indent=2))
    if card is not None:
        card_from_scores(card, scores, weights=Path(str(model)).name if isinstance(model, (str, Path)) else None,
                         evaluated_on=_describe(spec.yaml_path, split))
    return scores


def plot_pr_curve(curve: pd.DataFrame, scores: dict[str, Any], path: str | Path) -> Path:
    """Class-agnostic precision-recall curve with the operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    if len(curve):
        ax.plot(curve.recall, curve.precision, lw=1.5, label="any camera, IoU 0.5")
    ax.plot([scores["recall"]], [scores["precision"]], "o", color="C3",
            label=f"operating point conf={scores['conf']:.2f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"PR curve (AP50 {_fmt(scores['ap50'])}, AP50-95 {_fmt(scores['ap50_95'])})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png")
    plt.close(fig)
    return path


def card_from_scores(card_path: str | Path, scores: dict[str, Any], *, weights: str | None = None,
                     evaluated_on: str = "") -> ModelCard:
    """Write the evaluation figures into a model card (its front matter and an Evaluation section)."""
    card_path = Path(card_path)
    card = read_card(card_path) if card_path.is_file() else ModelCard(
        name=card_path.stem, weights=weights or f"{card_path.stem}.pt")
    card.conf = round(scores["conf"], 4)
    for key in ("precision", "recall", "f1", "ap50", "ap50_95"):
        value = scores[key]
        setattr(card, key, None if value is None else round(float(value), 4))
    card.recall_by_size = {k: None if v is None else round(v, 4) for k, v in scores["recall_by_size"].items()}
    card.evaluated_on = evaluated_on
    card.extra["evaluation"] = {k: scores[k] for k in ("imgsz", "n_images", "n_truth", "n_predictions", "n_by_size",
                                                        "ap50_any_class", "precision_target",
                                                        "precision_target_met") if k in scores}
    section = "\n".join([
        SECTION_START, "## Evaluation", "",
        f"On {evaluated_on} ({scores['n_images']} images, {scores['n_truth']} camera boxes), full images at "
        f"{scores['imgsz']} px, IoU 0.5, any class:", "",
        "| conf | precision | recall | F1 | AP50 | AP50-95 |", "|---|---|---|---|---|---|",
        f"| {scores['conf']:.3f} | {scores['precision']:.3f} | {scores['recall']:.3f} | {scores['f1']:.3f} "
        f"| {_fmt(scores['ap50'])} | {_fmt(scores['ap50_95'])} |", "",
        "Recall by box size (sqrt(w*h) of the true box, px; number of boxes in brackets):", "",
        "| " + " | ".join(scores["recall_by_size"]) + " |", "|" + "---|" * len(scores["recall_by_size"]),
        "| " + " | ".join(f"{_fmt(v)} ({scores['n_by_size'][k]})" for k, v in scores["recall_by_size"].items()) + " |",
        "", SECTION_END, ""])
    body = card.body
    if SECTION_START in body and SECTION_END in body:
        head, rest = body.split(SECTION_START, 1)
        body = head + section + rest.split(SECTION_END, 1)[1].lstrip("\n")
    else:
        body = body.rstrip("\n") + ("\n\n" if body.strip() else "") + section
    card.body = body
    write_card(card, card_path)
    return card


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _describe(yaml_path: Path, split: str) -> str:
    import yaml

    data = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
    described = data.get(f"{split}_description") or data.get("description")
    return f"{described} ({split} split)" if described else f"{yaml_path} ({split} split)"
