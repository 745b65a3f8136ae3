"""Evaluate a detector on a YOLO dataset split: AP, the operating threshold and recall by size.

Two views of the same predictions:
- ``ap50`` / ``ap50_95``: class-aware COCO average precision (101 recall points, IoU 0.5 and
  0.5:0.95), averaged over the classes present in the ground truth (the usual mAP).
- ``precision``, ``recall``, ``f1`` at the operating threshold ``conf`` and ``recall_by_size``:
  class-agnostic (a camera found is a camera found, whatever its type), IoU >= 0.5, which is what
  the density estimator needs. ``conf`` maximises F1, or, with ``precision_target``, is the
  threshold with the highest recall whose precision reaches the target.
Box sizes are ``sqrt(w*h)`` of ground-truth boxes in original image pixels.

Truth boxes smaller than ``difficult_px`` (6 px: below what people label in real imagery; the
Stanford labels have p10 5.5 px) are "difficult", VOC-style: a detection matching one is neither
a true nor a false positive, and missing one is not a miss. The per-size-band figures
(``by_size``) and the calibration count them as they are (a detection of a tiny camera is a
real camera, a tiny camera not found is not found), so the density estimator sees everything.

``calibration`` (the shared format of issues 12-14): precision by confidence bin above the
operating threshold (detections ``n``, of them ``real``), recall by box-size bin (true
cameras ``n``, of them ``found`` at the threshold) and false detections per confidence bin and
image (``false_bins``: boxes that overlap no true box, the estimator's false cameras; a second box
on one camera is not among them); counts, not rates.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import detector  # noqa: F401  (offline ultralytics set-up)
from detector.card import ModelCard, read_card, write_card
from detector.matching import IOU_THRESHOLDS, match_boxes, overlaps_no_truth
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

DIFFICULT_PX = 6.0  # truth boxes with sqrt(area) below this are "difficult" (ignored both ways)
SIZE_EDGES_PX = [0.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 100000.0]  # the calibration's size bins
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
SECTION_START, SECTION_END = "<!-- evaluation -->", "<!-- /evaluation -->"


# ----------------------------------------------------------------------------- pure scoring

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
                      conf: float | None = None, difficult_px: float = DIFFICULT_PX,
                      n_images: int | None = None) -> dict[str, Any]:
    """Score predictions (image_id, class_name, x1, y1, x2, y2, conf) against truth (image_id,
    class_name, x1, y1, x2, y2); pixels of the original images. See the module docstring.

    The operating threshold is ``conf`` when given, else the max-F1 one (or the best recall
    reaching ``precision_target``). ``difficult_px``: truths under this sqrt(area) are ignored
    (0: none). ``n_images`` (default: images seen in either table) divides the false detections."""
    if precision_target is not None and not 0 < precision_target <= 1:
        raise DetectorInputError(f"--precision target must be in (0, 1], got {precision_target}")
    if conf is not None and not 0 <= conf <= 1:
        raise DetectorInputError(f"--conf must be in [0, 1], got {conf}")
    sizes = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy(float) if len(truth) else np.zeros(0)
    hard = sizes < difficult_px - 1e-9
    n_truth = int((~hard).sum())
    classes = sorted(set(truth["class_name"][~hard])) if n_truth else []
    aps = []
    for name in classes:
        p = predictions[predictions.class_name == name].reset_index(drop=True)
        in_class = (truth.class_name == name).to_numpy()
        t = truth[in_class].reset_index(drop=True)
        tp_c, ign_c, _ = match_boxes(p, t, class_aware=True, ignore=hard[in_class])
        conf_c = p["conf"].to_numpy(float)
        aps.append([average_precision(tp_c[~ign_c[:, k], k], conf_c[~ign_c[:, k]], int((~hard[in_class]).sum()))
                    for k in range(len(IOU_THRESHOLDS))])
    ap = np.array(aps) if aps else np.zeros((0, len(IOU_THRESHOLDS)))
    tp_all, ign_all, matched_conf = match_boxes(predictions, truth, class_aware=False, ignore=hard)
    tp, ign = tp_all[:, 0], ign_all[:, 0]
    pred_conf = predictions["conf"].to_numpy(float)
    curve = pr_curve(tp[~ign], pred_conf[~ign], n_truth)
    target_met = None
    if conf is not None:
        kept = (pred_conf >= conf) & ~ign
        n_tp = int(tp[kept].sum())
        precision = n_tp / kept.sum() if kept.sum() else 0.0
        recall = n_tp / n_truth if n_truth else 0.0
        point = {"conf": conf, "precision": precision, "recall": recall,
                 "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0}
    elif curve.empty:
        point = {"conf": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    elif precision_target is None:
        point = curve.loc[curve.f1.idxmax()].to_dict()
    else:
        reach = curve[curve.precision >= precision_target - 1e-12]
        target_met = not reach.empty
        point = (reach.loc[reach.recall.idxmax()] if target_met else curve.loc[curve.precision.idxmax()]).to_dict()
    threshold = float(point["conf"])
    found = matched_conf >= threshold
    bins = np.array([size_bin(v) for v in sizes])
    recall_by_size: dict[str, float | None] = {}
    n_by_size: dict[str, int] = {}
    for label, _, _ in SIZE_BINS:
        in_bin = bins == label
        n_by_size[label] = int(in_bin.sum())
        recall_by_size[label] = float(np.mean(found[in_bin])) if in_bin.any() else None
    if n_images is None:
        n_images = len(set(truth["image_id"]) | set(predictions["image_id"])) if (len(truth) or len(predictions)) else 0
    kept = pred_conf >= threshold
    n_false = int((kept & ~tp & ~ign).sum())
    return {
        "ap50": float(np.mean(ap[:, 0])) if len(ap) else None,
        "ap50_95": float(np.mean(ap)) if len(ap) else None,
        "ap50_any_class": average_precision(tp[~ign], pred_conf[~ign], n_truth) if n_truth else None,
        "precision": float(point["precision"]), "recall": float(point["recall"]), "f1": float(point["f1"]),
        "conf": threshold, "precision_target": precision_target, "precision_target_met": target_met,
        "recall_by_size": recall_by_size, "n_by_size": n_by_size,
        "by_size": by_size_from_boxes(predictions, truth, conf=threshold, edges_px=SIZE_EDGES_PX),
        "difficult_px": difficult_px, "n_difficult": int(hard.sum()),
        "n_images": int(n_images), "n_truth": n_truth, "n_truth_all": len(truth), "n_predictions": len(predictions),
        "n_false": n_false, "false_per_image": n_false / n_images if n_images else None,
        "calibration": calibration_from_matches(pred_conf, tp | ign, sizes, found, conf=threshold,
                                                n_images=int(n_images),
                                                background=overlaps_no_truth(predictions, truth)),
        "curve": curve,
    }


def by_size_from_boxes(predictions: pd.DataFrame, truth: pd.DataFrame, *, conf: float,
                       edges_px: list[float] = SIZE_EDGES_PX) -> list[dict[str, Any]]:
    """Figures per band of true-box size (sqrt(w*h) px), COCO area-range style: in a band, truths
    outside it are ignored and so are unmatched detections whose own size is outside it.

    One dict per band: lo_px, hi_px, n (truths), found (at ``conf``), recall, ap50 (any class),
    precision (at ``conf``), n_detections (counted at ``conf``)."""
    sizes = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy(float) if len(truth) else np.zeros(0)
    pred_sizes = (np.sqrt((predictions.x2 - predictions.x1).clip(0) * (predictions.y2 - predictions.y1).clip(0))
                  .to_numpy(float) if len(predictions) else np.zeros(0))
    pred_conf = predictions["conf"].to_numpy(float)
    rows = []
    for lo, hi in zip(edges_px[:-1], edges_px[1:]):
        outside = (sizes < lo) | (sizes >= hi)
        tp_all, ign_all, matched_conf = match_boxes(predictions, truth, class_aware=False,
                                                    thresholds=IOU_THRESHOLDS[:1], ignore=outside)
        tp = tp_all[:, 0]
        ign = ign_all[:, 0] | (~tp & ((pred_sizes < lo) | (pred_sizes >= hi)))
        n = int((~outside).sum())
        kept = (pred_conf >= conf) & ~ign
        found = int((matched_conf[~outside] >= conf).sum())
        rows.append({"lo_px": lo, "hi_px": hi, "n": n, "found": found, "recall": found / n if n else None,
                     "ap50": average_precision(tp[~ign], pred_conf[~ign], n) if n else None,
                     "precision": float(tp[kept].sum() / kept.sum()) if kept.sum() else None,
                     "n_detections": int(kept.sum())})
    return rows


def calibration_from_matches(pred_conf: np.ndarray, real: np.ndarray, truth_sizes: np.ndarray,
                             truth_found: np.ndarray, *, conf: float, n_images: int,
                             background: np.ndarray | None = None,
                             edges_px: list[float] = SIZE_EDGES_PX) -> dict[str, Any]:
    """The shared calibration dict (source "card") from matched detections and truths.

    ``pred_conf``/``real``: each detection's confidence and whether it is a true camera (matched at
    IoU 0.5, tiny ones included); ``truth_sizes`` (sqrt area px) / ``truth_found`` per true box.
    Confidence edges: ``conf``, then every 0.1 above it, then 1.0. ``false_bins`` holds the false
    detections per confidence bin with the ``n_images`` they came from: a rate per image, which
    carries from one area to another (precision depends on how many cameras an area has). A false
    detection there is one on no camera (``background``, per detection: overlapping no true box);
    a second box on a camera is left out, as its rate follows the cameras in view (docs/estimator.md
    section 10). Without ``background``, every detection that is not ``real`` counts."""
    edges = [float(conf)] + [float(round(e, 1)) for e in np.arange(0.1, 1.0, 0.1) if e > conf + 0.02] + [1.0]
    if edges[-2] >= 1.0:
        edges = edges[:-1]
    kept = pred_conf >= conf
    index = np.clip(np.searchsorted(edges, pred_conf[kept], side="right") - 1, 0, len(edges) - 2)
    n = np.bincount(index, minlength=len(edges) - 1)
    hits = np.bincount(index, weights=real[kept].astype(float), minlength=len(edges) - 1)
    false = (n - np.round(hits) if background is None
             else np.bincount(index, weights=background[kept].astype(float), minlength=len(edges) - 1))
    size_index = np.clip(np.searchsorted(edges_px, truth_sizes, side="right") - 1, 0, len(edges_px) - 2)
    rec_n = np.bincount(size_index, minlength=len(edges_px) - 1)
    rec_found = np.bincount(size_index, weights=truth_found.astype(float), minlength=len(edges_px) - 1)
    return {"source": "card", "conf_threshold": round(float(conf), 4),
            "precision_bins": {"edges": [round(e, 4) for e in edges], "n": [int(v) for v in n],
                               "real": [int(round(v)) for v in hits]},
            "recall_bins": {"edges_px": [float(e) for e in edges_px], "n": [int(v) for v in rec_n],
                            "found": [int(round(v)) for v in rec_found]},
            "false_bins": {"edges": [round(e, 4) for e in edges], "false": [int(round(v)) for v in false],
                           "n_images": int(n_images)},
            "n_images": int(n_images)}


# ----------------------------------------------------------------------------- model evaluation

def predictions_from_model(model: Any, images: list[Path], *, imgsz: int = 640, device: str = "auto",
                           batch: int = 8, conf_min: float = 0.001, max_det: int = 300, slice: str | None = None,
                           precision: str = "auto") -> tuple[pd.DataFrame, dict[str, float]]:
    """Run ``model`` (a models/ name, a weights path or a ``ResolvedModel``) on ``images`` through
    the survey's own detect stage (``detector.detect.detect_images``: same letterboxing, precision
    and ``slice``), keeping detections from ``conf_min`` up; boxes in original pixels,
    ``image_id`` = position in ``images``. Also returns the timing: wall ``seconds`` and
    ``cpu_seconds`` (user + system, this process and its children) of the detection."""
    import resource
    import tempfile
    import time

    from detector.detect import detect_images
    from detector.engine import read_detections

    def cpu() -> float:
        return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime"))

    with tempfile.TemporaryDirectory(prefix="camcensus-eval-") as tmp:
        listing = Path(tmp) / "images.txt"
        listing.write_text("".join(f"{Path(p).resolve()}\n" for p in images), encoding="utf-8")
        wall, cpu0 = time.monotonic(), cpu()
        detect_images(listing, model=model, out=Path(tmp) / "out", device=device, precision=precision, batch=batch,
                      conf=conf_min, imgsz=imgsz, slice=slice, max_det=max_det, progress=False)
        timing = {"seconds": round(time.monotonic() - wall, 2), "cpu_seconds": round(cpu() - cpu0, 2)}
        found = read_detections(Path(tmp) / "out")
    position = {str(Path(p).resolve()): i for i, p in enumerate(images)}
    predictions = pd.DataFrame({"image_id": found["image_id"].astype(str).map(position).astype(int),
                                "class_name": found["class_name"].astype(str),
                                **{c: found[c].astype(float) for c in ("x1", "y1", "x2", "y2", "conf")}})
    return predictions.reset_index(drop=True), timing


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
                   conf: float | None = None, split: str = "val", imgsz: int = 640, device: str = "auto",
                   batch: int = 8, slice: str | None = None, difficult_px: float = DIFFICULT_PX,
                   card: str | Path | None = None, plot: str | Path | None = None,
                   json_path: str | Path | None = None, models_dir: Path | None = None,
                   new_held_out: bool = False) -> dict[str, Any]:
    """Evaluate ``model`` (a models/ name as ``detect`` takes, or a weights path) on ``split`` of
    ``data_yaml`` at ``imgsz`` px (full images, or ``slice`` SIZE:OVERLAP tiles; boxes scored in
    original pixels). Returns ap50, ap50_95, precision, recall, f1, conf, recall_by_size, by_size,
    false_per_image, calibration and the inference timing (see :func:`scores_from_boxes`).

    ``conf``: a fixed operating threshold (default: max F1, or ``precision_target``);
    ``difficult_px``: truths under this sqrt(area) are ignored both ways. ``plot``: PR-curve PNG;
    ``json_path``: the figures as JSON. ``card``: a model card to update with the figures and
    calibration (created if missing; its previous figures go to its history). That is refused
    with ``detector.held_out.CardUpdateRefused`` before anything runs unless the data is the
    held-out set the card names, or ``new_held_out`` makes it the card's held-out set."""
    from detector.held_out import CardUpdateRefused, card_update_problem, held_out_from_split
    from detector.registry import resolve_model

    spec = read_data_yaml(data_yaml)
    if split not in spec.splits:
        raise DetectorInputError(f"{spec.yaml_path} has no split '{split}' (has {', '.join(spec.splits)})")
    images = spec.splits[split]
    if not images:
        raise DetectorInputError(f"split '{split}' of {spec.yaml_path} has no images")
    held_out = held_out_from_split(spec.yaml_path, split)  # the data's identity, for the card and --json
    if card is not None:  # refuse before any work: nothing changes when the data is not the card's set
        problem = card_update_problem(read_card(card) if Path(card).is_file() else None, held_out,
                                      new_held_out=new_held_out)
        if problem:
            raise CardUpdateRefused(f"refused: {problem}")
    if isinstance(model, (str, Path)):
        try:
            model = resolve_model(str(model), models_dir=models_dir)
        except DetectorInputError as error:
            raise DetectorInputError(f"model weights not found: {model} ({error})") from None
    truth = truth_from_split(images, spec.names)
    predictions, timing = predictions_from_model(model, images, imgsz=imgsz, device=device, batch=batch, slice=slice)
    scores = scores_from_boxes(predictions, truth, precision_target=precision_target, conf=conf,
                               difficult_px=difficult_px, n_images=len(images))
    curve = scores.pop("curve")
    from detector.reach import reach_for_split  # issue 21: reach per class, recall per size band

    scores["reach"] = reach_for_split(predictions, truth, images, conf=scores["conf"], data_root=spec.root)
    if scores.get("calibration"):  # issue 26 (look test, unseen4 hook): the held-out images' look, for the card check
        from detector.look import look_reference, look_table

        scores["calibration"]["look"] = look_reference(look_table(images, workers=min(4, os.cpu_count() or 1)),
                                                       source=f"{spec.yaml_path} {split}")
    scores.update({"imgsz": imgsz, "slice": slice, "split": split, "data": str(spec.yaml_path), **timing,
                   "cpu_ms_per_image": round(1000 * timing["cpu_seconds"] / len(images), 2),
                   "model": model.model_id, "held_out": held_out})
    if plot is not None:
        plot_pr_curve(curve, scores, plot)
        scores["pr_curve_png"] = str(plot)
    if json_path is not None:
        write_text(json_path, json.dumps(scores, indent=2))
    if card is not None:
        card_from_scores(card, scores, weights=model.path.name, evaluated_on=_describe(spec.yaml_path, split),
                         held_out=held_out, new_held_out=new_held_out)
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
                     evaluated_on: str = "", held_out: dict[str, Any] | None = None,
                     new_held_out: bool = False) -> ModelCard:
    """Write the evaluation figures into a model card (its front matter and an Evaluation section);
    the figures it held before move to its history (``detector.card.archive_evaluation``), and
    ``held_out`` (``detector.held_out.held_out_from_split``) becomes the set it names. Callers
    check ``detector.held_out.card_update_problem`` first (``evaluate_model`` does)."""
    from detector.card import archive_evaluation
    from detector.held_out import held_out_for_card

    card_path = Path(card_path)
    card = read_card(card_path) if card_path.is_file() else ModelCard(
        name=card_path.stem, weights=weights or f"{card_path.stem}.pt")
    same_set = bool(held_out) and (card.held_out or {}).get("fingerprint") == held_out["fingerprint"]
    archive_evaluation(card, reason="re-evaluated on the same held-out set" if same_set else
                       "held-out set changed (--new-held-out)" if new_held_out else "replaced")
    if held_out:
        card.held_out = held_out_for_card(card, held_out, new_held_out=new_held_out)
    card.conf = round(scores["conf"], 4)
    for key in ("precision", "recall", "f1", "ap50", "ap50_95"):
        value = scores[key]
        setattr(card, key, None if value is None else round(float(value), 4))
    card.recall_by_size = {k: None if v is None else round(v, 4) for k, v in scores["recall_by_size"].items()}
    card.evaluated_on = evaluated_on
    if scores.get("calibration"):
        card.calibration = scores["calibration"]
    card.extra["evaluation"] = {k: scores[k] for k in ("imgsz", "slice", "n_images", "n_truth", "n_truth_all",
                                                        "n_difficult", "difficult_px", "n_predictions",
                                                        "n_by_size", "ap50_any_class", "false_per_image",
                                                        "cpu_ms_per_image", "precision_target",
                                                        "precision_target_met") if k in scores}
    card.extra["evaluation"]["evaluated"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if scores.get("reach"):
        card.extra["reach_m"] = scores["reach"]["reach_m"]  # issue 21: range (m) where recall falls to 0.5
    section = "\n".join([
        SECTION_START, "## Evaluation", "",
        f"On {evaluated_on} ({scores['n_images']} images, {scores['n_truth']} camera boxes of "
        f"{scores.get('difficult_px', 0):g} px and more, {scores.get('n_difficult', 0)} smaller ones counted as "
        f"difficult: neither missed nor false), full images at {scores['imgsz']} px"
        f"{', sliced ' + scores['slice'] if scores.get('slice') else ''}, IoU 0.5, any class"
        + (f"; {scores['false_per_image']:.3f} false detections per image" if scores.get('false_per_image') is not None
           else "") + ":", "",
        "| conf | precision | recall | F1 | AP50 | AP50-95 |", "|---|---|---|---|---|---|",
        f"| {scores['conf']:.3f} | {scores['precision']:.3f} | {scores['recall']:.3f} | {scores['f1']:.3f} "
        f"| {_fmt(scores['ap50'])} | {_fmt(scores['ap50_95'])} |", "",
        "Recall by box size (sqrt(w*h) of the true box, px; number of boxes in brackets):", "",
        "| " + " | ".join(scores["recall_by_size"]) + " |", "|" + "---|" * len(scores["recall_by_size"]),
        "| " + " | ".join(f"{_fmt(v)} ({scores['n_by_size'][k]})" for k, v in scores["recall_by_size"].items()) + " |",
        "", *_by_size_table(scores), *_reach_section(scores), SECTION_END, ""])
    body = card.body
    if SECTION_START in body and SECTION_END in body:
        head, rest = body.split(SECTION_START, 1)
        body = head + section + rest.split(SECTION_END, 1)[1].lstrip("\n")
    else:
        body = body.rstrip("\n") + ("\n\n" if body.strip() else "") + section
    card.body = body
    write_card(card, card_path)
    return card


def _by_size_table(scores: dict[str, Any]) -> list[str]:
    """Markdown lines: figures per true-box size band (all boxes, the tiny ones too)."""
    rows = scores.get("by_size")
    if not rows:
        return []
    lines = ["Per size band (sqrt(w*h) of the true box, px; every box counted, COCO area-range rules):", "",
             "| band px | boxes | found | recall | AP50 | precision |", "|---|---|---|---|---|---|"]
    for r in rows:
        hi = "inf" if r["hi_px"] >= 1e4 else f"{r['hi_px']:g}"
        lines.append(f"| {r['lo_px']:g}-{hi} | {r['n']} | {r['found']} | {_fmt(r['recall'])} | {_fmt(r['ap50'])} "
                     f"| {_fmt(r['precision'])} |")
    return [*lines, ""]


def _reach_section(scores: dict[str, Any]) -> list[str]:
    """Markdown lines: reach per class (detector.reach)."""
    from detector.reach import reach_lines

    lines = reach_lines(scores["reach"]) if scores.get("reach") else []
    return ["Reach (range from the viewpoint where recall falls to 0.5, 640 px / 90 degree views):", "",
            *(f"- {line}" for line in lines), ""] if lines else []


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _describe(yaml_path: Path, split: str) -> str:
    import yaml

    data = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
    described = data.get(f"{split}_description") or data.get("description")
    return f"{described} ({split} split)" if described else f"{yaml_path} ({split} split)"
