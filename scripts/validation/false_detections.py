"""False detections as the estimator counts them: located cameras with no true camera of their own
(issue 27, docs/estimator.md section 10).

The estimator subtracts a card's expected false detections (false_bins: per confidence bin, per
image) from the located cameras. A detection is a false camera when locate makes it a camera
that no true camera stands behind: a box on nothing, or a second box on a camera that already
has one in the same image (locate joins two boxes of one image only where they overlap by
``locate.TWIN_OVERLAP`` of the smaller one; a second box that overlaps less becomes a camera of
its own). One-to-one matching therefore fits; IoU 0.5 (the card's rule) does not quite: a box
that overlaps a camera no other box in its image covers (IoU under 0.5, a loose box) is a real
camera to the estimator.

    python -m scripts.validation.false_detections heldout --sets DIR --pred DIR [--model NAME] [--json OUT]
    python -m scripts.validation.false_detections rendered --root CACHE [--group "training look"] [--json OUT]

``heldout``: the fixed held-out sets (``python -m scripts.synthesis.heldout DIR``, look ``default``)
and the shipped model's cached predictions (``detector_heldout --cache``): per confidence bin of
the card, the detections of each kind and the false_bins the estimator needs (backgrounds +
duplicates per image), against the card's own rule (one-to-one at IoU 0.5). ``rendered``: the
cached rendered surveys' detections (``validate_rendered.py``) at the card's threshold, matched
to each image's true boxes the same way, then located (``geo.counting.locate``, as the estimate
does) to see what locate makes of duplicates: extra cameras per true camera, and the false cameras
per image and bin.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KINDS = ("real", "loose", "duplicate", "background")  # see kinds_from_boxes
FALSE_KINDS = ("duplicate", "background")  # the estimator's false cameras
MODEL = "cctv-yolo11n-synth2"


def kinds_from_boxes(pred: pd.DataFrame, truth: pd.DataFrame, *, iou_real: float = 0.5) -> pd.DataFrame:
    """Each prediction's kind and its true box (row of ``truth``, -1 for none), per image, class-agnostic:

    - ``real``: matched one-to-one at IoU >= ``iou_real`` (greedy by confidence, the card's rule);
    - ``loose``: not matched so, but overlapping (IoU > 0) a true box that no prediction of its image
      matched: the only box on that camera, a real camera to the estimator;
    - ``duplicate``: overlapping only true boxes that another prediction of its image took;
    - ``background``: overlapping no true box.

    ``pred``: image_id, x1, y1, x2, y2, conf; ``truth``: image_id, x1, y1, x2, y2 (pixels). Every true
    box counts, however small (the card ignores those under 6 px; a box on one is a real camera)."""
    from detector.matching import iou_matrix, overlaps_no_truth

    kind = np.full(len(pred), "background", dtype=object)
    box = np.full(len(pred), -1, dtype=np.int64)
    cols = ["x1", "y1", "x2", "y2"]
    pxy, txy = pred[cols].to_numpy(float), truth[cols].to_numpy(float)
    conf = pred["conf"].to_numpy(float)
    t_groups = truth.groupby("image_id").indices if len(truth) else {}
    for image_id, p_idx in (pred.groupby("image_id").indices.items() if len(pred) else []):
        t_idx = t_groups.get(image_id)
        if t_idx is None:
            continue
        p_idx = p_idx[np.argsort(-conf[p_idx], kind="stable")]
        ious = iou_matrix(pxy[p_idx], txy[t_idx])
        taken = np.zeros(len(t_idx), bool)
        for threshold, label in ((iou_real, "real"), (1e-9, "loose")):
            for row, p in enumerate(p_idx):
                if box[p] >= 0:
                    continue
                candidates = np.where(taken, -1.0, ious[row])
                best = int(np.argmax(candidates))
                if candidates[best] >= threshold:
                    taken[best], kind[p], box[p] = True, label, t_idx[best]
        for row, p in enumerate(p_idx):
            if box[p] < 0:
                box[p] = t_idx[int(np.argmax(ious[row]))]  # a duplicate's true box (background: reset below)
    # the boxes on no camera are the card's false_bins (detector.matching, its one definition)
    background = overlaps_no_truth(pred.reset_index(drop=True), truth.reset_index(drop=True))
    matched = np.isin(kind, ("real", "loose"))
    kind = np.where(matched, kind, np.where(background, "background", "duplicate"))
    box = np.where(matched | ~background, box, -1)
    return pd.DataFrame({"kind": kind, "truth_row": box}, index=pred.index)


def bin_index(conf: np.ndarray, edges: list[float]) -> np.ndarray:
    """Confidence bin of each detection (the card's edges; -1 below the first)."""
    conf = np.asarray(conf, float)
    index = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, len(edges) - 2)
    return np.where(conf >= edges[0] - 1e-9, index, -1)


def counts_by_bin(conf: np.ndarray, kinds: np.ndarray, edges: list[float]) -> dict[str, list[int]]:
    """Detections of each kind per confidence bin."""
    b = bin_index(conf, edges)
    k = len(edges) - 1
    return {name: np.bincount(b[(b >= 0) & (kinds == name)], minlength=k).astype(int).tolist() for name in KINDS}


def card_rule_false(pred: pd.DataFrame, truth: pd.DataFrame, edges: list[float]) -> list[int]:
    """False detections per bin by the card's own rule (``detector.evaluate``: one-to-one at IoU 0.5,
    detections on true boxes under 6 px neither real nor false)."""
    from detector.evaluate import DIFFICULT_PX
    from detector.matching import match_boxes

    sizes = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy(float)
    p = pred.reset_index(drop=True)
    tp, ign, _ = match_boxes(p, truth.reset_index(drop=True), class_aware=False,
                             thresholds=np.array([0.5]), ignore=sizes < DIFFICULT_PX - 1e-9)
    b = bin_index(p["conf"].to_numpy(float), edges)
    false = (b >= 0) & ~tp[:, 0] & ~ign[:, 0]
    return np.bincount(b[false], minlength=len(edges) - 1).astype(int).tolist()


def heldout_figures(sets: str | Path, pred_dir: str | Path, *, model: str = MODEL, look: str = "default"
                    ) -> dict[str, Any]:
    """The held-out set's false_bins (the estimator's rule and the card's) at the card's edges."""
    from detector.evaluate import truth_from_split
    from detector.registry import resolve_model
    from detector.yolo_dataset import read_data_yaml

    card = resolve_model(model).card
    edges = [float(e) for e in card.calibration["false_bins"]["edges"]]
    spec = read_data_yaml(Path(sets) / look / "data.yaml")
    images = spec.splits["val"]
    truth = truth_from_split(images, spec.names)
    pred = pd.read_parquet(Path(pred_dir) / f"{model}-{look}-640.parquet")
    pred = pred[pred["conf"] >= edges[0] - 1e-9].reset_index(drop=True)
    kinds = kinds_from_boxes(pred, truth)
    counts = counts_by_bin(pred["conf"].to_numpy(float), kinds["kind"].to_numpy(), edges)
    false = [sum(counts[k][b] for k in FALSE_KINDS) for b in range(len(edges) - 1)]
    return {"model": model, "sets": str(sets), "look": look, "n_images": len(images), "n_truth": len(truth),
            "edges": edges, "by_kind": counts, "false": false, "card_rule_false": card_rule_false(pred, truth, edges),
            "card_false": card.calibration["false_bins"]["false"],
            "card_n_images": card.calibration["false_bins"]["n_images"]}


def _survey_tables(survey: Path, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    base = survey / "base"
    det = pd.concat([pd.read_parquet(p) for p in sorted(glob.glob(str(base / "detections" / "*.parquet")))],
                    ignore_index=True)
    det = det[det["conf"].fillna(1.0) >= threshold - 1e-9].reset_index(drop=True)
    det["image_id"] = det["image_id"].astype(str)
    truth = pd.read_parquet(base / "truth_boxes.parquet")
    truth["image_id"] = truth["image_id"].astype(str)
    images = pd.read_parquet(base / "images.parquet")
    images["image_id"] = images["image_id"].astype(str)
    return det, truth, images


def _camera_labels(det: pd.DataFrame, images: pd.DataFrame, survey: Path) -> np.ndarray:
    """The camera each detection becomes, as ``cameras_from_detections`` makes it (``locate.located_rays``)."""
    from geo.counting import locate

    info = json.loads((survey / "base" / "sample.json").read_text())
    rays = locate.located_rays(det.assign(det_row=np.arange(len(det))), images,
                               buildings=locate.buildings_for_survey(info), crs=info.get("crs") or None)
    labels = rays["camera"].to_numpy()
    out = np.full(len(det), -1, dtype=np.int64)
    out[rays["det_row"].to_numpy()] = labels
    return out


def survey_figures(survey: Path, *, threshold: float, edges: list[float]) -> dict[str, Any]:
    """One rendered survey: detections by kind, and the located cameras: real (a true camera's
    first), extra (a further camera on a true camera already located), false (no true camera)."""
    det, truth, images = _survey_tables(survey, threshold)
    kinds = kinds_from_boxes(det, truth)
    det = det.assign(kind=kinds["kind"].to_numpy(),
                     camera_id=np.where(kinds["truth_row"] >= 0,
                                        truth["camera_id"].to_numpy()[kinds["truth_row"].clip(0)], None),
                     label=_camera_labels(det, images, survey))
    det = det[det["label"] >= 0]
    cams = det.groupby("label").agg(conf_max=("conf", "max"), n=("conf", "size"),
                                    truth=("camera_id", lambda s: s.dropna().mode().iat[0] if s.notna().any() else None),
                                    has_dup=("kind", lambda s: (s == "duplicate").any()))
    real = cams["truth"].notna()
    first = real & ~cams.duplicated("truth")
    cam_kind = np.where(~real, "false", np.where(first, "real", "extra"))
    b = bin_index(cams["conf_max"].to_numpy(float), edges)
    k = len(edges) - 1
    dup = det[det["kind"] == "duplicate"]
    dup_alone = dup.groupby("label").size().index.isin(cams.index[cam_kind != "real"]).sum()
    ok_images = int((images["status"].fillna("ok") == "ok").sum()) if "status" in images else len(images)
    return {"name": survey.name, "n_images": ok_images, "n_detections": len(det),
            "by_kind": counts_by_bin(det["conf"].to_numpy(float), det["kind"].to_numpy(), edges),
            "cameras": int(len(cams)),
            "camera_kinds": {name: np.bincount(b[cam_kind == name], minlength=k).astype(int).tolist()
                             for name in ("real", "extra", "false")},
            "duplicates_in_cameras_not_real": int(dup_alone), "duplicates": int(len(dup)),
            "single_false_or_extra": int(((cam_kind != "real") & (cams["n"].to_numpy() == 1)).sum())}


def rendered_figures(root: str | Path, *, group: str = "training look", model: str = MODEL) -> dict[str, Any]:
    """``survey_figures`` of every cached survey of ``group`` (rendered.json), and their sums."""
    from detector.registry import resolve_model

    root = Path(root)
    cal = resolve_model(model).card.calibration
    edges = [float(e) for e in cal["false_bins"]["edges"]]
    rows = json.loads((root / "rendered.json").read_text())["rows"]
    names = [r["name"] for r in rows if r["group"] == group]
    surveys = [survey_figures(root / name, threshold=float(cal["conf_threshold"]), edges=edges) for name in names]
    total = {"n_images": sum(s["n_images"] for s in surveys), "cameras": sum(s["cameras"] for s in surveys),
             "duplicates": sum(s["duplicates"] for s in surveys),
             "duplicates_in_cameras_not_real": sum(s["duplicates_in_cameras_not_real"] for s in surveys)}
    for key in ("by_kind", "camera_kinds"):
        total[key] = {name: np.sum([s[key][name] for s in surveys], axis=0).astype(int).tolist()
                      for name in surveys[0][key]}
    return {"group": group, "edges": edges, "surveys": surveys, "total": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    held = sub.add_parser("heldout", help="false_bins on the fixed held-out set")
    held.add_argument("--sets", required=True, help="folder of the fixed held-out sets")
    held.add_argument("--pred", required=True, help="folder of cached predictions (detector_heldout --cache)")
    held.add_argument("--model", default=MODEL, help="models/ name")
    held.add_argument("--json", default=None, help="write the figures here")
    rend = sub.add_parser("rendered", help="duplicates and false cameras in the cached rendered surveys")
    rend.add_argument("--root", required=True, help="the rendered cache (read only)")
    rend.add_argument("--group", default="training look", help="rendered.json group. Default: training look")
    rend.add_argument("--model", default=MODEL, help="models/ name")
    rend.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)
    if args.command == "heldout":
        out = heldout_figures(args.sets, args.pred, model=args.model)
        print(json.dumps({k: v for k, v in out.items()}, indent=1))
    else:
        out = rendered_figures(args.root, group=args.group, model=args.model)
        for s in out["surveys"]:
            print(s["name"], s["n_images"], {k: sum(v) for k, v in s["by_kind"].items()},
                  {k: sum(v) for k, v in s["camera_kinds"].items()}, "dups", s["duplicates"])
        print(json.dumps(out["total"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
