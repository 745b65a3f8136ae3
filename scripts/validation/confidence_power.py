"""Can a survey's detection confidences tell that the card does not carry (issue 26)? Tried, no power.

The detector's confidence on a true camera drops on imagery it never saw (on the fixed held-out
sets the renderer's held-out look's true positives sit at a median 0.68 against the training
look's 0.78, and large boxes keep middling scores there). This measures a test built on that,
size-conditioned and aware of false detections, on the rendered surveys:

- reference: the shipped model's true-positive confidences by box size on the training look's
  fixed held-out set (what a card would store: a confidence x size histogram of true positives)
  and the card's false detections per image with their confidence bins (stored already);
- statistic: the sum over the survey's detections (at the card's threshold) of their mid-rank
  position in the reference's confidence distribution of their size bin (0.5 on average for a true
  camera on imagery like the card's);
- null: each detection a true camera with probability 1 - pi, else a false one (confidence from
  the card's false bins), pi = the card's false detections per image x images / detections; the
  sum's exact distribution by convolution; one-sided (lower confidences than the card's).

    python scripts/validation/confidence_power.py --heldout $CACHE/detector/heldout \\
        --pred $CACHE/detector/pred SURVEY_DIR ... [--markdown out.md]

A SURVEY_DIR holds ``detections/`` (boxes and confidences, ``detect``), ``images.parquet`` and
optionally ``truth_boxes.parquet`` (to count true and false detections); a rendered cache entry's
``base/`` is used when present. The conclusion and the table are in docs/unseen-imagery.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODEL = "cctv-yolo11n-synth2"
THRESHOLD = 0.5622  # the card's operating threshold
CONF_EDGES = np.array([THRESHOLD, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0 + 1e-9])
SIZE_EDGES = np.array([0.0, 12.0, 16.0, 24.0, 1e9])  # sqrt(w h) px
CARD_FALSE = ([THRESHOLD, 0.6, 0.7, 0.8, 0.9, 1.0], [6, 7, 3, 1, 0], 1792)  # the card's false_bins, n_images


def matched(pred: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """``pred`` with ``size`` (px), ``tp`` and ``ign`` (IoU 0.5, truths under 6 px ignored)."""
    from detector.matching import IOU_THRESHOLDS, match_boxes

    pred = pred.reset_index(drop=True).copy()
    tsz = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy(float)
    tp, ign, _ = match_boxes(pred, truth.reset_index(drop=True), class_aware=False, thresholds=IOU_THRESHOLDS[:1],
                             ignore=tsz < 6)
    pred["tp"], pred["ign"] = tp[:, 0], ign[:, 0]
    pred["size"] = np.sqrt((pred.x2 - pred.x1).clip(0) * (pred.y2 - pred.y1).clip(0))
    return pred


def heldout_detections(heldout: Path, pred: Path, look: str) -> pd.DataFrame:
    """The shipped model's cached predictions on a fixed held-out set, matched to its truth."""
    from detector.evaluate import truth_from_split
    from detector.yolo_dataset import read_data_yaml

    spec = read_data_yaml(heldout / look / "data.yaml")
    truth = truth_from_split(spec.splits["val"], spec.names)
    return matched(pd.read_parquet(pred / f"{MODEL}-{look}-640.parquet"), truth)


def reference(tp: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(conf bin | size bin) of true positives, their mid-rank positions, the false detections' conf bins)."""
    h = np.zeros((len(SIZE_EDGES) - 1, len(CONF_EDGES) - 1))
    np.add.at(h, (_bin(tp["size"], SIZE_EDGES), _bin(tp["conf"], CONF_EDGES)), 1.0)
    p = (h + 0.5) / (h + 0.5).sum(axis=1, keepdims=True)
    u = np.cumsum(p, axis=1) - 0.5 * p
    edges, false, _ = CARD_FALSE
    fp = np.zeros(len(CONF_EDGES) - 1)
    for k in range(len(false)):  # each card bin spread evenly over the finer bins inside it
        inside = [j for j in range(len(CONF_EDGES) - 1)
                  if CONF_EDGES[j] >= edges[k] - 1e-9 and CONF_EDGES[j + 1] <= edges[k + 1] + 1e-6]
        fp[inside] += false[k] / len(inside)
    return p, u, fp / fp.sum()


def p_lower(size: np.ndarray, conf: np.ndarray, n_images: int, ref, *, false_per_image: float | None = None,
            grid: int = 400) -> tuple[float, float]:
    """(mean mid-rank position, one-sided p-value of positions this low or lower) under the mixture null."""
    p, u, fp = ref
    if false_per_image is None:
        false_per_image = sum(CARD_FALSE[1]) / CARD_FALSE[2]
    if len(conf) == 0:
        return float("nan"), float("nan")
    s, j = _bin(size, SIZE_EDGES), _bin(conf, CONF_EDGES)
    pi = min(1.0, false_per_image * n_images / len(conf))
    dist = np.ones(1)
    for si in s:
        atoms = np.zeros(grid + 1)
        np.add.at(atoms, np.rint(u[si] * grid).astype(int), (1 - pi) * p[si] + pi * fp)
        dist = np.convolve(dist, atoms)
    stat = float(u[s, j].sum())
    return stat / len(conf), float(dist[: int(np.rint(stat * grid)) + 1].sum())


def survey_row(directory: Path, ref) -> dict:
    base = directory / "base" if (directory / "base" / "detections").exists() else directory
    det = pd.read_parquet(base / "detections")
    det = det[det["conf"] >= THRESHOLD]
    n_images = len(pd.read_parquet(base / "images.parquet", columns=["image_id"]))
    row = {"survey": directory.name, "images": n_images, "detections": len(det)}
    if (base / "truth_boxes.parquet").exists() and len(det):
        m = matched(det, pd.read_parquet(base / "truth_boxes.parquet"))
        row.update(true=int(m["tp"].sum()), false=int((~m["tp"] & ~m["ign"]).sum()))
        size = m["size"].to_numpy(float)
    else:
        size = np.sqrt((det.x2 - det.x1).clip(0) * (det.y2 - det.y1).clip(0)).to_numpy(float)
    conf = det["conf"].to_numpy(float)
    row["mean_position"], row["p"] = p_lower(size, conf, n_images, ref)
    row["p_without_false"] = p_lower(size, conf, n_images, ref, false_per_image=0.0)[1]
    return row


def _bin(values, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, np.asarray(values, float), side="right") - 1, 0, len(edges) - 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("surveys", nargs="*", type=Path, help="survey directories (or rendered cache entries)")
    parser.add_argument("--heldout", type=Path, required=True,
                        help="the fixed held-out sets (scripts.synthesis.heldout)")
    parser.add_argument("--pred", type=Path, required=True, help="cached predictions (detector_heldout --cache)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args(argv)
    looks = {look: heldout_detections(args.heldout, args.pred, look) for look in ("default", "alt", "corrupt")}
    kept = {k: v[v["conf"] >= THRESHOLD] for k, v in looks.items()}
    ref = reference(kept["default"][kept["default"]["tp"]])
    lines = ["| held-out set | true positives | median conf | conf < 0.7 | conf >= 0.8 | "
             "mean position, true positives |", "|---|---|---|---|---|---|"]
    for look, d in kept.items():
        t = d[d["tp"]]
        pos = p_lower(t["size"].to_numpy(float), t["conf"].to_numpy(float), 1, ref, false_per_image=0.0)[0]
        lines.append(f"| {look} | {len(t)} | {t['conf'].median():.2f} | {(t['conf'] < 0.7).mean():.2f} | "
                     f"{(t['conf'] >= 0.8).mean():.2f} | {pos:.2f} |")
    rows = pd.DataFrame([survey_row(s, ref) for s in args.surveys])
    if len(rows):
        lines += ["", "| survey | images | detections | true | false | mean position | p (card's false rate) | "
                  "p (no false detections) |", "|---|---|---|---|---|---|---|---|"]
        for r in rows.itertuples():
            lines.append(f"| {r.survey} | {r.images} | {r.detections} | {getattr(r, 'true', '-')} | "
                         f"{getattr(r, 'false', '-')} | {r.mean_position:.2f} | {r.p:.3g} | {r.p_without_false:.3g} |")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
