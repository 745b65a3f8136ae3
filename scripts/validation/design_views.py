"""How many candidate views a survey design gives each camera (issue 26: can a denser design let a
flagged survey read its own recall and per-camera spread?), without rendering.

For each design (spacing in metres, optionally ``:along``: also the forward and backward views, and
``:fovN``: a field of view of N degrees), the
viewpoints are sampled as ``camcensus sample`` does (and cut to the streets nearest the centre, as
``validate_rendered.cut_to_subarea``), and the simulator's true cameras of a rendered survey
(``truth.geojson``) get their candidate views exactly as the card check builds them
(``geo.counting.recapture.histories_from_tables``, the area's buildings blocking sight lines).
Printed per design: views, cameras with a candidate view, candidate views per camera (median, all /
with an expected box of 8 px or more), and the share of cameras with five or more.

    python scripts/validation/design_views.py SURVEY_DIR --designs 5,10,10:along,20 --frac 0.5
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

MIN_PX = 8.0  # an expected box this large (sqrt area, px) counts as a useful view


def design_images(area: str, *, spacing: float, along: bool, fov: float, seed: int, frac: float, work: Path
                  ) -> pd.DataFrame:
    """The sampled views of one design as an images table (image_id, lon, lat, heading, fov, pitch, width, height)."""
    from scripts.validation.validate_rendered import cut_to_subarea

    out = work / f"s{spacing:g}-fov{fov:g}{'-along' if along else ''}"
    if not (out / "views.parquet").exists():
        cmd = [sys.executable, "-m", "scripts.cli", "sample", "--area", area, "--out", str(out), "--spacing",
               f"{spacing:g}", "--seed", str(seed), "--sides", "both", "--fov", f"{fov:g}"] + (
                   ["--along"] if along else [])
        subprocess.run(cmd, check=True, capture_output=True)
        if frac < 1.0:
            cut_to_subarea(out, frac=frac, spacing=spacing)
    views = pd.read_parquet(out / "views.parquet", columns=["view_id", "lon", "lat", "heading", "fov", "pitch"])
    return views.rename(columns={"view_id": "image_id"}).assign(width=640, height=640, status="ok")


def candidate_counts(truth, images: pd.DataFrame, *, crs, buildings) -> tuple[dict, object]:
    """Candidate views per true camera (those with at least one), all and with a box >= MIN_PX."""
    from geo.counting.recapture import histories_from_tables

    cams = pd.DataFrame({"lon": truth.geometry.x, "lat": truth.geometry.y, "class_name": truth["class_name"],
                         "image_ids": [None] * len(truth)})
    h = histories_from_tables(cams, images, crs=crs, buildings=buildings)
    return _counts(h, len(images)), h


def _counts(h, n_views: int) -> dict:
    useful = (h.size_px >= MIN_PX) & (h.other > 0)
    n_all = np.bincount(h.cam, minlength=h.n_cameras)
    n_use = np.bincount(h.cam[useful], minlength=h.n_cameras)
    seen = n_use > 0
    return {"views": int(n_views), "cameras": int(seen.sum()),
            "median_candidates": float(np.median(n_all[seen])) if seen.any() else 0.0,
            "median_useful": float(np.median(n_use[seen])) if seen.any() else 0.0,
            "share_5_or_more": round(float(np.mean(n_use[seen] >= 5)), 3) if seen.any() else 0.0}


def spread_power_on_pairs(h, cal, *, level: float = -2.5, reps: int = 6, seed: int = 1) -> str:
    """Histories drawn from the model on these candidate pairs (``geo.counting.recapture.drawn_histories``)
    at a true per-camera SD of 0.5 (the held-out look's) and 1.7 (the card's); ``fit_spread`` tests the
    other: cameras found (mean) and the likelihood-ratio statistic (median; draws rejecting at 5%)."""
    from geo.counting.recapture import drawn_histories, fit_spread

    rng, out = np.random.default_rng(seed), []
    for true_sd, other_sd in ((0.5, 1.7), (1.7, 0.5)):
        stats, found = [], []
        for _ in range(reps):
            d = drawn_histories(h.cam, h.size_px, h.other, h.n_cameras, cal=cal, level=level, rng=rng, sd=true_sd)
            fit = fit_spread(d, cal, sds=(0.0, 0.5, 1.0, 1.7, 2.2), card_sd=other_sd)
            stats.append(2.0 * (fit.profile.max() - fit.profile[list(fit.sds).index(other_sd)]))
            found.append(d.n_cameras)
        out.append(f"SD {true_sd}: {np.mean(found):.0f} found, LR vs {other_sd} {np.median(stats):.1f} "
                   f"({int(np.sum(np.array(stats) > 3.841))} of {reps})")
    return "; ".join(out)


def main(argv: list[str] | None = None) -> int:
    import geopandas as gpd

    from geo.counting.locate import buildings_for_survey

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("survey", type=Path, help="a rendered survey (its area, CRS and truth.geojson)")
    p.add_argument("--designs", default="5,10,10:along,20", help="spacings in metres; ':along' adds the along views, ':fovN' a field of view of N degrees (default 90)")
    p.add_argument("--frac", type=float, default=1.0, help="share of the road length kept (streets nearest the centre)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="where the sampled designs go (default: a temporary folder)")
    p.add_argument("--power", type=int, default=0, help="draws of the spread-power check per design (0: none)")
    p.add_argument("--level", type=float, default=-2.5, help="recall level of the draws, logits from the card's")
    a = p.parse_args(argv)
    info = json.loads((a.survey / "sample.json").read_text())
    truth = gpd.read_file(a.survey / "truth.geojson").to_crs(4326)
    build = buildings_for_survey(info)
    build = build.to_crs(info["crs"]) if build is not None and len(build) else None
    cal = None
    if a.power:
        from geo.counting.planning import calibration_for_plan
        from scripts.validation.validate_selfcal import card_of_survey

        cal = calibration_for_plan(card_of_survey(a.survey)[0])
    work = a.work or Path(tempfile.mkdtemp(prefix="design_views_"))
    print("| design | views | cameras with a view >= 8 px | candidate views per camera, median (all / >= 8 px) "
          "| cameras with >= 5 views >= 8 px |\n|---|---|---|---|---|")
    for d in a.designs.split(","):
        parts = d.split(":")
        fov = next((float(x[3:]) for x in parts[1:] if x.startswith("fov")), 90.0)
        images = design_images(info["area"], spacing=float(parts[0]), along="along" in parts, fov=fov, seed=a.seed,
                               frac=a.frac, work=work)
        r, h = candidate_counts(truth, images, crs=info["crs"], buildings=build)
        power = spread_power_on_pairs(h, cal, level=a.level, reps=a.power) if a.power else ""
        print(f"| {d} | {r['views']} | {r['cameras']} | {r['median_candidates']:g} / {r['median_useful']:g} "
              f"| {r['share_5_or_more']:.0%} |{' ' + power + ' |' if power else ''}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
