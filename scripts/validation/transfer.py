"""The card's transfer to a new survey: how far a set's recall level strays from the card's (issue 27).

A card measures recall by box size on one card set. A survey realizes its own recall level, which
differs from the card set's by more than either's sampling error (docs/estimator.md 13.4: 6-8 px
0.31 on the rendered surveys against 0.44 on the card set). This script measures that level's
spread between sets as a logit shift u_s common to all size bins of set s,

    logit P(found | box of bin b in set s) = c_b + u_s,

from per-box tables (``scripts.validation.card_set boxes`` / ``surveys``) and per-bin counts (an
evaluation's ``calibration.recall_bins``), counted by camera: each set's bin counts are divided by the
design effect of the per-camera effect (``geo.counting.calibration.recall_design_effect``; boxes per
camera from the survey tables' camera ids, the card's assumption of 2 for card sets).

Three estimates (all logit units):

- ``shift``: per set, the ML shift d_s of the card's point rates (``Calibration.recall_bins``) that
  fits the set's counts, with its SE (observed information);
- ``moments``: over the surveys, the random-effects method of moments (DerSimonian and Laird 1986)
  for the between-survey SD tau about their mean, and the root mean square of d_s about the card
  (0) less the mean sampling variance, sqrt(mean(d^2 - se^2)); also box by box with SEs robust to
  cameras (``cluster_shift``, a sandwich over each survey's cameras);
- ``glmm``: the marginal likelihood of the model above with u_s ~ N(mu_kind, tau^2) (Gauss-Hermite;
  fixed c_b, a mean per kind of set, scipy's optimizer), with tau's profile-likelihood 95% interval.

``python -m scripts.validation.transfer --cardset $CACHE/card6/cardset-boxes.csv --cardset-json
$CACHE/card6/cardset2-eval.json --surveys $CACHE/card6/survey-boxes.csv``. Research only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from geo.counting.calibration import DEFAULT_SIZE_EDGES_PX, RECALL_BOXES_PER_CAMERA, recall_design_effect
from geo.counting.heterogeneity import CAMERA_LOGIT_SD, expit


def set_counts(frames: dict[str, pd.DataFrame], bins: dict[str, dict], *, edges=DEFAULT_SIZE_EDGES_PX,
               kinds: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (set, size bin): boxes ``n``, found ``k``, boxes per camera ``m`` (from a
    ``camera_id`` column, else ``RECALL_BOXES_PER_CAMERA``), and ``kind`` of the set.
    ``frames``: per set, boxes with ``size_px`` and ``found``; ``bins``: per set, recall_bins dicts
    (``n``, ``found`` on ``edges``)."""
    edges = np.asarray(edges, float)
    rows = []
    for name, boxes in frames.items():
        b = np.clip(np.searchsorted(edges, boxes["size_px"].to_numpy(float), side="right") - 1, 0, len(edges) - 2)
        found = boxes["found"].astype(bool).to_numpy()
        for j in range(len(edges) - 1):
            sel = b == j
            m = (float(sel.sum()) / max(boxes.loc[sel, "camera_id"].nunique(), 1)
                 if "camera_id" in boxes and sel.any() else RECALL_BOXES_PER_CAMERA)
            rows.append((name, j, float(sel.sum()), float(found[sel].sum()), max(m, 1.0)))
    for name, rb in bins.items():
        for j, (n, k) in enumerate(zip(rb["n"], rb["found"])):
            rows.append((name, j, float(n), float(k), RECALL_BOXES_PER_CAMERA))
    out = pd.DataFrame(rows, columns=["set", "bin", "n", "k", "m"])
    out["kind"] = out["set"].map(kinds or {}).fillna("survey")
    return out[out["n"] > 0].reset_index(drop=True)


def effective_counts(counts: pd.DataFrame, *, sd: float = CAMERA_LOGIT_SD) -> pd.DataFrame:
    """``counts`` with ``n_eff`` and ``k_eff``: divided by each row's design effect 1 + (m - 1) rho
    at the row's own rate (``recall_design_effect``, per-camera logit SD ``sd``)."""
    out = counts.copy()
    a, b = out["k"].to_numpy() + 0.5, out["n"].to_numpy() - out["k"].to_numpy() + 0.5
    deff = np.ones(len(out))
    for m in np.unique(out["m"]):
        sel = out["m"].to_numpy() == m
        deff[sel] = recall_design_effect((a[sel], b[sel]), boxes_per_camera=float(m), sd=sd)
    out["deff"] = deff
    out["n_eff"], out["k_eff"] = out["n"] / deff, out["k"] / deff
    return out


def shift_fit(n: np.ndarray, k: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(d, se): the ML logit shift of per-bin reference rates ``ref`` that fits ``k`` of ``n``
    (Newton on the score sum n expit(logit ref + d) - k), its SE from the observed information."""
    base = np.log(ref) - np.log1p(-ref)
    d = 0.0
    for _ in range(50):
        p = expit(base + d)
        info = float(np.sum(n * p * (1 - p)))
        step = float(np.sum(k - n * p)) / max(info, 1e-12)
        d = float(np.clip(d + step, -8, 8))
        if abs(step) < 1e-10:
            break
    p = expit(base + d)
    return d, 1.0 / np.sqrt(max(float(np.sum(n * p * (1 - p))), 1e-12))


def cluster_shift(boxes: pd.DataFrame, ref: np.ndarray, *, edges=DEFAULT_SIZE_EDGES_PX) -> tuple[float, float]:
    """(d, se) of one set from its boxes (``size_px``, ``found``, ``camera_id``) against per-bin
    ``ref``, box by box, the SE robust to cameras (sandwich: the score summed per camera)."""
    edges = np.asarray(edges, float)
    b = np.clip(np.searchsorted(edges, boxes["size_px"].to_numpy(float), side="right") - 1, 0, len(edges) - 2)
    r, k = np.asarray(ref, float)[b], boxes["found"].astype(float).to_numpy()
    d, _ = shift_fit(np.ones(len(k)), k, r)
    p = expit(np.log(r) - np.log1p(-r) + d)
    score = np.bincount(pd.factorize(boxes["camera_id"])[0], k - p)
    return d, float(np.sqrt(np.sum(score ** 2)) / max(float(np.sum(p * (1 - p))), 1e-12))


def set_shifts(eff: pd.DataFrame, ref: np.ndarray) -> pd.DataFrame:
    """Per set: its kind, boxes, ``d`` and ``se`` (``shift_fit`` of the effective counts against
    ``ref``, the card's rate per bin)."""
    rows = []
    for name, g in eff.groupby("set", sort=False):
        d, se = shift_fit(g["n_eff"].to_numpy(), g["k_eff"].to_numpy(), np.asarray(ref)[g["bin"].to_numpy()])
        rows.append({"set": name, "kind": g["kind"].iloc[0], "boxes": int(g["n"].sum()), "d": d, "se": se})
    return pd.DataFrame(rows)


def moments(d: np.ndarray, se: np.ndarray) -> dict:
    """DerSimonian-Laird tau (about the weighted mean) and the transfer SD about 0 (the card),
    sqrt(max(mean(d^2 - se^2), 0)), of shifts ``d`` with SEs ``se``."""
    d, v = np.asarray(d, float), np.asarray(se, float) ** 2
    w = 1.0 / v
    mean = float(np.sum(w * d) / w.sum())
    q = float(np.sum(w * (d - mean) ** 2))
    tau2 = max(0.0, (q - (len(d) - 1)) / (w.sum() - np.sum(w ** 2) / w.sum()))
    return {"n": int(len(d)), "mean": mean, "Q": q, "tau": float(np.sqrt(tau2)),
            "rms_about_card": float(np.sqrt(max(float(np.mean(d ** 2 - v)), 0.0))),
            "mean_unweighted": float(np.mean(d)), "sd_unweighted": float(np.std(d, ddof=1))}


def glmm(eff: pd.DataFrame, *, n_nodes: int = 40) -> dict:
    """Marginal ML of logit p = c_b + u_s, u_s ~ N(mu_kind, tau^2) (mu of the first kind 0, so
    c_b is that kind's level), on the effective counts; tau with its profile-likelihood 95% interval."""
    from scipy.optimize import minimize
    from scipy.stats import chi2

    x, wq = np.polynomial.hermite.hermgauss(n_nodes)
    wq = wq / np.sqrt(np.pi)
    bins = np.sort(eff["bin"].unique())
    bi = np.searchsorted(bins, eff["bin"].to_numpy())
    sets, si = np.unique(eff["set"].to_numpy(), return_inverse=True)
    kinds = list(dict.fromkeys(eff["kind"]))
    kind_of_set = np.array([kinds.index(eff.loc[eff["set"] == s, "kind"].iloc[0]) for s in sets])
    n, k = eff["n_eff"].to_numpy(), eff["k_eff"].to_numpy()

    def nll(theta: np.ndarray, tau: float | None = None) -> float:
        c, mus = theta[:len(bins)], np.r_[0.0, theta[len(bins):len(bins) + len(kinds) - 1]]
        t = float(np.exp(theta[-1])) if tau is None else tau
        u = mus[kind_of_set][si][:, None] + np.sqrt(2.0) * t * x[None, :]
        eta = c[bi][:, None] + u
        ll = k[:, None] * -np.logaddexp(0, -eta) + (n - k)[:, None] * -np.logaddexp(0, eta)
        per_set = np.stack([ll[si == s].sum(0) for s in range(len(sets))])
        top = per_set.max(1, keepdims=True)
        return -float(np.sum(top[:, 0] + np.log(np.exp(per_set - top) @ wq)))

    pooled = (eff.groupby("bin")["k_eff"].sum() + 0.5) / (eff.groupby("bin")["n_eff"].sum() + 1.0)
    theta0 = np.r_[np.log(pooled / (1 - pooled)).to_numpy(), np.zeros(len(kinds) - 1), np.log(0.3)]
    best = minimize(nll, theta0, method="Nelder-Mead" if len(theta0) < 3 else "L-BFGS-B")
    tau_hat = float(np.exp(best.x[-1]))

    def profile(tau: float) -> float:
        return minimize(lambda th: nll(np.r_[th, 0.0], tau=tau), best.x[:-1], method="L-BFGS-B").fun

    cut = best.fun + chi2.ppf(0.95, 1) / 2
    grid = np.linspace(0.0, max(3 * tau_hat, 1.0), 61)
    prof = np.array([profile(t) for t in grid])
    inside = grid[prof <= cut]
    return {"tau": tau_hat, "tau_lo": float(inside.min()) if len(inside) else None,
            "tau_hi": float(inside.max()) if len(inside) else None,
            "mu": dict(zip(kinds[1:], best.x[len(bins):len(bins) + len(kinds) - 1].round(3).tolist())),
            "c": dict(zip(bins.tolist(), best.x[:len(bins)].round(3).tolist())), "nll": float(best.fun),
            "sets": int(len(sets))}


def card_rates(card: str | None) -> np.ndarray:
    """The card's point recall per size bin (``Calibration.recall_bins``), shipped card by default."""
    from detector.registry import resolve_model
    from geo.counting.calibration import calibration_from_dict

    return calibration_from_dict(dict(resolve_model(card).card.calibration)).recall_bins()


def measure(cardset: Path, cardset_json: list[Path], surveys: Path, *, card: str | None = None,
            groups: tuple[str, ...] = ("training",)) -> dict:
    """Everything this script prints: per-set shifts, moments over the surveys of ``groups``
    (training, held-out, corrupted), and the GLMM over the card sets and those surveys."""
    frames = {"cardset": pd.read_csv(cardset)}
    bins = {f"cardset{i + 2}": json.loads(Path(p).read_text())["calibration"]["recall_bins"]
            for i, p in enumerate(cardset_json)}
    sv = pd.read_csv(surveys)
    group = np.where(sv["style"] != "default", "held-out", np.where(sv["corruption"].notna(), "corrupted", "training"))
    sv = sv[np.isin(group, groups)]
    frames.update({name: g for name, g in sv.groupby("survey", sort=False)})
    kinds = {"cardset": "cardset", **{name: "cardset" for name in bins}}
    eff = effective_counts(set_counts(frames, bins, kinds=kinds))
    eff["kind"] = eff["kind"].where(eff["kind"] == "cardset", "survey")
    ref = card_rates(card)
    shifts = set_shifts(eff, ref)
    clustered = pd.DataFrame([(name, *cluster_shift(g, ref)) for name, g in sv.groupby("survey", sort=False)],
                             columns=["set", "d_box", "se_cluster"])
    shifts = shifts.merge(clustered, on="set", how="left")
    surv = shifts[shifts["kind"] == "survey"]
    return {"shifts": shifts, "moments": moments(surv["d"].to_numpy(), surv["se"].to_numpy()),
            "moments_cluster": moments(surv["d_box"].to_numpy(), surv["se_cluster"].to_numpy()),
            "glmm_surveys": glmm(eff[eff["kind"] == "survey"]), "glmm_all": glmm(eff),
            "card_rates": ref.round(4).tolist()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cardset", required=True, help="card_set boxes CSV of the card's own set")
    parser.add_argument("--cardset-json", action="append", default=[],
                        help="another card-set layout's evaluation JSON (its calibration.recall_bins); repeatable")
    parser.add_argument("--surveys", required=True, help="card_set surveys CSV of the rendered surveys (read only)")
    parser.add_argument("--card", default=None, help="models/ name whose recall is the reference. Default shipped.")
    parser.add_argument("--groups", default="training", help="comma list of training, held-out, corrupted")
    args = parser.parse_args(argv)
    out = measure(Path(args.cardset), [Path(p) for p in args.cardset_json], Path(args.surveys), card=args.card,
                  groups=tuple(args.groups.split(",")))
    print(out["shifts"].round(3).to_string(index=False))
    print("card rates", out["card_rates"])
    print("moments (surveys)", json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                           for k, v in out["moments"].items()}))
    print("moments (surveys, box by box, camera-cluster SEs)", json.dumps(
        {k: round(v, 3) if isinstance(v, float) else v for k, v in out["moments_cluster"].items()}))
    print("glmm (surveys)", json.dumps(out["glmm_surveys"]))
    print("glmm (card sets and surveys)", json.dumps(out["glmm_all"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
