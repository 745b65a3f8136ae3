"""Why an oracle review can still miss by half (issue 26, part 3): on a rendered survey, split the
gap between the review's estimate and the truth into its steps.

The review measures recall per audited box; the estimator applies it per camera across views
(p* = P(found by any view), ``geo.counting.heterogeneity.found_by_any_view``) and per position
(inclusion: which views would show a camera there, at which box size). For the true cameras in
the estimate's strip this prints:

- N: true cameras in the strip; K: of them with at least one truth box (visible in some view);
  F: of them found (a detection matches one of their boxes, ``hits_from_survey``);
- per-box recall by box size: the truth matcher over every image against the review's curve
  (report.json's ``calibration.recall_by_size``);
- F / K observed against the p* that the per-box recall predicts from each camera's true boxes,
  with independent views (sd 0) and with the per-camera effect (sd 1.7): the per-box -> per-camera step;
- K / N observed (visibility and geometry) and the estimator's implied mean p* (F / estimate)
  against the observed F / N.

    python scripts/validation/review_gap.py SURVEY_DIR [SURVEY_DIR ...]   # after review + estimate
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZE_EDGES_PX = (0.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 1e5)


def cameras_in_strip_ids(survey_dir: Path, report: dict) -> set[str]:
    """Ids of the true cameras inside the estimate's strip (``geo.counting.estimate.truth_in_strip``)."""
    import geopandas as gpd
    import shapely

    from geo.counting.design import design_from_sample_info
    from geo.counting.estimate import strip_side, truth_in_strip
    from geo.counting.inclusion import surveyed_streets
    from geo.counting.locate import read_images, read_sample_info
    from geo.streets.network import load_network, streets_from_graph

    info = read_sample_info(survey_dir)
    images = read_images(survey_dir)
    streets = streets_from_graph(load_network(survey_dir / "network.graphml"))
    points = pd.read_parquet(survey_dir / "points.parquet", columns=["point_id", "street_id", "lon", "lat"])
    design = design_from_sample_info(info, images=images,
                                     network_m=float(shapely.length(streets.geometry.to_numpy()).sum()))
    surveyed = (streets[["street_id", "geometry"]] if design.random
                else surveyed_streets(streets, points, images, metres_per_point=design.spacing_m))
    truth = gpd.read_file(survey_dir / "truth.geojson")
    strip = (report.get("parameters") or {}).get("strip_m_by_class") or (report.get("parameters") or {})["strip_m"]
    inside = truth_in_strip(truth, surveyed, strip=strip, side=strip_side(design))
    key = "camera_id" if "camera_id" in truth.columns else truth.columns[0]
    return set(truth.loc[inside, key].astype(str))


def gap_of_survey(survey_dir: Path) -> dict:
    """The figures of the module docstring for one survey (report.json of its last estimate)."""
    from geo.counting.calibration import recall_at
    from geo.counting.heterogeneity import CAMERA_LOGIT_SD, found_by_any_view
    from scripts.validation.validate_rendered import hits_from_survey

    report = json.loads((survey_dir / "report.json").read_text())
    threshold = (report.get("calibration") or {}).get("conf_threshold")
    hits = hits_from_survey(survey_dir, min_conf=float(threshold) if threshold is not None else None)
    strip_ids = cameras_in_strip_ids(survey_dir, report)
    inside = hits[hits["camera_id"].isin(strip_ids)].reset_index(drop=True)
    cam = pd.factorize(inside["camera_id"])[0]
    n_k = int(cam.max() + 1) if len(cam) else 0
    found = np.bincount(cam, inside["hit"].to_numpy(float), minlength=n_k) > 0
    size = inside["size_px"].to_numpy(float)
    edges = np.asarray(SIZE_EDGES_PX)
    b = np.clip(np.searchsorted(edges, size, side="right") - 1, 0, len(edges) - 2)
    by_bin_n = np.bincount(b, minlength=len(edges) - 1)
    by_bin_hit = np.bincount(b, inside["hit"].to_numpy(float), minlength=len(edges) - 1)
    truth_rate = (by_bin_hit + 0.5) / (by_bin_n + 1.0)
    r_truth = recall_at(size, edges, truth_rate)
    cal = report.get("calibration") or {}
    rb = cal.get("recall_by_size") or {}
    r_review = recall_at(size, np.asarray(rb["edges_px"], float), np.asarray(rb["recall"], float)) if rb else None
    pred = {}
    for name, r in (("matcher curve", r_truth), ("estimate's curve", r_review)):
        if r is None:
            continue
        for sd in (0.0, CAMERA_LOGIT_SD):
            pred[f"{name}, sd {sd:g}"] = float(found_by_any_view(r, cam, n_k, sd=sd).sum())
    if rb:
        pred["inclusion geometry at the true positions, estimate's curve, sd 1.7"] = geometry_found(
            survey_dir, strip_ids, np.asarray(rb["edges_px"], float), np.asarray(rb["recall"], float))
    total = report.get("total") or {}
    n_strip = float(total.get("truth_cameras") or len(strip_ids))
    est = float(total.get("est_cameras") or np.nan)
    views = np.bincount(cam, minlength=n_k)
    return {"survey": survey_dir.parent.name if survey_dir.name.startswith("est-") else survey_dir.name, "source": cal.get("source"), "n_audited": cal.get("n_audited"),
            "est": est, "lo": total.get("est_lo"), "hi": total.get("est_hi"), "N": n_strip, "K": n_k,
            "F": int(found.sum()), "boxes": int(len(inside)),
            "views_per_visible_camera": float(views.mean()) if n_k else 0,
            "single_view_share": float((views == 1).mean()) if n_k else 0,
            "box_recall_by_size": {f"{edges[i]:g}-{edges[i + 1]:g}": [int(by_bin_hit[i]), int(by_bin_n[i])]
                                   for i in range(len(edges) - 1) if by_bin_n[i]},
            "estimate_recall_by_size": dict(zip([f"{a:g}-{c:g}" for a, c in zip(rb.get("edges_px", [])[:-1],
                                                                                 rb.get("edges_px", [])[1:])],
                                                [round(x, 3) for x in rb.get("recall", [])])),
            "predicted_found": pred, "implied_p_star": int(found.sum()) / est if est > 0 else None,
            "true_p_star": int(found.sum()) / n_strip if n_strip > 0 else None, **encounter_figures(total)}


def encounter_figures(total: dict) -> dict:
    """The estimate's CV, the share of its variance from the encounter (which cameras a survey of
    this design happens to find: nothing a calibration can remove), that part's CV, and the chance
    that a log-normal error of that CV alone falls within +-20% (the issue's review target)."""
    from math import erf, log, sqrt

    cv = float(total.get("est_cv") or np.nan)
    share = float((total.get("variance_share") or {}).get("encounter", np.nan))
    enc = sqrt(share) * cv if np.isfinite(cv) and np.isfinite(share) else np.nan
    p20 = erf(log(1.2) / (enc * sqrt(2.0))) if np.isfinite(enc) and enc > 0 else np.nan
    return {"est_cv": cv, "encounter_share": share, "encounter_cv": enc, "p_within_20_encounter_only": p20}


def geometry_found(survey_dir: Path, strip_ids: set[str], edges: np.ndarray, rates: np.ndarray) -> float:
    """Cameras found that the estimator's own geometry predicts for the true cameras in the strip
    at their true positions: their candidate views (``geo.counting.inclusion.view_pairs``, one
    shift, the survey's buildings), the box size and visibility it gives each, the recall curve
    ``rates`` by ``edges`` (px), the per-camera effect. Against the prediction from their true
    boxes this isolates the geometry (which views show a camera, at which size) from the locator
    and the strip."""
    import geopandas as gpd

    from geo.counting.calibration import recall_at
    from geo.counting.heterogeneity import CAMERA_LOGIT_SD, found_by_any_view
    from geo.counting.inclusion import box_size_m, view_pairs, views_for_inclusion, visibility_by_range
    from geo.counting.locate import buildings_for_survey, read_images, read_sample_info

    truth = gpd.read_file(survey_dir / "truth.geojson")
    key = "camera_id" if "camera_id" in truth.columns else truth.columns[0]
    truth = truth[truth[key].astype(str).isin({str(i) for i in strip_ids})]
    if truth.empty:
        return 0.0
    crs = truth.estimate_utm_crs()
    xy = truth.to_crs(crs).geometry
    cxy = np.column_stack([xy.x.to_numpy(), xy.y.to_numpy()])
    views = views_for_inclusion(read_images(survey_dir), crs)
    buildings = buildings_for_survey(read_sample_info(survey_dir))
    build_m = buildings.to_crs(crs) if buildings is not None and len(buildings) else None
    pairs = view_pairs(cxy, np.tile([1.0, 0.0], (len(cxy), 1)), views, spacing_m=1.0, buildings=build_m, n_shifts=1)
    size = box_size_m(truth["class_name"].astype(str).to_numpy())[pairs.cam] * pairs.scale
    other = visibility_by_range(pairs.range_m) * (pairs.factor if pairs.factor is not None else 1.0)
    r = recall_at(size, edges, rates) * other
    return float(found_by_any_view(r, pairs.cam, len(cxy), sd=CAMERA_LOGIT_SD).sum())


def gap_text(g: dict) -> str:
    lines = [f"{g['survey']} ({g['source']}, {g['n_audited']} audited): estimate {g['est']:.0f} "
             f"({g['lo']:.0f}-{g['hi']:.0f}) for N = {g['N']:.0f} true in the strip; K = {g['K']} visible in "
             f"some view ({g['boxes']} boxes, {g['views_per_visible_camera']:.2f} views each, "
             f"{g['single_view_share']:.0%} in one view only); F = {g['F']} found",
             f"  true p* = F/N = {_f3(g['true_p_star'])}; the estimate implies F/est = {_f3(g['implied_p_star'])}; "
             f"F/K = {g['F'] / max(g['K'], 1):.3f}, K/N = {g['K'] / max(g['N'], 1):.3f}",
             "  per-box recall (matcher: found/boxes by size px): "
             + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in g["box_recall_by_size"].items()),
             "  the estimate's recall by size: "
             + ", ".join(f"{k} {v}" for k, v in g["estimate_recall_by_size"].items()),
             "  cameras found, predicted from each visible camera's true boxes: "
             + "; ".join(f"{k} {v:.1f}" for k, v in g["predicted_found"].items()) + f" (observed {g['F']})",
             f"  estimate CV {g['est_cv']:.2f}, {g['encounter_share']:.0%} of its variance from the encounter "
             f"(CV {g['encounter_cv']:.2f} alone): within +-20% with probability {g['p_within_20_encounter_only']:.2f} "
             "even with precision and recall known exactly"]
    return "\n".join(lines)


def _f3(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def markdown_table(gaps: list[dict]) -> str:
    """One row per survey: estimate, truth, error; cameras found observed and predicted (the
    estimate's curve on the true boxes; the inclusion geometry at the true positions); the
    encounter's CV and the chance of +-20% it leaves."""
    geo_key = "inclusion geometry at the true positions, estimate's curve, sd 1.7"
    box_key = f"estimate's curve, sd {1.7:g}"
    rows = ["| survey | estimate (95%) | truth | error | found F | predicted: curve on true boxes | predicted: "
            "geometry at true positions | estimate CV | encounter CV | P(within ±20%), encounter alone |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for g in gaps:
        pred = g["predicted_found"]
        rows.append(f"| {g['survey']} | {g['est']:.1f} ({g['lo']:.1f}-{g['hi']:.1f}) | {g['N']:.0f} | "
                    f"{g['est'] / g['N'] - 1:+.0%} | {g['F']} | {pred.get(box_key, np.nan):.1f} | "
                    f"{pred.get(geo_key, np.nan):.1f} | {g['est_cv']:.2f} | {g['encounter_cv']:.2f} | "
                    f"{g['p_within_20_encounter_only']:.2f} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("surveys", nargs="+", type=Path, help="rendered survey directories after review + estimate")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--markdown", type=Path, default=None, help="also write one table row per survey here")
    args = parser.parse_args(argv)
    out = []
    for survey in args.surveys:
        g = gap_of_survey(survey)
        out.append(g)
        print(gap_text(g), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2))
    if args.markdown is not None:
        args.markdown.write_text(markdown_table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
