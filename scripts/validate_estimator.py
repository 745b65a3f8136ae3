"""Validate the density estimators against simulated truth.

Two modes:
  truth  (default) the simulator's truth boxes, degraded by a known recall (each box kept with
         probability RECALL) and precision (false boxes added so that PRECISION of all boxes are
         true), are the detections: no detector needed; this validates the statistics.
  detect the survey's own detections (run `camcensus detect` first) with the model's figures.

For each area x seed x camera spec it samples and simulates a survey (cached under --work), then
runs locate + estimate and compares the city-wide estimates (b) and (a) with the truth.

  .venv/bin/python scripts/validate_estimator.py --areas demo,test_pbf --seeds 0,1,2 \
      --cameras random:2,random:5,osm --recall 0.63 --precision 0.8 --work validate-runs

Acceptance: median |b - truth| / truth <= 15% and the 95% interval of (b) covers the truth in
>= 90% of runs. Two truths are scored: every scene camera (truth.geojson), and the cameras that
appear in at least one image (seen_by not empty): cameras that no view of the survey shows (kerb
poles between two sample points, cameras off the sampled network) cannot be counted from the
imagery, only modelled. Prints a table and writes validation.json into --work.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def detections_from_truth_boxes(boxes: pd.DataFrame, images: pd.DataFrame, *, recall: float, precision: float,
                                seed: int = 0, model_id: str = "truth-degraded") -> pd.DataFrame:
    """Detections made from truth boxes: each kept with probability ``recall``; then false boxes
    (random images, random 5-20 px boxes above the horizon) added so that ``precision`` of the
    result is true. Columns: the detections contract."""
    rng = np.random.default_rng([seed, 7])
    kept = boxes[rng.random(len(boxes)) < recall].reset_index(drop=True)
    n_false = int(round(len(kept) * (1.0 - precision) / precision)) if precision < 1 else 0
    ok = images[images["status"].fillna("ok") == "ok"] if "status" in images else images
    parts = [pd.DataFrame({"image_id": kept["image_id"].astype(str), "x1": kept["x1"], "y1": kept["y1"],
                           "x2": kept["x2"], "y2": kept["y2"], "class_name": kept["class_name"].astype(str),
                           "conf": rng.uniform(0.3, 0.95, len(kept))})]
    if n_false and len(ok):
        pick = ok.iloc[rng.integers(0, len(ok), n_false)]
        w = pick["width"].fillna(640).to_numpy(float) if "width" in pick else np.full(n_false, 640.0)
        h = pick["height"].fillna(640).to_numpy(float) if "height" in pick else np.full(n_false, 640.0)
        size = rng.uniform(5, 20, n_false)
        cx = rng.uniform(0.05, 0.95, n_false) * w
        cy = rng.uniform(0.1, 0.5, n_false) * h
        parts.append(pd.DataFrame({"image_id": pick["image_id"].astype(str).to_numpy(), "x1": cx - size / 2,
                                   "y1": cy - size / 2, "x2": cx + size / 2, "y2": cy + size / 2,
                                   "class_name": np.where(rng.random(n_false) < 0.5, "dome", "directed"),
                                   "conf": rng.uniform(0.25, 0.6, n_false)}))
    out = pd.concat(parts, ignore_index=True)
    out["class_id"] = np.where(out["class_name"] == "dome", 0, 1).astype(np.int64)
    out["model_id"] = model_id
    return out[["image_id", "x1", "y1", "x2", "y2", "conf", "class_id", "class_name", "model_id"]]


def write_detections(survey_dir: Path, detections: pd.DataFrame) -> None:
    """Replace the survey's detections by ``detections`` (one part file) and drop stale outputs."""
    det_dir = survey_dir / "detections"
    if det_dir.exists():
        shutil.rmtree(det_dir)
    det_dir.mkdir()
    detections.to_parquet(det_dir / "part-000000.parquet", index=False)
    (survey_dir / "cameras.parquet").unlink(missing_ok=True)


def score_run(result, truth_total: float, truth_visible: float | None = None) -> dict:
    """Errors of (b) and (a) against the truth (every scene camera) for one estimate, and of (b)
    against the cameras visible in at least one image (``truth_visible``)."""
    total = result.total
    rate = total["rate_estimator"]
    est, lo, hi = total["est_cameras"], total["est_lo"], total["est_hi"]
    return {"truth": truth_total, "n_cameras": total["n_cameras"], "est": est, "lo": lo, "hi": hi,
            "err": (est - truth_total) / truth_total if truth_total else None,
            "covered": bool(lo <= truth_total <= hi),
            "rate_est": rate["est_cameras"], "rate_lo": rate["est_lo"], "rate_hi": rate["est_hi"],
            "rate_err": (rate["est_cameras"] - truth_total) / truth_total if truth_total else None,
            "rate_covered": bool((rate["est_lo"] or 0) <= truth_total <= (rate["est_hi"] or 0)),
            "truth_visible": truth_visible,
            "err_visible": (est - truth_visible) / truth_visible if truth_visible else None,
            "covered_visible": bool(truth_visible is not None and lo <= truth_visible <= hi)}


def area_errors(result) -> dict:
    """Per-area relative errors of (b) and (a) where the truth is known and positive."""
    table = result.areas
    known = table[table["truth_cameras"].fillna(0) > 0]
    if known.empty:
        return {}
    err_b = (known["est_cameras"] - known["truth_cameras"]) / known["truth_cameras"]
    err_a = (known["rate_est_cameras"] - known["truth_cameras"]) / known["truth_cameras"]
    cover = (known["est_lo"] <= known["truth_cameras"]) & (known["truth_cameras"] <= known["est_hi"])
    return {"n_areas": int(len(known)), "median_abs_err": float(err_b.abs().median()),
            "median_err": float(err_b.median()), "coverage": float(cover.mean()),
            "rate_median_abs_err": float(err_a.abs().median()), "rate_median_err": float(err_a.median())}


def summarise(runs: list[dict]) -> dict:
    """Acceptance figures over runs: median error, median |error|, coverage, for (b) and (a)."""
    frame = pd.DataFrame(runs)
    frame = frame[frame["truth"] > 0]
    if frame.empty:
        return {"n_runs": 0}
    visible = frame.dropna(subset=["err_visible"])
    return {"n_runs": int(len(frame)),
            "visible_median_err": float(visible["err_visible"].median()) if len(visible) else None,
            "visible_median_abs_err": float(visible["err_visible"].abs().median()) if len(visible) else None,
            "visible_coverage": float(visible["covered_visible"].mean()) if len(visible) else None,
            "median_err": float(frame["err"].median()), "median_abs_err": float(frame["err"].abs().median()),
            "coverage": float(frame["covered"].mean()),
            "rate_median_err": float(frame["rate_err"].median()),
            "rate_median_abs_err": float(frame["rate_err"].abs().median()),
            "rate_coverage": float(frame["rate_covered"].mean()),
            "pass": bool(abs(frame["err"].median()) <= 0.15 and frame["covered"].mean() >= 0.90)}


def run_survey(survey_dir: Path, *, mode: str, recall: float, precision: float, seed: int, by: str,
               n_boot: int) -> tuple[object, float]:
    """Estimate one simulated survey; return (EstimateResult, true camera count)."""
    import geopandas as gpd

    from geo.estimate import estimate_survey

    truth = gpd.read_file(survey_dir / "truth.geojson")
    if mode == "truth":
        boxes = pd.read_parquet(survey_dir / "truth_boxes.parquet")
        images = pd.read_parquet(survey_dir / "images.parquet")
        write_detections(survey_dir, detections_from_truth_boxes(boxes, images, recall=recall,
                                                                 precision=precision, seed=seed))
    result = estimate_survey(survey_dir, by=by, precision=precision, recall=recall, n_boot=n_boot, seed=seed,
                             osm=False, model={"model_id": f"{mode} r={recall} p={precision}"})
    seen = truth["seen_by"].map(lambda v: len(json.loads(v)) if isinstance(v, str) else len(v))
    return result, float(len(truth)), float((seen > 0).sum())


def simulate(survey_dir: Path, *, area: str, cameras: str, seed: int, spacing: float, render: bool) -> None:
    """Sample and simulate a survey into ``survey_dir`` unless it is already there.

    ``render``: the full simulator (images on disk, needed to run a detector); otherwise only the
    truth boxes the renderer would give (``geo.sim.render.boxes_for_view``), much faster."""
    from geo.sampling import sample_survey

    if (survey_dir / "truth_boxes.parquet").exists() and (survey_dir / "images.parquet").exists():
        return
    sample_survey(survey_dir, area=area, spacing=spacing, seed=seed)
    if render:
        from geo.sim.survey import simulate_survey

        simulate_survey(survey_dir, sim_cameras=cameras, seed=seed, progress=False)
    else:
        truth_boxes_survey(survey_dir, cameras=cameras, seed=seed)


def truth_boxes_survey(survey_dir: Path, *, cameras: str, seed: int, width: int = 640, height: int = 640) -> None:
    """Write images.parquet (no image files), truth_boxes.parquet and truth.geojson of the
    simulator's scene for every view, without drawing the images."""
    import geopandas as gpd
    from pyproj import CRS, Transformer

    from geo.network import load_network
    from geo.sim.render import boxes_for_view
    from geo.sampling import true_north_correction
    from geo.sim.scene import scene_from_area
    from geo.io import write_parquet
    from geo.schemas import IMAGES, TRUTH_BOXES, columns
    from geo.sim.survey import truth_features

    info = json.loads((survey_dir / "sample.json").read_text())
    scene = scene_from_area(info["area"], graph=load_network(survey_dir / "network.graphml"),
                            sim_cameras=cameras, seed=seed)
    views = gpd.read_parquet(survey_dir / "views.parquet")
    crs = CRS.from_user_input(scene.crs)
    lon, lat = views["lon"].to_numpy(float), views["lat"].to_numpy(float)
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    grid_heading = np.mod(views["heading"].to_numpy(float) - true_north_correction(lon, lat, crs), 360.0)
    boxes = []
    for i, vid in enumerate(views["view_id"].astype(str)):
        found = boxes_for_view(scene, x=x[i], y=y[i], heading=grid_heading[i], pitch=float(views["pitch"].iloc[i]),
                               fov=float(views["fov"].iloc[i]), width=width, height=height)
        if len(found):
            boxes.append(found.assign(image_id=vid))
    box_frame = (pd.concat(boxes, ignore_index=True)[columns(TRUTH_BOXES)] if boxes
                 else pd.DataFrame(columns=columns(TRUTH_BOXES)))
    images = pd.DataFrame({"view_id": views["view_id"].astype(str), "image_id": views["view_id"].astype(str),
                           "provider": "simulated-boxes", "path": None, "width": width, "height": height,
                           "lon": lon, "lat": lat, "heading": views["heading"].to_numpy(float),
                           "fov": views["fov"].to_numpy(float), "pitch": views["pitch"].to_numpy(float),
                           "captured_at": None, "status": "ok", "error": None, "source_id": None})
    write_parquet(box_frame, survey_dir / "truth_boxes.parquet", schema=TRUTH_BOXES)
    (survey_dir / "truth.geojson").write_text(json.dumps(truth_features(scene, box_frame)))
    write_parquet(images, survey_dir / "images.parquet", schema=IMAGES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--areas", default="demo,test_pbf", help="comma list: demo, test_pbf or area specs")
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds")
    parser.add_argument("--cameras", default="random:2,random:5", help="comma list of camera specs (random:D, osm)")
    parser.add_argument("--osm-on-demo", action=argparse.BooleanOptionalAction, default=True,
                        help="also run 'osm' cameras on demo (default: yes)")
    parser.add_argument("--mode", choices=["truth", "detect"], default="truth")
    parser.add_argument("--recall", type=float, default=0.63)
    parser.add_argument("--precision", type=float, default=0.8)
    parser.add_argument("--spacing", type=float, default=20.0, help="sampling spacing, metres")
    parser.add_argument("--by", default="h3:8", help="areas for the per-area errors")
    parser.add_argument("--n-boot", type=int, default=500)
    parser.add_argument("--render", action="store_true", help="render images with the full simulator "
                        "(needed for --mode detect; default: truth boxes only)")
    parser.add_argument("--work", type=Path, default=Path("validate-work"), help="cache of simulated surveys")
    args = parser.parse_args(argv)

    from pyrosm import get_data

    specs = {"demo": "demo", "test_pbf": get_data("test_pbf")}
    runs, per_area = [], []
    combos = [(a, c, s) for a in args.areas.split(",") for c in args.cameras.split(",") for s in args.seeds.split(",")]
    if args.osm_on_demo and "demo" in args.areas.split(",") and "osm" not in args.cameras.split(","):
        combos += [("demo", "osm", s) for s in args.seeds.split(",")]
    for area, cams, seed in combos:
        seed = int(seed)
        name = f"{area}-{cams.replace(':', '')}-s{seed}"
        survey_dir = args.work / name
        started = time.perf_counter()
        simulate(survey_dir, area=specs.get(area, area), cameras=cams, seed=seed, spacing=args.spacing,
                 render=args.render or args.mode == "detect")
        sim_s = time.perf_counter() - started
        started = time.perf_counter()
        result, truth_total, truth_visible = run_survey(survey_dir, mode=args.mode, recall=args.recall, precision=args.precision,
                                         seed=seed, by=args.by, n_boot=args.n_boot)
        row = {"area": area, "cameras": cams, "seed": seed, **score_run(result, truth_total, truth_visible),
               "simulate_s": round(sim_s, 1), "estimate_s": round(time.perf_counter() - started, 1)}
        runs.append(row)
        per_area.append({"area": area, "cameras": cams, "seed": seed, **area_errors(result)})
        print(f"{name:28s} truth {truth_total:5.0f}  located {row['n_cameras']:5.0f}  "
              f"(b) {row['est']:7.1f} [{row['lo']:6.1f}, {row['hi']:6.1f}] err {row['err']:+.1%} "
              f"{'covered' if row['covered'] else 'MISSED '}  (a) {row['rate_est']:7.1f} err {row['rate_err']:+.1%}  "
              f"| visible {truth_visible:4.0f} err {row['err_visible']:+.1%} "
              f"{'covered' if row['covered_visible'] else 'MISSED'}",
              flush=True)
    summary = summarise(runs)
    print(json.dumps(summary, indent=2))
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "validation.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                           "summary": summary, "runs": runs,
                                                           "per_area": per_area}, indent=2, default=str))
    return 0 if summary.get("pass") else 1


if __name__ == "__main__":
    sys.exit(main())
