"""The estimator's inclusion probabilities against the simulator's truth, survey by survey (issue 27).

For an estimate directory of a rendered survey (``validate_rendered.py estimate`` leaves one per
calibration: ``ROOT/NAME/est-card``), this re-runs the estimate as ``camcensus estimate`` does
(the card's calibration, no exports) with a hook on ``density_from_tables`` and then scores, with
the truth only:

- the true cameras in the strip: seen (at least one true box), found (a detection at the card's
  threshold on one of their true boxes: ``validate_rendered.hits_from_survey``);
- the design's p* at their TRUE positions (the estimator's own inclusion code, no location error):
  with the card's recall (their sum is the found cameras the model expects), with recall 1 (the
  seen cameras the geometry and visibility expect), and with views detecting independently;
- each located camera inside the strip: its pi as used, p* at its located position, and p* at the
  true camera it stands for (the nearest within ``REAL_M``); the summary splits the estimate as
  docs/estimator.md 12.1 does: Horvitz-Thompson of the found cameras at their true p*, of the
  located real ones at their pi as used, the real weight P(real) takes off and the false weight it
  leaves.

    python scripts/validation/inclusion_truth.py EST_DIR [EST_DIR ...] [--csv cameras.csv]

The truth is used only to score; nothing is written into the survey.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REAL_M = 4.0  # a located camera this close to a true one is that camera (candidate_truth's rule)


def captured_estimate(est_dir: Path, *, buildings="auto") -> dict:
    """The whole-survey ``density_from_tables`` call of the card's estimate: its keyword arguments,
    its areas and its ``parts_out`` (parts, components, calibration, design, strip, surveyed
    pieces), and the ``total`` figures; ``buildings``: as ``estimate_survey`` takes them."""
    import geo.counting.estimate as est
    from scripts.validation.validate_selfcal import card_of_survey

    calibration, model_info = card_of_survey(est_dir)
    got: dict = {}
    original = est.density_from_tables

    def hook(areas, **kw):
        parts = kw.pop("parts_out", None)
        mine: dict = {}
        out = original(areas, parts_out=mine, **kw)
        if parts is not None:
            parts.update(mine)
        got.update(kw=kw, areas=areas, parts=mine, table=out)
        return out

    est.density_from_tables = hook
    try:
        result = est.estimate_survey(est_dir, by="area", calibration=calibration, model=model_info, exports=False,
                                     osm=False, buildings=buildings)
    finally:
        est.density_from_tables = original
    got["total"] = result.total
    return got


def truth_inclusion(est_dir: Path, got: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(true cameras in the strip, located cameras inside the strip) with the figures of the module docstring."""
    import shapely

    from geo.counting.estimate import inclusion_pairs, strip_side, truth_in_strip, xy_from_lonlat
    from geo.counting.inclusion import box_size_m, shift_range_on_streets, street_distance
    from scripts.validation.validate_rendered import hits_from_survey

    kw, parts_out = got["kw"], got["parts"]
    parts, cal, design = parts_out["parts"], parts_out["calibration"], parts_out["design"]
    curves = cal.curves()
    streets, surveyed, images = kw["streets"], parts_out["surveyed"], kw["images"]
    crs = streets.crs
    buildings = kw.get("buildings")
    build_m = buildings.to_crs(crs) if buildings is not None and len(buildings) else None
    truth = kw["truth"]
    inside = truth_in_strip(truth, surveyed, strip=parts_out["strip_m"], side=strip_side(design))
    t = truth[inside].reset_index(drop=True)
    txy = shapely.get_coordinates(t.to_crs(crs).geometry.centroid.to_numpy())
    klass = t["class_name"].astype(str).to_numpy()
    dist, near, tangent = street_distance(txy, surveyed)
    shift_range = None
    if not design.random:
        sid = surveyed["street_id"].to_numpy()[np.maximum(near, 0)]
        shift_range = shift_range_on_streets(txy, sid, streets, spacing_m=design.spacing_m)
    box = box_size_m(klass)

    def p_star(recall_fn, camera_sd):
        pairs = inclusion_pairs(txy, tangent, design=design, images=images, streets=streets, buildings=build_m,
                                location_sd=None, shift_range=shift_range, camera_sd=camera_sd)
        return pairs.inclusion(box, recall_fn, floor=0.0)[1]

    hits = hits_from_survey(est_dir, min_conf=cal.conf_threshold)
    by_cam = hits.groupby("camera_id").agg(boxes=("hit", "size"), hits=("hit", "sum"), max_px=("size_px", "max"))
    ids = t["camera_id"].astype(str)
    true_rows = pd.DataFrame({
        "camera_id": ids.to_numpy(), "class_name": klass, "street_m": dist,
        "boxes": ids.map(by_cam["boxes"]).fillna(0).to_numpy(int),
        "hits": ids.map(by_cam["hits"]).fillna(0).to_numpy(int),
        "max_px": ids.map(by_cam["max_px"]).fillna(0.0).to_numpy(float),
        "p_card": p_star(curves.recall_at, cal.camera_sd),
        "p_recall1": p_star(lambda size: np.full(np.shape(size), 1.0 - 1e-9), 0.0),
        "p_independent": p_star(curves.recall_at, 0.0),
    })
    true_rows["found"] = true_rows["hits"] > 0
    true_rows["seen"] = true_rows["boxes"] > 0

    cams = kw["cameras"].iloc[parts.inside]
    cxy = xy_from_lonlat(cams["lon"], cams["lat"], crs)
    w, q, pi, raw = parts.weights(curves)
    all_xy = shapely.get_coordinates(truth.to_crs(crs).geometry.centroid.to_numpy())
    d = np.hypot(cxy[:, None, 0] - all_xy[None, :, 0], cxy[:, None, 1] - all_xy[None, :, 1]) if len(all_xy) else \
        np.full((len(cxy), 1), np.inf)
    j = d.argmin(axis=1)
    matched = d[np.arange(len(cxy)), j] <= REAL_M
    true_id = np.where(matched, truth["camera_id"].astype(str).to_numpy()[j], "")
    p_true = pd.Series(true_rows["p_card"].to_numpy(), index=true_rows["camera_id"])
    located = pd.DataFrame({
        "n_detections": cams["n_detections"].to_numpy(int), "conf_max": cams["conf_max"].to_numpy(float),
        "method": cams["method"].astype(str).to_numpy() if "method" in cams else "",
        "uncertainty_m": cams["uncertainty_m"].to_numpy(float) if "uncertainty_m" in cams else np.nan,
        "q": q, "pi": pi, "raw": raw, "weight": w, "true_id": true_id,
        "error_m": np.where(matched, d[np.arange(len(cxy)), j], np.nan),
        "p_at_true": pd.Series(true_id).map(p_true).to_numpy(float),
    })
    return true_rows, located


def summary(name: str, true_rows: pd.DataFrame, located: pd.DataFrame, total: dict) -> dict:
    """One survey's figures (see the module docstring)."""
    real = located["true_id"] != ""
    return {
        "survey": name, "truth": len(true_rows), "seen": int(true_rows["seen"].sum()),
        "found": int(true_rows["found"].sum()),
        "exp_seen": round(float(true_rows["p_recall1"].sum()), 1),
        "exp_found": round(float(true_rows["p_card"].sum()), 1),
        "exp_found_indep": round(float(true_rows["p_independent"].sum()), 1),
        "ht_true": round(float((1.0 / np.maximum(true_rows.loc[true_rows["found"], "p_card"], 0.01)).sum()), 1),
        "located": len(located), "located_real": int(real.sum()),
        "mean_pi_located": round(float(located["pi"].mean()), 3) if len(located) else None,
        "mean_p_true_of_found": round(float(true_rows.loc[true_rows["found"], "p_card"].mean()), 3)
        if true_rows["found"].any() else None,
        "mean_p_true_of_missed": round(float(true_rows.loc[~true_rows["found"], "p_card"].mean()), 3)
        if (~true_rows["found"]).any() else None,
        "ht_located_real": round(float((1.0 / located.loc[real, "pi"]).sum()), 1),
        "real_weight_lost": round(float(((1.0 - located.loc[real, "q"]) / located.loc[real, "pi"]).sum()), 1),
        "false_weight": round(float(located.loc[~real, "weight"].sum()), 1),
        "est": round(float(total["est_cameras"]), 1), "lo": round(float(total["est_lo"]), 1),
        "hi": round(float(total["est_hi"]), 1),
    }


def markdown_table(table: pd.DataFrame) -> str:
    """``table`` as a Markdown table (no tabulate needed)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("est_dirs", nargs="+", type=Path)
    parser.add_argument("--csv", type=Path, help="per true camera in the strip, every survey")
    parser.add_argument("--located-csv", type=Path, help="per located camera in the strip, every survey")
    args = parser.parse_args(argv)
    rows, trues, locs = [], [], []
    for est_dir in args.est_dirs:
        name = est_dir.parent.name if est_dir.name.startswith("est-") else est_dir.name
        got = captured_estimate(est_dir)
        true_rows, located = truth_inclusion(est_dir, got)
        rows.append(summary(name, true_rows, located, got["total"]))
        trues.append(true_rows.assign(survey=name))
        locs.append(located.assign(survey=name))
        print(rows[-1], flush=True)
    print(markdown_table(pd.DataFrame(rows)))
    if args.csv:
        pd.concat(trues, ignore_index=True).to_csv(args.csv, index=False)
    if args.located_csv:
        pd.concat(locs, ignore_index=True).to_csv(args.located_csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
