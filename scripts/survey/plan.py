"""`camcensus plan`: compare survey designs before any imagery is fetched (issue 23).

For each design (``geo.counting.planning.Design``): images, cost at the provider's price, fetch
time at its rate limit, detect time on this machine (measured with the real detector on a few
rendered and blank 640 px images), the strip it can speak for and the predicted 95% interval
(``geo.counting.planning.design_prediction``). Recommends the cheapest design that meets a
target half-width, or the narrowest interval within a budget.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo.errors import GeoInputError


@dataclass(frozen=True)
class Provider:
    """An imagery provider's published list price (USD per 1,000 images) and rate limit
    (images per second), with where they come from."""

    name: str
    price_per_1000: float
    rate_per_s: float | None  # None: as fast as this machine renders (simulated) or reads (local)
    note: str


# Published figures (checked December 2026; override with --price-per-1000 / --rate):
PROVIDERS = {
    "gsv": Provider("gsv", 7.0, 500.0, "Google Street View Static API list price, 0-100,000 "
                    "images a month: USD 7.00 per 1,000; default quota 30,000 requests a minute"),
    "mapillary": Provider("mapillary", 0.0, 10000 / 60.0, "Mapillary API v4: free; search requests "
                          "limited to 10,000 a minute per app (one per view)"),
    "simulated": Provider("simulated", 0.0, None, "the simulator: free, at this machine's render speed"),
    "local": Provider("local", 0.0, None, "your own images: free, already on disk"),
}


def provider_figures(name: str, *, price_per_1000: float | None = None, rate_per_s: float | None = None
                     ) -> Provider:
    """The provider's figures, with ``price_per_1000`` (USD) and ``rate_per_s`` overriding them."""
    if name not in PROVIDERS:
        raise GeoInputError(f"unknown provider '{name}': choose one of {', '.join(PROVIDERS)}")
    base = PROVIDERS[name]
    if price_per_1000 is not None and not price_per_1000 >= 0:
        raise GeoInputError(f"--price-per-1000 must be at least 0 US dollars, got {price_per_1000:g}")
    if rate_per_s is not None and not rate_per_s > 0:
        raise GeoInputError(f"--rate must be a positive number of images per second, got {rate_per_s:g}")
    return Provider(base.name, base.price_per_1000 if price_per_1000 is None else float(price_per_1000),
                    base.rate_per_s if rate_per_s is None else float(rate_per_s), base.note)


def measure_image_seconds(scene, *, model: str | None = None, n_rendered: int = 3, n_blank: int = 2,
                          device: str = "cpu") -> dict:
    """Seconds per 640 px image on this machine: rendering a view of ``scene`` (the simulated
    provider's fetch) and detecting with the real detector (``model``, default the shipped one),
    measured on ``n_rendered`` rendered and ``n_blank`` blank images after one warm-up pass."""
    import numpy as np

    from detector.engine import DetectOptions, LoadedImage, crops_from_pixels, detect_loaded, load_backend
    from detector.registry import resolve_model
    from geo.sim.render import render_view

    cams = scene.cameras
    images = []
    clock = time.perf_counter()
    for i in range(n_rendered):
        if len(cams):
            row = cams.iloc[(i * 7919) % len(cams)]
            x, y, heading = float(row["x"]) - 8.0, float(row["y"]), 90.0
        else:
            x, y, heading = 0.0, 0.0, 90.0 * i
        pixels, _ = render_view(scene, x=x, y=y, heading=heading, width=640, height=640, seed=i)
        images.append(pixels[:, :, ::-1].copy())
    render_s = (time.perf_counter() - clock) / max(n_rendered, 1)
    images += [np.full((640, 640, 3), 127, np.uint8) for _ in range(n_blank)]
    resolved = resolve_model(model)
    backend = load_backend(resolved, device=device)
    conf = float(resolved.card.conf) if resolved.card is not None and resolved.card.conf else 0.25
    options = DetectOptions(imgsz=640, conf=conf, iou=0.7, batch=len(images))

    def loaded() -> list[LoadedImage]:
        return [LoadedImage(str(i), crops=crops_from_pixels(p, p.shape[:2], imgsz=640, slicing=None))
                for i, p in enumerate(images)]

    detect_loaded(backend, loaded(), options=options, model_id=resolved.model_id)  # warm-up
    clock = time.perf_counter()
    detect_loaded(backend, loaded(), options=options, model_id=resolved.model_id)
    detect_s = (time.perf_counter() - clock) / len(images)
    return {"render_s_per_image": render_s, "detect_s_per_image": detect_s, "model": resolved.model_id,
            "n_images": len(images)}


def pilot_density(survey: Path) -> dict:
    """Density (cameras per road km, with its 95% interval) from a finished survey's report.json."""
    report_path = Path(survey) / "report.json"
    if not report_path.is_file():
        raise GeoInputError(f"--pilot {survey}: no report.json (run `camcensus estimate` on it first)")
    total = json.loads(report_path.read_text()).get("total") or {}
    per_km = total.get("per_road_km")
    if per_km is None or not per_km > 0:
        raise GeoInputError(f"--pilot {survey}: its report has no positive per_road_km estimate")
    return {"density_per_km": float(per_km), "lo": float(total.get("per_road_km_lo") or per_km),
            "hi": float(total.get("per_road_km_hi") or per_km), "cv": total.get("est_cv"), "survey": str(survey)}


def plan_calibration(model: str | None) -> tuple[object, str]:
    """The calibration a plan assumes: the model card's (held-out counts), else scalar figures."""
    from detector.registry import resolve_model
    from geo.counting.planning import calibration_for_plan

    resolved = resolve_model(model)
    card = resolved.card
    if card is not None and getattr(card, "calibration", None):
        return calibration_for_plan(card.calibration), f"{resolved.model_id} card calibration"
    precision = card.precision if card is not None and card.precision else 0.9
    recall = card.recall if card is not None and card.recall else 0.7
    return calibration_for_plan(None, precision=precision, recall=recall), f"{resolved.model_id} scalar figures"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_plan(area: str, *, target_pct: float | None = None, budget_usd: float | None = None,
             provider: str = "gsv", price_per_1000: float | None = None, rate_per_s: float | None = None,
             density: float | None = None, pilot: Path | None = None, networks: tuple[str, ...] = ("drive",),
             methods: tuple[str, ...] = ("systematic", "random"), spacings: tuple[float, ...] = (10, 20, 30, 40, 60),
             sides: tuple[str, ...] = ("both", "one", "random"), fovs: tuple[float, ...] = (60, 75, 90),
             pitches: tuple[float, ...] = (0, 10, 20), model: str | None = None, review: bool = False,
             measure: bool = True, say=print) -> dict:
    """Compare designs on ``area`` and recommend one (see the module docstring). Returns the plan
    as a dict: ``designs`` (every design's figures), ``recommended`` (or None), ``assumptions``."""
    from geo.counting.planning import (cost_usd, designs_from_grid, plainest, plan_area, predictions_for_designs,
                                       recommend)

    if (target_pct is None) == (budget_usd is None):
        raise GeoInputError("give one of --target-ci (half-width, % of the estimate) or --budget-usd")
    if target_pct is not None and not 0 < target_pct < 1000:
        raise GeoInputError(f"--target-ci must be a half-width above 0 % of the estimate, got {target_pct:g}")
    if budget_usd is not None and not budget_usd >= 0:
        raise GeoInputError(f"--budget-usd must be at least 0 US dollars, got {budget_usd:g}")
    if (density is None) == (pilot is None):
        raise GeoInputError("give one of --density (cameras per km of street) or --pilot DIR")
    if density is not None and not density > 0:
        raise GeoInputError(f"--density must be a positive number of cameras per km, got {density:g}")
    figures = provider_figures(provider, price_per_1000=price_per_1000, rate_per_s=rate_per_s)
    started = time.perf_counter()
    pilot_info = pilot_density(pilot) if pilot is not None else None
    assumed = pilot_info["lo"] if pilot_info else float(density)  # plan for the low end of a pilot's interval
    assumed = assumed if assumed > 0 else pilot_info["density_per_km"]
    designs = designs_from_grid(methods=methods, spacings=spacings, sides=sides, fovs=fovs, pitches=pitches,
                                networks=networks)  # bad options fail here, before any work
    calibration, cal_source = plan_calibration(model)
    areas = {}
    for network in networks:
        say(f"planning {area} ({network} network): streets, buildings and an assumed camera layout ...")
        areas[network] = plan_area(area, network=network)
    say(f"predicting {len(designs)} designs at {assumed:g} cameras per km ...")
    predictions = predictions_for_designs(areas, designs, calibration, density_per_km=assumed, review=review)
    from geo.counting.planning import self_calibration_for_plan  # issue 26: which designs measure recall

    say("predicting which spacings measure recall on their own ...")
    selfcal = self_calibration_for_plan(areas[networks[0]], calibration=calibration, cameras_per_km=assumed)
    timing = {"render_s_per_image": float("nan"), "detect_s_per_image": float("nan"), "model": model}
    if measure:
        say("measuring detect time on this machine ...")
        from geo.sim.scene import scene_from_area

        first = areas[networks[0]]
        timing = measure_image_seconds(scene_from_area(area, sim_cameras="random:10"), model=model)
        del first
    fetch_rate = figures.rate_per_s
    if fetch_rate is None:
        fetch_s = timing["render_s_per_image"] if provider == "simulated" else 0.0
    else:
        fetch_s = 1.0 / fetch_rate
    rows = []
    for pred in predictions:
        area_info = areas[pred.design.network]
        row = pred.to_dict()
        row["cost_usd"] = round(cost_usd(pred.images, price_per_1000=figures.price_per_1000), 2)
        row["fetch_s"] = pred.images * fetch_s if math.isfinite(fetch_s) else None
        row["detect_s"] = (pred.images * timing["detect_s_per_image"]
                           if math.isfinite(timing["detect_s_per_image"]) else None)
        row["road_km"] = area_info.road_km
        row["survey_options"] = pred.design.survey_options(road_m=area_info.road_m)
        row["command"] = " ".join(["camcensus", "survey", "--area", area, "--provider", provider]
                                  + pred.design.command_args(road_m=area_info.road_m))
        rows.append(row)
    if target_pct is not None:
        best = recommend(predictions, target_pct=target_pct)
    else:
        max_images = int(budget_usd * 1000.0 / figures.price_per_1000) if figures.price_per_1000 > 0 else 10 ** 12
        best = recommend(predictions, budget_images=max_images)
    meets = best is not None
    if best is None and target_pct is not None:  # none reaches the target: the narrowest, said so
        best = plainest(predictions)
    recommended = dict(rows[predictions.index(best)], meets_target=meets) if best is not None else None
    plan = {"area": area, "target_ci_pct": target_pct, "budget_usd": budget_usd,
            "provider": {"name": figures.name, "price_per_1000_usd": figures.price_per_1000,
                         "rate_per_s": figures.rate_per_s, "note": figures.note},
            "density_per_km": assumed, "pilot": pilot_info, "calibration": cal_source,
            "review": review, "timing": timing, "designs": rows, "recommended": recommended,
            "self_calibration": selfcal,
            "seconds": round(time.perf_counter() - started, 1)}
    if review and best is not None:  # issue 26 (unseen3): what the encounter leaves a review, card and unseen imagery
        from scripts.review.sampling import review_reach_for_plan

        plan["review_reach"] = review_reach_for_plan(areas[best.design.network], best.design, calibration,
                                                     density_per_km=assumed, target=(target_pct or 20.0) / 100.0)
    return plan


def plan_to_text(plan: dict, *, top: int = 12) -> str:
    """The plan as a table (the ``top`` cheapest designs meeting the target, or the narrowest
    within the budget), the recommended design always among the rows and marked with *, and
    the recommendation with the command that runs it."""
    shown = _rows_shown(plan, top=top)
    rec = plan.get("recommended")
    width = max([len("design")] + [len(r["label"]) for r in shown]) + 2
    header = (f"  {'design':<{width}}{'images':>7} {'cost $':>9} {'fetch':>7} {'detect':>7} "
              f"{'strip m (dir/dome)':>19} {'95% CI':>7}")
    lines = [_plan_heading(plan), header, "-" * len(header)]
    for r in shown:
        mark = "* " if rec is not None and r["label"] == rec["label"] else "  "
        strip = f"{r['strip_m'].get('directed', 0):.1f} / {r['strip_m'].get('dome', 0):.1f}"
        lines.append(f"{mark}{r['label']:<{width}}{r['images']:>7,} {r['cost_usd']:>9,.2f} "
                     f"{_duration(r['fetch_s'] if r['fetch_s'] is not None else float('nan')):>7} "
                     f"{_duration(r['detect_s'] if r['detect_s'] is not None else float('nan')):>7} {strip:>19} "
                     f"{'±' + format(r['ci_half_width_pct'], '.0f') + '%':>7}")
    if plan.get("self_calibration"):  # issue 26: which spacings measure recall on their own
        from geo.counting.planning import self_calibration_text

        lines.append(self_calibration_text(plan["self_calibration"]))
    lines += _recommendation_lines(plan)
    return "\n".join(lines)


def _rows_shown(plan: dict, *, top: int) -> list[dict]:
    """With a target: those meeting it, cheapest first, then the narrowest others; with a budget:
    the designs within it, narrowest first. The recommended design is always among them."""
    rows, target, budget = plan["designs"], plan.get("target_ci_pct"), plan.get("budget_usd")
    if target is not None:
        shown = sorted([r for r in rows if r["ci_half_width_pct"] <= target],
                       key=lambda r: (r["images"], r["ci_half_width_pct"]))
        shown += sorted([r for r in rows if r["ci_half_width_pct"] > target], key=lambda r: r["ci_half_width_pct"])
    else:
        within = [r for r in rows if budget is None or r["cost_usd"] <= budget + 1e-9]
        shown = sorted(within, key=lambda r: (r["ci_half_width_pct"], r["images"]))
    shown = shown[:top]
    rec = plan.get("recommended")
    if rec is not None and all(r["label"] != rec["label"] for r in shown):
        shown.append(next(r for r in rows if r["label"] == rec["label"]))
    return shown


def _plan_heading(plan: dict) -> str:
    rows, timing = plan["designs"], plan["timing"]
    detect = timing["detect_s_per_image"]
    measured = (f"detect {detect * 1000:.0f} ms per image, measured now on this machine (the detector timed on "
                "3 rendered and 2 blank 640 px images after a warm-up; it varies with the machine's load)"
                if math.isfinite(detect) else "detect time not measured (--no-measure)")
    budget = f"; designs within USD {plan['budget_usd']:g}" if plan.get("budget_usd") is not None else ""
    return (f"{plan['area']}: {rows[0]['road_km']:.1f} km of street, {plan['density_per_km']:g} cameras per km "
            f"assumed; {plan['provider']['name']} at USD {plan['provider']['price_per_1000_usd']:g} per 1,000 images"
            f"{budget}; {measured}; calibration: {plan['calibration']}"
            + (" + a review of the survey's own detections" if plan["review"] else ""))


def _recommendation_lines(plan: dict) -> list[str]:
    rec, target = plan.get("recommended"), plan.get("target_ci_pct")
    if rec is None:
        return ["no design fits the budget"]
    lines = []
    if target is not None and not rec.get("meets_target", True):
        lines.append(f"no design reaches ±{target:g}% here: the narrowest interval is recommended instead. "
                     "A larger area, a denser street network or a review (--review; camcensus review) narrows it.")
    if any(r["ci_half_width_pct"] < rec["ci_half_width_pct"] and r["images"] <= rec["images"] for r in plan["designs"]):
        lines.append("designs within 1 percentage point of the narrowest interval count as equal: the plainest of "
                     "them (pitch 0, the widest fov) is recommended")
    lines.append(f"* recommended: {rec['label']}: {rec['images']:,} images, USD {rec['cost_usd']:,.2f}, "
                 f"predicted 95% interval ±{rec['ci_half_width_pct']:.0f}% of about "
                 f"{rec['estimate']:.0f} cameras in the strip")
    lines.append(f"run it: {rec['command']}")
    if plan.get("review"):  # the review's expected size and a person's time for it
        from scripts.review.sampling import person_time_line, planned_review

        n_verify, n_audit = planned_review(rec["images"], rec["estimate"])
        lines.append(f"then review it: camcensus review DIR (about {n_verify} detections to verify and "
                     f"{n_audit:,} images to audit); " + person_time_line(n_verify, n_audit))
        from scripts.review.sampling import plan_reach_lines  # issue 26 (unseen3): what the encounter leaves

        lines += plan_reach_lines(plan.get("review_reach"))
    return lines


def options_from_plan(path: Path) -> dict:
    """The ``camcensus survey`` options of a plan.json's recommended design (``SurveyOptions``
    names: network, method, spacing, n, sides, fov, pitch)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise GeoInputError(f"--plan {path}: not a readable plan.json ({error})") from None
    rec = data.get("recommended") if isinstance(data, dict) else None
    options = (rec or {}).get("survey_options")
    if not isinstance(options, dict):
        raise GeoInputError(f"--plan {path}: it has no recommended design (write one with `camcensus plan --json`)")
    keep = ("network", "method", "spacing", "n", "sides", "fov", "pitch")
    out = {k: options.get(k) for k in keep if options.get(k) is not None}
    if data.get("area"):
        out["area"] = str(data["area"])
    return out


STANFORD = {"method": "random", "sides": "random", "fov": 90.0, "pitch": 0.0}  # Sheng, Yao, Goel 2021


def stanford_comparison(area: str, *, target_pct: float = 20.0, density: float = 3.0, road_km: float | None = None,
                        review: bool = True, model: str | None = None, corrections: dict | None = None,
                        fovs=(60.0, 75.0, 90.0), sides=("both", "one", "random"), methods=("systematic", "random"),
                        pitches=(0.0, 10.0, 20.0)) -> dict:
    """Images needed for a ±``target_pct``% interval at ``density`` cameras per km on ``area`` (or a
    city of ``road_km`` km of streets like it): Stanford's design (random points, one random side,
    fov 90, pitch 0; its number of points chosen) against the best camcensus design (every
    method, sides, fov and pitch, each with its spacing chosen), with ``corrections`` (measured /
    predicted half-width per "stanford" / "camcensus", from replicates) applied."""
    from geo.counting.planning import Design, images_needed, plan_area

    corrections = corrections or {}
    calibration, _ = plan_calibration(model)
    plan = plan_area(area)
    st_images, st_pred = images_needed(plan, Design(spacing_m=20.0, **STANFORD), calibration, target_pct=target_pct,
                                       density_per_km=density, road_km=road_km, review=review,
                                       correction=corrections.get("stanford", 1.0))
    best_images, best_pred = float("inf"), None
    for method in methods:
        for side in sides:
            for fov in fovs:
                for pitch in pitches:
                    design = Design(method=method, spacing_m=20.0, sides=side, fov=fov, pitch=pitch)
                    n, pred = images_needed(plan, design, calibration, target_pct=target_pct, density_per_km=density,
                                            road_km=road_km, review=review,
                                            correction=corrections.get("camcensus", 1.0))
                    tie = pred is not None and best_pred is not None and abs(n - best_images) < 0.5
                    if n < best_images - 0.5 or (tie and pitch < best_pred.design.pitch):
                        best_images, best_pred = n, pred
    return {"area": area, "road_km": road_km or plan.road_km, "density": density, "target_pct": target_pct,
            "review": review, "stanford_images": st_images,
            "stanford_design": st_pred.to_dict() if st_pred else None,
            "camcensus_images": best_images, "camcensus_design": best_pred.to_dict() if best_pred else None,
            "ratio": best_images / st_images if np.isfinite(st_images) and st_images > 0 else None}
