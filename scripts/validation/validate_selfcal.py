"""Score the card check and the survey's own recall fit on rendered surveys (issue 26, parts 1-2).

For each survey directory (detected and located, with the simulator's truth.geojson), two estimates
in this process, no exports written:

- ``card``: the card's calibration as it is (``geo.counting.card_check.SELF_CALIBRATE`` off), with
  the card check's verdict (``fits``) and the recall ratio it measured;
- ``self``: the default policy (a flagged survey keeps the card unless ``USE_OWN_FIT_WHEN_FLAGGED``;
  "recall unknown" where its repeat views cannot tell);
- ``fit``: the survey's own fit used where the card does not fit (``USE_OWN_FIT_WHEN_FLAGGED`` on).

    python scripts/validation/validate_selfcal.py DIR [DIR ...] [--json out.json] [--markdown out.md]
    python scripts/validation/validate_selfcal.py --overlap test_pbf     # how much overlap self-calibration needs
    python scripts/validation/validate_selfcal.py --spread DIR [DIR ...]   # the per-camera logit SD from the truth

A row is "ok" for the card when its interval covers the truth in its strip or ``fits`` is false
(the issue's target); the self column reports error and coverage.

``--truth`` adds what the truth says about the fit's inputs (``truth_check``): the located cameras
whose box overlaps a true box (real) or none (false), against the fit's P(real)-weighted cameras,
and the recall ratio read from ALL true cameras' boxes (``recall_ratio_from_truth``: no selection by
being found, the level the self-fit tries to reach). Where the fit's P(real) is near the real count
and its ratio is still far from the truth's, the fit itself is off, not the card's false rate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def card_of_survey(survey_dir: Path) -> tuple[dict, dict]:
    """(calibration dict, model info) the `estimate` command would use for this survey."""
    from scripts.survey.stages import estimate_calibration

    calibration, _precision, _recall, model_info = estimate_calibration(survey_dir, model=None, precision=None,
                                                                        recall=None)
    return calibration, model_info


MIN_TRUE_PX = 6.0  # true boxes smaller than this are left out of recall_ratio_from_truth (the card's own floor)


def _survey_boxes(survey_dir: Path, conf_threshold: float):
    """(detections at the card's threshold, true boxes, each detection's kind: kinds_from_boxes)."""
    import glob

    import pandas as pd

    from scripts.validation.false_detections import kinds_from_boxes

    parts = sorted(glob.glob(str(survey_dir / "detections" / "*.parquet")))
    det = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame(
        columns=["image_id", "conf", "x1", "y1", "x2", "y2"])
    det = det[det["conf"].fillna(1.0) >= conf_threshold - 1e-9].reset_index(drop=True)
    det["image_id"] = det["image_id"].astype(str)
    truth = pd.read_parquet(survey_dir / "truth_boxes.parquet")
    truth["image_id"] = truth["image_id"].astype(str)
    return det, truth, kinds_from_boxes(det, truth)


def located_real(cameras, det, kinds):
    """Per located camera: is its strongest box (``conf_max`` in one of its ``image_ids``) on a true camera."""
    import numpy as np

    real = {(i, round(float(c), 5)) for i, c, k in zip(det["image_id"], det["conf"], kinds["kind"])
            if k in ("real", "loose")}
    return np.array([any((str(i), round(float(cmax), 5)) in real for i in ids)
                     for ids, cmax in zip(cameras["image_ids"], cameras["conf_max"])], dtype=bool)


def recall_ratio_from_truth(size_px, hit, cal, *, grid=None) -> float:
    """The survey's recall over the card's from every true box (``size_px``, ``hit``: a real or loose
    detection on it): the maximum-likelihood logit shift of the card's curve, boxes independent, as
    the ratio of expected hits at that shift to the card's."""
    import numpy as np

    from geo.counting.calibration import recall_at
    from geo.counting.heterogeneity import expit

    grid = np.arange(-8.0, 4.0 + 1e-9, 0.02) if grid is None else grid
    base = np.clip(recall_at(np.asarray(size_px, float), cal.size_edges, cal.recall_bins()), 1e-6, 1 - 1e-6)
    hit = np.asarray(hit, bool)
    if len(base) == 0:
        return float("nan")
    p = expit(np.log(base / (1 - base))[None, :] + grid[:, None])
    loglik = np.where(hit[None, :], np.log(p), np.log1p(-p)).sum(axis=1)
    return float(p[int(np.argmax(loglik))].sum() / base.sum())


def truth_check(survey_dir: Path, calibration: dict) -> dict:
    """What the truth says about the self-fit's inputs (see the module docstring, ``--truth``)."""
    import numpy as np
    import pandas as pd

    from geo.counting.calibration import calibration_from_dict

    cal = calibration_from_dict(calibration)
    det, truth, kinds = _survey_boxes(survey_dir, float(calibration.get("conf_threshold", 0.0)))
    cameras = pd.read_parquet(survey_dir / "cameras.parquet")
    real = located_real(cameras, det, kinds)
    single = cameras["n_detections"].to_numpy(float) <= 1
    hit = np.zeros(len(truth), bool)
    ok = kinds["kind"].isin(["real", "loose"]).to_numpy()
    hit[kinds["truth_row"].to_numpy()[ok]] = True
    px = np.sqrt((truth["x2"] - truth["x1"]) * (truth["y2"] - truth["y1"])).to_numpy(float)
    keep = px >= MIN_TRUE_PX
    return {"located_real": int(real.sum()), "located_false": int((~real).sum()),
            "single_view_false": int((~real & single).sum()),
            "distinct_true": distinct_true_cameras(survey_dir, cameras[real]),
            "recall_ratio_from_truth": round(recall_ratio_from_truth(px[keep], hit[keep], cal), 4)}


def distinct_true_cameras(survey_dir: Path, cameras, *, within_m: float = 4.0) -> int | None:
    """How many distinct true cameras (``truth.geojson``) lie within ``within_m`` of these located
    ``cameras`` (lon, lat): fewer than the cameras where one true camera was located twice (split).
    None without the survey's truth."""
    import json

    import geopandas as gpd
    import numpy as np
    from pyproj import Transformer
    from scipy.spatial import cKDTree

    if not (survey_dir / "truth.geojson").exists() or not (survey_dir / "sample.json").exists() or "lon" not in cameras:
        return None
    if len(cameras) == 0:
        return 0
    crs = json.loads((survey_dir / "sample.json").read_text())["crs"]
    true = gpd.read_file(survey_dir / "truth.geojson").to_crs(crs)
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(cameras["lon"].to_numpy(float),
                                                                     cameras["lat"].to_numpy(float))
    dist, idx = cKDTree(np.column_stack([true.geometry.x, true.geometry.y])).query(np.column_stack([x, y]))
    return int(len(np.unique(idx[dist <= within_m])))


SD_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.3, 1.7, 2.2)  # per-camera logit SDs tried by camera_sd_profile


def camera_sd_loglik(size_px, hit, camera, cal, *, sds=SD_GRID, levels=None) -> dict:
    """Per camera logit SD: (max log-likelihood, level) of every true box's hit under the card's curve
    shifted by a level (logit, under the camera effect) with a per-camera effect N(0, sd^2), maximised
    over the level. ``size_px``, ``hit`` as in ``recall_ratio_from_truth``; ``camera``: each box's
    true camera. All true cameras count (found or not), so the SD is read without selection."""
    import numpy as np

    from geo.counting.calibration import recall_at
    from geo.counting.heterogeneity import effect_nodes, expit
    from geo.counting.recapture import c_of, shifted_rates

    levels = np.round(np.arange(-8.0, 3.0 + 1e-9, 0.1), 2) if levels is None else np.asarray(levels, float)
    cam = np.unique(np.asarray(camera), return_inverse=True)[1]
    hit, px = np.asarray(hit, bool), np.asarray(size_px, float)
    out = {}
    for sd in sds:
        u, w = effect_nodes(sd) if sd > 0 else (np.zeros(1), np.ones(1))
        rates = shifted_rates(cal.recall_bins(), levels, sd=sd) if sd > 0 else expit(
            np.log(cal.recall_bins() + 1e-12) - np.log1p(-cal.recall_bins() + 1e-12) + levels[:, None])
        best = (-np.inf, None)
        for lv, rate in zip(levels, rates):
            r = np.clip(recall_at(px, cal.size_edges, rate), 1e-9, 1 - 1e-9)
            c = c_of(r, sd) if sd > 0 else np.log(r / (1 - r))
            p = np.clip(expit(c[:, None] + u[None, :]), 1e-12, 1 - 1e-12)
            per = np.zeros((cam.max() + 1, len(u)))
            np.add.at(per, cam, np.where(hit[:, None], np.log(p), np.log1p(-p)))
            top = per.max(axis=1, keepdims=True)
            ll = float((top[:, 0] + np.log(np.exp(per - top) @ w)).sum())
            if ll > best[0]:
                best = (ll, float(lv))
        out[float(sd)] = {"loglik": round(best[0], 2), "level": best[1]}
    return out


def camera_sd_profile(survey_dir: Path, calibration: dict, *, sds=SD_GRID) -> dict:
    """``camera_sd_loglik`` on one survey's true boxes (>= ``MIN_TRUE_PX``) and its detections at the
    card's threshold (a true box is hit by a real or loose detection), with the counts it read."""
    import numpy as np

    from geo.counting.calibration import calibration_from_dict

    cal = calibration_from_dict(calibration)
    det, truth, kinds = _survey_boxes(survey_dir, float(calibration.get("conf_threshold", 0.0)))
    hit = np.zeros(len(truth), bool)
    ok = kinds["kind"].isin(["real", "loose"]).to_numpy()
    hit[kinds["truth_row"].to_numpy()[ok]] = True
    px = np.sqrt((truth["x2"] - truth["x1"]) * (truth["y2"] - truth["y1"])).to_numpy(float)
    keep = px >= MIN_TRUE_PX
    camera = truth["camera_id"].to_numpy()[keep]
    return {"cameras": int(len(np.unique(camera))), "boxes": int(keep.sum()), "hits": int(hit[keep].sum()),
            "by_sd": camera_sd_loglik(px[keep], hit[keep], camera, cal, sds=sds)}


def spread_markdown(profiles: dict[str, dict]) -> str:
    """Per survey and summed (a level each): the log-likelihood below the best SD, per SD tried."""
    sds = sorted({sd for p in profiles.values() for sd in p["by_sd"]})
    lines = ["| survey | cameras / boxes / hits | " + " | ".join(f"SD {sd:g}" for sd in sds) + " | best SD |",
             "|---|---|" + "---|" * (len(sds) + 1)]
    total = {sd: 0.0 for sd in sds}
    for name, p in profiles.items():
        ll = {sd: p["by_sd"][sd]["loglik"] for sd in sds}
        for sd in sds:
            total[sd] += ll[sd]
        top = max(ll.values())
        lines.append(f"| {name} | {p['cameras']} / {p['boxes']} / {p['hits']} | "
                     + " | ".join(f"{ll[sd] - top:+.1f} ({p['by_sd'][sd]['level']:+.1f})" for sd in sds)
                     + f" | {max(ll, key=ll.get):g} |")
    top = max(total.values())
    lines.append("| sum (a level each) | | " + " | ".join(f"{total[sd] - top:+.1f}" for sd in sds)
                 + f" | {max(total, key=total.get):g} |")
    return "\n".join(lines) + "\n"


def spread_power(calibration, *, views=(2, 3, 5, 8), n_cameras: int = 150, reps: int = 6, level: float = -2.5,
                 sds=(0.5, 1.7), seed: int = 1) -> list[dict]:
    """How many candidate views per camera the survey's own histories need to tell the per-camera SD
    (``geo.counting.recapture.fit_spread``): histories drawn from the model at each true SD of
    ``sds`` (``calibration``: a ``Calibration`` or its dict) for ``n_cameras`` cameras with k views each (4-30 m away, the visibility by range, level
    ``level``), the likelihood-ratio statistic of the other SD, per k: median and share rejecting at 5%."""
    import numpy as np

    from geo.counting.inclusion import visibility_by_range
    from geo.counting.planning import calibration_for_plan
    from geo.counting.recapture import drawn_histories, fit_spread

    cal, rng, rows = calibration_for_plan(calibration), np.random.default_rng(seed), []
    for k in views:
        for true_sd, other_sd in (sds, sds[::-1]):
            stats, found = [], []
            for _ in range(reps):
                cam = np.repeat(np.arange(n_cameras), k)
                range_m = rng.uniform(4.0, 30.0, len(cam))
                h = drawn_histories(cam, 0.46 * 320.0 / range_m, visibility_by_range(range_m), n_cameras, cal=cal,
                                    level=level, rng=rng, sd=true_sd)
                fit = fit_spread(h, cal, sds=(0.0, 0.5, 1.0, 1.7, 2.2), card_sd=other_sd)
                stats.append(2.0 * (fit.profile.max() - fit.profile[list(fit.sds).index(other_sd)]))
                found.append(h.n_cameras)
            rows.append({"views": k, "true_sd": true_sd, "tested_sd": other_sd, "found": float(np.mean(found)),
                         "lr_median": round(float(np.median(stats)), 2),
                         "rejected": int(np.sum(np.array(stats) > 3.841)), "reps": reps})
    return rows


def scored(report: dict) -> dict:
    """Estimate, interval, truth in its strip, error and coverage from a report."""
    t = report["total"]
    truth = t.get("truth_cameras")
    est, lo, hi = t["est_cameras"], t["est_lo"], t["est_hi"]
    return {"est": round(est, 1), "lo": round(lo, 1), "hi": round(hi, 1), "truth": truth,
            "error": round(est / truth - 1, 3) if truth else None,
            "covered": bool(lo <= truth <= hi) if truth is not None else None}


def score_survey(survey_dir: Path, *, truth: bool = False) -> dict:
    """The two estimates of one survey (see the module docstring); ``truth``: add ``truth_check``."""
    import geo.counting.card_check as card_check
    from geo.counting.estimate import estimate_survey

    calibration, model_info = card_of_survey(survey_dir)
    row: dict = {"survey": survey_dir.name}
    for name, self_cal, own_fit in (("card", False, False), ("self", True, card_check.USE_OWN_FIT_WHEN_FLAGGED),
                                    ("fit", True, True)):
        if name == "fit" and row.get("fits") is not False:  # the fit is used only where the card does not fit
            row["fit"] = dict(row["self"])
            continue
        keep = card_check.USE_OWN_FIT_WHEN_FLAGGED
        card_check.SELF_CALIBRATE, card_check.USE_OWN_FIT_WHEN_FLAGGED = self_cal, own_fit
        clock = time.perf_counter()
        try:
            result = estimate_survey(survey_dir, by="area", calibration=calibration, model=model_info, exports=False,
                                     osm=False)
        finally:
            card_check.SELF_CALIBRATE, card_check.USE_OWN_FIT_WHEN_FLAGGED = True, keep
        report = result.report
        row[name] = {**scored(report), "seconds": round(time.perf_counter() - clock, 1),
                     "camera_sd": (report.get("self_calibration") or {}).get("camera_logit_sd")}
        if name != "card" and (report.get("self_calibration") or {}).get("camera_sd_fit"):
            row["camera_sd_fit"] = report["self_calibration"]["camera_sd_fit"]  # the flagged fit's SD profile
        if name == "card":
            check = report.get("card_check") or {}
            row["fits"] = check.get("fits")
            row["recall_ratio"] = [check.get(k) for k in ("recall_ratio", "recall_ratio_lo", "recall_ratio_hi")]
            row["recapture"] = (check.get("tests") or {}).get("recapture")
            row["p_level"] = ((check.get("tests") or {}).get("level") or {}).get("p_value")
            row["p_conf"] = ((check.get("tests") or {}).get("confidence") or {}).get("p_value")
            row["p_low_conf"] = ((check.get("tests") or {}).get("confidence") or {}).get("p_low")
            look = (check.get("tests") or {}).get("look")  # None: skipped (no look.parquet, or the card has no look)
            row["look"] = None if look is None else {"fits": look.get("fits"), "p_value": look.get("p_value")}
            row["low_conf_share"] = ((check.get("tests") or {}).get("confidence") or {}).get("survey_low_share")
            row["prior_only"] = "used_prior_only" in (report.get("self_calibration") or {})
            row["informative"] = (report.get("self_calibration") or {}).get("informative")
            row["p_real_in_fit"] = (report.get("self_calibration") or {}).get("n_cameras")
            row["candidate_views"] = check.get("candidate_views_median")
        row["n_located"] = report["inclusion"]["n_located"]
        row["spacing_m"] = report["parameters"]["design"]["spacing_m"]
    card = row["card"]
    row["card_ok"] = bool(card["covered"] or row["fits"] is False)
    if truth:
        row["truth_check"] = truth_check(survey_dir, calibration)
    return row


def markdown(rows: list[dict]) -> str:
    """The table of issue 26's note."""
    def est(c):
        return f"{c['est']:.0f} ({c['lo']:.0f}-{c['hi']:.0f})"

    def pct(x):
        return "n/a" if x is None else f"{100 * x:+.0f}%"

    lines = ["| survey | spacing | located | truth | card | fits | recall ratio (95%) | repeats obs/exp | "
             "default policy | error | covered | own fit used where flagged | error | covered | card ok |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rr = [x if x is not None else float("nan") for x in r["recall_ratio"]]
        rec = r.get("recapture") or {}
        lines.append(f"| {r['survey']} | {r['spacing_m']:g} m | {r['n_located']} | {r['card']['truth']:.0f} | "
                     f"{est(r['card'])} {pct(r['card']['error'])} | {r['fits']}{_look_note(r)} | "
                     f"{rr[0]:.2f} ({rr[1]:.2f}-{rr[2]:.2f}) | "
                     f"{rec.get('observed_repeat')}/{rec.get('expected_repeat')} | "
                     f"{est(r['self'])} | {pct(r['self']['error'])} | {r['self']['covered']} | "
                     f"{est(r['fit'])} | {pct(r['fit']['error'])} | {r['fit']['covered']} | {r['card_ok']} |")
    if any("camera_sd_fit" in r for r in rows):
        lines += ["", "| survey | candidate views per camera (median, box >= 8 px) | per-camera SD: used | best | "
                  "95% reach | LR p of the card's | profile below the best |", "|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if "camera_sd_fit" in r):
            s = r["camera_sd_fit"]
            lines.append(f"| {r['survey']} | {r.get('candidate_views')} | {s['chosen']:g} | {s['best']:g} | {s['lo']:g}-{s['hi']:g} | {s['lr_p']:.2f} | "
                         + " / ".join(f"{sd:g}: {v:+.1f}" for sd, v in zip(s["sds"], s["profile_loglik"])) + " |")
    if any("truth_check" in r for r in rows):
        lines += ["", "| survey | located: real / false (single-view false) | distinct true cameras of the real ones | "
                  "P(real)-weighted cameras in the fit | recall ratio: fit | from all true cameras |",
                  "|---|---|---|---|---|---|"]
        for r in rows:
            t = r.get("truth_check") or {}
            lines.append(f"| {r['survey']} | {t.get('located_real')} / {t.get('located_false')} "
                         f"({t.get('single_view_false')}) | {t.get('distinct_true')} | {r.get('p_real_in_fit')} | "
                         f"{(r['recall_ratio'][0] or float('nan')):.2f} | "
                         f"{t.get('recall_ratio_from_truth', float('nan')):.2f} |")
    return "\n".join(lines) + "\n"


def _look_note(row: dict) -> str:
    """The fits cell's note on the look test: "(no look test)" where it was skipped (a survey without
    ``look.parquet``, e.g. one cut from another without it: the held-out look's surest flag is then missing)."""
    if "look" not in row:
        return ""
    return " (no look test)" if row["look"] is None else ("" if row["look"]["fits"] else " (look)")


def overlap_rows(area: str, *, levels=(0.0, -2.0, -3.5, -4.35), spacings=(5.0, 10.0, 20.0), density: float = 5.0,
                 n_reps: int = 6) -> list[dict]:
    """``camcensus plan``'s self-calibration figures (``geo.counting.planning.self_calibration_for_plan``)
    for ``area`` (``test_pbf``: pyrosm's test extract) at several recall levels (logit shifts of the card's)."""
    from geo.counting.planning import plan_area
    from geo.counting.planning import self_calibration_for_plan
    from scripts.survey.plan import plan_calibration

    if area == "test_pbf":
        from pyrosm import get_data

        area = get_data("test_pbf")
    calibration, _ = plan_calibration(None)
    planned = plan_area(area)
    rows = []
    for level in levels:
        rows += self_calibration_for_plan(planned, calibration=calibration, cameras_per_km=density, spacings=spacings,
                                          level=level, n_reps=n_reps)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("surveys", nargs="*", type=Path)
    parser.add_argument("--overlap", default=None, help="an area (test_pbf, demo, a file): plan's self-calibration "
                                                         "figures per spacing and recall level, instead of surveys")
    parser.add_argument("--spread-power", action="store_true",
                        help="instead of surveys: how many views per camera a survey needs to read its own per-camera "
                             "SD (histories simulated under the shipped card)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--truth", action="store_true", help="add what the truth says about the fit's inputs: located "
                                                             "cameras real / false, recall ratio from all true boxes")
    parser.add_argument("--spread", action="store_true",
                        help="instead of the estimates: the per-camera logit SD's log-likelihood from all true boxes "
                             "(the card's curve, a level per survey), per SD tried")
    args = parser.parse_args(argv)
    if args.spread:
        profiles = {(d.parent.name if d.name == "base" else d.name): camera_sd_profile(d, card_of_survey(d)[0])
                    for d in args.surveys}
        return _print_and_write(spread_markdown(profiles), profiles, json_path=args.json, markdown_path=args.markdown)
    if args.spread_power:
        from scripts.survey.plan import plan_calibration

        rows = spread_power(plan_calibration(None)[0])
        text = "| views per camera | true SD | tested SD | found cameras | LR statistic, median | rejected |\n" + \
            "|---|---|---|---|---|---|\n" + "".join(
                f"| {r['views']} | {r['true_sd']:g} | {r['tested_sd']:g} | {r['found']:.0f} | {r['lr_median']:.1f} | "
                f"{r['rejected']} of {r['reps']} |\n" for r in rows)
        return _print_and_write(text, rows, json_path=args.json, markdown_path=args.markdown)
    if args.overlap:
        for row in overlap_rows(args.overlap):
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}))
        return 0
    rows = []
    for d in args.surveys:
        rows.append(score_survey(d, truth=args.truth))
        print(json.dumps(rows[-1]), flush=True)
    return _print_and_write(markdown(rows), rows, json_path=args.json, markdown_path=args.markdown)


def _print_and_write(text: str, data, *, json_path: Path | None, markdown_path: Path | None) -> int:
    """Print the table and write it (``markdown_path``) and its data (``json_path``) where asked; exit code 0."""
    print(text)
    if json_path:
        json_path.write_text(json.dumps(data, indent=2))
    if markdown_path:
        markdown_path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
