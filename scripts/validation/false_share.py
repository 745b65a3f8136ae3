"""Which located cameras are false, against what P(real) expects (issue 27, docs/estimator.md 15).

Research only (read only on its inputs):

- ``surveys ROOT [--est est-card] --csv OUT``: one row per located camera of every rendered survey
  under ROOT (a mirror such as ``rmirror4.sh`` writes: ``NAME/base`` with the truth, ``NAME/EST``
  with the estimate's ``cameras.parquet``): survey, method, n_detections, conf_max, the box size
  (px, sqrt(w h)) of its most confident detection, and whether that detection is false (on no
  camera or a duplicate, ``false_detections.kinds_from_boxes``); plus per survey the false
  cameras the card's rate expects (rate per image x the survey's ok images).
- ``cardset --data YAML --predictions PARQUET``: the card set's detections at the card's
  threshold by box-size bin, false or not (what a false detection's size looks like).
- ``rates ROOT [--card-false N --card-images N --conf C] [--set NAME=FALSE/IMAGES ...] --csv OUT``: the
  false-rate transfer (issue 27, docs/estimator.md 16): per survey of ROOT (``NAME/base``), its
  detections at the threshold on no true box and its ok images; the fit of log(survey rate / card
  rate) = delta + u_s, u_s ~ N(0, tau^2) (Poisson-lognormal, marginal likelihood), and the false
  rate's transfer SD about the card, sqrt(max(delta^2 - se_card^2, 0) + tau^2) (se_card: the
  card's own log-rate SE, which the estimate's false-detection term already carries).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SIZE_EDGES_PX = (0.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 1e5)  # the card's recall bins


def _detection_kinds(base: Path, *, conf: float) -> tuple[pd.DataFrame, np.ndarray]:
    """A survey's detections at ``conf`` or more and each one's kind against the simulator's true
    boxes (``false_detections.kinds_from_boxes``)."""
    from scripts.validation.false_detections import kinds_from_boxes

    det = pd.read_parquet(base / "detections")
    det = det[det.conf >= conf].reset_index(drop=True)
    det["image_id"] = det.image_id.astype(str)
    truth = pd.read_parquet(base / "truth_boxes.parquet")
    truth["image_id"] = truth.image_id.astype(str)
    return det, kinds_from_boxes(det, truth)["kind"].to_numpy()

def _size(df: pd.DataFrame) -> np.ndarray:
    return np.sqrt((df.x2 - df.x1).to_numpy(float) * (df.y2 - df.y1).to_numpy(float))


def located_kinds(survey_dir: Path, *, est: str = "est-card", conf: float = 0.5) -> pd.DataFrame:
    """One row per located camera of one survey (see the module's docstring)."""
    from scripts.validation.false_detections import FALSE_KINDS

    base = survey_dir / "base"
    cams = pd.read_parquet(survey_dir / est / "cameras.parquet")
    det, kind = _detection_kinds(base, conf=conf)
    det = det.assign(false=np.isin(kind, FALSE_KINDS), size_px=_size(det))
    rows = cams[["camera_id", "n_detections", "conf_max", "class_name"]].copy()
    top = cams[["camera_id", "image_ids", "conf_max"]].explode("image_ids").rename(columns={"image_ids": "image_id"})
    top["image_id"] = top.image_id.astype(str)
    hit = top.merge(det[["image_id", "conf", "false", "size_px"]], on="image_id")
    hit = hit[(hit.conf - hit.conf_max).abs() < 1e-6].drop_duplicates("camera_id")
    rows = rows.merge(hit[["camera_id", "false", "size_px"]], on="camera_id", how="left")
    meta = json.loads((survey_dir / "survey.json").read_text()) if (survey_dir / "survey.json").is_file() else {}
    return rows.assign(survey=survey_dir.name, method=meta.get("method"), style=meta.get("style"),
                       corruption=meta.get("corruption") or "")


def expected_false(survey_dir: Path, *, est: str = "est-card") -> float:
    """False detections the card's rate expects on the survey: rate per image x its ok images."""
    report = json.loads((survey_dir / est / "report.json").read_text())
    images = pd.read_parquet(survey_dir / "base" / "images.parquet")
    ok = images["status"].fillna("ok").eq("ok") if "status" in images else np.ones(len(images), bool)
    n_ok = images.loc[ok, "image_id"].nunique()
    return float(report["calibration"]["false_per_image"]) * n_ok


def surveys_table(root: Path, *, est: str = "est-card") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(located cameras of every survey, per survey: expected and realized false cameras)."""
    cams, per = [], []
    for d in sorted(p.parent.parent for p in root.glob(f"*/{est}/cameras.parquet")):
        c = located_kinds(d, est=est)
        cams.append(c)
        per.append({"survey": d.name, "method": c.method.iloc[0] if len(c) else None,
                    "style": c["style"].iloc[0] if len(c) else None,
                    "corruption": c["corruption"].iloc[0] if len(c) else "",
                    "located": len(c), "false": int(c["false"].fillna(False).sum()),
                    "expected": expected_false(d, est=est)})
    return pd.concat(cams, ignore_index=True), pd.DataFrame(per)


def survey_false_boxes(survey_dir: Path, *, conf: float = 0.5) -> dict:
    """One survey's detections at ``conf`` on no true box (``background``, the card's false_bins
    rule) and its ok images, with its method, style and corruption (``survey.json``)."""
    base = survey_dir / "base"
    det, kind = _detection_kinds(base, conf=conf)
    images = pd.read_parquet(base / "images.parquet")
    ok = images["status"].fillna("ok").eq("ok") if "status" in images else np.ones(len(images), bool)
    meta = json.loads((survey_dir / "survey.json").read_text()) if (survey_dir / "survey.json").is_file() else {}
    return {"survey": survey_dir.name, "method": meta.get("method"), "style": meta.get("style"),
            "corruption": meta.get("corruption") or "", "area": meta.get("area"),
            "false": int((kind == "background").sum()), "images": int(images.loc[ok, "image_id"].nunique())}


def rate_transfer(false: np.ndarray, images: np.ndarray, *, card_false: float, card_images: float,
                  n_nodes: int = 40) -> dict:
    """Poisson-lognormal fit of sets' false counts ``false`` on ``images`` against a card's rate
    card_false / card_images: log(rate_s / card) = delta + u_s, u_s ~ N(0, tau^2), by marginal
    likelihood (Gauss-Hermite); delta's SE from the observed information (tau held), tau's 95%
    profile interval, the card's own log-rate SE (1 / sqrt(card_false + 1/2)) and the transfer SD
    about the card sqrt(max(delta^2 - se_card^2, 0) + tau^2)."""
    from scipy.optimize import minimize, minimize_scalar
    from scipy.special import gammaln
    from scipy.stats import chi2

    y, n = np.asarray(false, float), np.asarray(images, float)
    ref = (card_false + 0.5) / card_images
    x, wq = np.polynomial.hermite.hermgauss(n_nodes)
    wq = wq / np.sqrt(np.pi)

    def nll(delta: float, tau: float) -> float:
        mu = n[:, None] * ref * np.exp(delta + np.sqrt(2.0) * tau * x[None, :])
        ll = y[:, None] * np.log(mu) - mu - gammaln(y + 1)[:, None]
        top = ll.max(1, keepdims=True)
        return -float(np.sum(top[:, 0] + np.log(np.exp(ll - top) @ wq)))

    best = minimize(lambda th: nll(th[0], float(np.exp(th[1]))), np.array([0.0, np.log(0.3)]), method="Nelder-Mead",
                    options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000})
    delta, tau = float(best.x[0]), float(np.exp(best.x[1]))
    h = 1e-3
    curv = (nll(delta + h, tau) - 2 * nll(delta, tau) + nll(delta - h, tau)) / h ** 2
    se_delta = float(1.0 / np.sqrt(curv)) if curv > 0 else float("nan")

    def profile(t: float) -> float:
        return minimize_scalar(lambda d: nll(d, t), bounds=(delta - 3, delta + 3), method="bounded").fun

    fmin = min(best.fun, profile(0.0))
    grid = np.linspace(0.0, max(3 * tau, 1.0), 41)
    inside = grid[np.array([profile(t) for t in grid]) <= fmin + chi2.ppf(0.95, 1) / 2]
    if profile(0.0) <= best.fun:  # the boundary: no spread beyond Poisson
        tau = 0.0
        delta = float(minimize_scalar(lambda d: nll(d, 0.0), bounds=(-5, 5), method="bounded").x)
    se_card = float(1.0 / np.sqrt(card_false + 0.5))
    return {"sets": int(len(y)), "false": int(y.sum()), "images": int(n.sum()), "card_rate": ref,
            "pooled_rate": float(y.sum() / n.sum()), "delta": delta, "delta_se": se_delta, "tau": tau,
            "tau_lo": float(inside.min()) if len(inside) else None,
            "tau_hi": float(inside.max()) if len(inside) else None, "se_card": se_card,
            "transfer_sd": float(np.sqrt(max(delta ** 2 - se_card ** 2, 0.0) + tau ** 2))}


def cardset_sizes(data: str, predictions: str, *, conf: float = 0.5) -> pd.DataFrame:
    """The card set's detections at ``conf`` by size bin: detections, false ones (on no camera)."""
    from detector.evaluate import truth_from_split
    from detector.matching import overlaps_no_truth
    from detector.yolo_dataset import read_data_yaml

    spec = read_data_yaml(data)
    truth = truth_from_split(spec.splits["val"], spec.names)
    pred = pd.read_parquet(predictions)
    pred = pred[pred.conf >= conf].reset_index(drop=True)
    false = overlaps_no_truth(pred, truth.reset_index(drop=True))
    b = np.digitize(_size(pred), SIZE_EDGES_PX[1:-1])
    out = pd.DataFrame({"bin": b, "false": false, "size_px": _size(pred), "conf": pred.conf})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("surveys", help="located cameras of rendered surveys, false or not")
    s.add_argument("root", type=Path)
    s.add_argument("--est", default="est-card")
    s.add_argument("--csv", type=Path, required=True, help="per located camera (a second file *-per.csv per survey)")
    c = sub.add_parser("cardset", help="the card set's detections by box size, false or not")
    c.add_argument("--data", required=True)
    c.add_argument("--predictions", required=True)
    c.add_argument("--csv", type=Path, required=True)
    r = sub.add_parser("rates", help="false boxes per survey, and the false rate's transfer from the card")
    r.add_argument("root", type=Path)
    r.add_argument("--card-false", type=float, default=None,
                   help="the card's false boxes (default: the shipped card's false_bins, summed)")
    r.add_argument("--card-images", type=float, default=None, help="the card's images (default: the shipped card's)")
    r.add_argument("--conf", type=float, default=None,
                   help="threshold 0-1 for the surveys' false boxes (default: the shipped card's)")
    r.add_argument("--set", action="append", default=[], metavar="NAME=FALSE/IMAGES",
                   help="a further set's counts (e.g. the second card-set layout, 20/3000)")
    r.add_argument("--groups", default="training", help="comma list of training, held-out, corrupted")
    r.add_argument("--csv", type=Path, required=True, help="per survey: false boxes, ok images")
    a = ap.parse_args(argv)
    if a.cmd == "rates":
        return _rates(a)
    if a.cmd == "surveys":
        cams, per = surveys_table(a.root, est=a.est)
        cams.to_csv(a.csv, index=False)
        per.to_csv(a.csv.with_name(a.csv.stem + "-per.csv"), index=False)
        print(per.to_string())
    else:
        t = cardset_sizes(a.data, a.predictions)
        t.to_csv(a.csv, index=False)
        print(t.groupby("bin")["false"].agg(["size", "sum"]).to_string())
    return 0


def _shipped_false_counts() -> tuple[float, float, float]:
    """(false boxes, images, threshold) of the shipped card's ``false_bins``."""
    from detector.registry import resolve_model

    cal = resolve_model(None).card.calibration
    return float(sum(cal["false_bins"]["false"])), float(cal["false_bins"]["n_images"]), float(cal["conf_threshold"])


def _rates(a: argparse.Namespace) -> int:
    card_false, card_images, conf = _shipped_false_counts()
    a.card_false = card_false if a.card_false is None else a.card_false
    a.card_images = card_images if a.card_images is None else a.card_images
    conf = conf if a.conf is None else a.conf
    print(f"card: {a.card_false:g} false boxes in {a.card_images:g} images; surveys at {conf:g}")
    rows = [survey_false_boxes(p.parent.parent, conf=conf) for p in sorted(a.root.glob("*/base/detections"))]
    per = pd.DataFrame(rows)
    group = np.where(per["style"].eq("alt"), "held-out", np.where(per["corruption"].ne(""), "corrupted", "training"))
    per = per.assign(group=group)
    per.to_csv(a.csv, index=False)
    print(per.to_string())
    use = per[per["group"].isin(a.groups.split(","))]
    fits = {"surveys": rate_transfer(use["false"], use["images"], card_false=a.card_false, card_images=a.card_images)}
    for key, g in use.groupby("method"):
        fits[f"surveys {key}"] = rate_transfer(g["false"], g["images"], card_false=a.card_false,
                                               card_images=a.card_images)
    if a.set:
        extra = [(s.split("=")[0], *map(float, s.split("=")[1].split("/"))) for s in a.set]
        fits["sets"] = rate_transfer(np.array([e[1] for e in extra]), np.array([e[2] for e in extra]),
                                     card_false=a.card_false, card_images=a.card_images)
    for name, fit in fits.items():
        print(name, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in fit.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
