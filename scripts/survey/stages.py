"""The stages of a survey as one call each, shared by `camcensus survey` and the stage commands.

Each function takes the survey directory and the survey's options, calls the stage's library
function (which is itself resumable) and returns a one-line account of what it did.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scripts import survey_dir
from scripts import survey_dir as survey_dir_files
if TYPE_CHECKING:
    from scripts.survey.options import SurveyOptions


def sample_stage(survey_dir: Path, o: SurveyOptions) -> str:
    """The street network, sample points and views of the survey's area."""
    from geo.streets.sampling import sample_survey

    done = sample_survey(survey_dir, area=o.area, network_type=o.network, method=o.method,
                         spacing=o.spacing, n=o.n, seed=o.seed, min_gap=o.min_gap, sides=o.sides,
                         along=o.along, fov=o.fov, pitch=o.pitch)
    return f"{done.road_km:.1f} road km, {done.n_points:,} points, {done.n_views:,} views"


def fetch_stage(survey_dir: Path, options: SurveyOptions) -> str:
    """Images for every view: the simulator, the user's own images (local) or a real provider
    with its credentials from the options or the environment (MAPILLARY_TOKEN, GOOGLE_MAPS_API_KEY)."""
    if options.provider == "simulated":
        from geo.sim.survey import simulate_survey

        table = simulate_survey(survey_dir, area=None, sim_cameras=options.sim_cameras,
                                seed=options.seed, width=options.size, height=options.size,
                                workers=options.workers, style=options.style)
        counts = table["status"].value_counts().to_dict()
    else:
        from geo.imagery.fetch import FetchOptions, fetch_survey
        from geo.imagery.providers import provider_from_name

        settings = provider_settings(
            options.provider, endpoint=options.endpoint, key=options.key, token=options.token, size=options.size,
            images=Path(options.images) if options.images else None,
            manifest=Path(options.manifest) if options.manifest else None)
        result = fetch_survey(survey_dir, provider=provider_from_name(options.provider, **settings),
                              options=FetchOptions(workers=options.workers or 4, rate=options.rate,
                                                   size=options.size))
        counts = result.counts
    return ", ".join(f"{counts.get(s, 0):,} {s}" for s in ("ok", "no_imagery", "error"))


def provider_settings(provider: str, *, endpoint: str | None = None, key: str | None = None,
                      token: str | None = None, secret: str | None = None, radius: float | None = None,
                      heading_tol: float = 45.0, size: int = 640, images: Path | None = None,
                      manifest: Path | None = None, as_is: bool = False) -> dict:
    """Settings of a real provider: credentials from the arguments, else the environment
    (GOOGLE_MAPS_API_KEY, GOOGLE_MAPS_URL_SECRET, MAPILLARY_TOKEN); search radius in metres
    (default 50 for gsv, 20 otherwise), heading tolerance in degrees, image side in pixels."""
    import os

    if provider == "gsv":
        return {"key": key or os.environ.get("GOOGLE_MAPS_API_KEY"), "endpoint": endpoint,
                "secret": secret or os.environ.get("GOOGLE_MAPS_URL_SECRET"),
                "radius": radius or 50.0, "size": size}
    if provider == "mapillary":
        return {"token": token or os.environ.get("MAPILLARY_TOKEN"), "endpoint": endpoint,
                "radius": radius or 20.0, "heading_tol": heading_tol, "size": size}
    return {"images": images, "manifest": manifest, "radius": radius or 20.0,
            "heading_tol": heading_tol, "as_is": as_is}


def detect_stage(survey_dir: Path, options: SurveyOptions) -> str:
    """Detections on every fetched image, with the survey's model."""
    from detector.detect import detect_images
    from scripts.commands.vocabulary import device_from_option, torch_device

    summary = detect_images(survey_dir, model=options.model, device=torch_device(device_from_option(options.device)),
                            precision=options.dtype, batch=options.batch, conf=options.conf, iou=options.iou,
                            imgsz=options.imgsz, slice=options.slice)
    rate = summary.get("images_per_second")
    return (f"{summary['detections']:,} detections on {summary['ok']:,} images"
            + (f" ({summary['failed']:,} failed)" if summary["failed"] else "")
            + (f", {rate:.1f} img/s on {summary['device']}" if rate else ""))


def locate_stage(survey_dir: Path, options: SurveyOptions) -> str:
    """Unique cameras from the detections."""
    from geo.counting.locate import locate_survey

    cameras = locate_survey(survey_dir, buildings="auto", overwrite=True)
    return f"{len(cameras):,} unique cameras"


def estimate_stage(survey_dir: Path, options: SurveyOptions) -> str:
    """Density per area and the exports (density.*, map.html, report.json)."""
    from geo.counting.estimate import estimate_survey, strip_from_option

    strip = strip_from_option(options.strip)  # "auto" (per class, from the design) or metres
    calibration, precision, recall, model_info = estimate_calibration(
        survey_dir, model=options.model, precision=options.precision, recall=options.recall)
    result = estimate_survey(survey_dir, by=options.by, calibration=calibration, precision=precision,
                             recall=recall, strip=strip, model=model_info, population=options.population,
                             population_field=options.population_field, basemap=options.basemap)
    total = result.total
    return (f"{total['est_cameras']:.0f} cameras (95% {total['est_lo']:.0f}-{total['est_hi']:.0f}): "
            f"{result.report['estimand']}")


def compare_stage(survey_dir: Path, options: SurveyOptions) -> str:
    """The survey against the OSM cameras of its area (``geo.counting.osm_compare``): osm_compare.*,
    the mappers' exports and map.html's OSM layers, with the estimate's calibration and strip. An
    area without OSM cameras (or whose cameras cannot be read) is noted, not an error."""
    from geo.counting.osm_compare import compare_survey
    from geo.errors import GeoInputError

    calibration, precision, recall, _ = estimate_calibration(
        survey_dir, model=options.model, precision=options.precision, recall=options.recall)
    try:
        result = compare_survey(survey_dir, calibration=calibration, precision=precision, recall=recall)
    except GeoInputError as error:
        return f"no comparison with OSM: {error}"
    refresh_geopackage(survey_dir)
    c = result.summary["counts"]
    return (f"OSM: {c['confirmed']:,} confirmed, {c['new']:,} new, {c['unseen']:,} unseen, "
            f"{c['outside']:,} outside the strip")


def refresh_geopackage(survey_dir: Path) -> Path | None:
    """Write survey.gpkg again (with the OSM comparison's layer) where estimate wrote one."""
    from geo.outputs.geopackage import geopackage_from_survey

    if not (Path(survey_dir) / survey_dir_files.GEOPACKAGE).exists():
        return None
    return geopackage_from_survey(survey_dir)


def estimate_calibration(survey: Path, *, model: str | None, precision: float | None, recall: float | None
                         ) -> tuple[dict | None, float | None, float | None, dict]:
    """(calibration, precision, recall, model info) for the estimator: precision and recall given
    as options win (scalar figures); else the survey's review (``review_calibration``); else the
    model card's ``calibration``; else the card's scalar precision/recall (the estimator then
    takes them as measured on ``geo.counting.calibration.NOMINAL_N`` detections and cameras)."""
    precision, recall, info = model_figures(survey, model=model, precision=precision, recall=recall)
    card_cal = info.pop("card_calibration", None)
    if info.get("source") == "options":
        return None, precision, recall, info
    calibration = review_calibration(Path(survey))
    if calibration is not None:
        info["source"] = "review"
    elif isinstance(card_cal, dict) and card_cal.get("precision_bins"):
        calibration = {**card_cal, "source": "card"}
        info["source"] = "model card calibration"
    return calibration, precision, recall, info


def review_calibration(survey: Path) -> dict | None:
    """The survey's review as a calibration dict (``scripts.review.calibration_from_review``),
    or None when there is no review (or no review module)."""
    try:
        from scripts.review import calibration_from_review
    except ImportError:
        try:
            from scripts.review.calibration import calibration_from_review
        except ImportError:
            return None
    found = calibration_from_review(survey)
    return found if isinstance(found, dict) else None


def model_figures(survey: Path, *, model: str | None, precision: float | None, recall: float | None
                  ) -> tuple[float | None, float | None, dict]:
    """Precision and recall: the options first, else the model card of ``model`` or of the model
    id that detect recorded (detect_summary.json, then the detections' model_id column). The
    card's ``calibration`` (when it has one) is in the info under ``card_calibration``."""
    info: dict = {"model_id": None, "card": None, "source": "options"}
    if precision is not None and recall is not None:
        return precision, recall, info
    model_id = model or survey_dir.recorded_model_id(Path(survey))
    info["model_id"] = model_id
    if model_id:
        from detector.card import read_card
        from detector.errors import DetectorInputError
        from detector.registry import default_models_dir, resolve_model

        card = None
        try:
            card = resolve_model(model_id).card
        except DetectorInputError as error:
            card_path = default_models_dir() / f"{model_id}.md"
            if card_path.is_file():  # the card alone is enough for its figures
                card = read_card(card_path)
            elif model:  # named by the user: a bad name is an error
                raise
            else:
                info["card_error"] = str(error)
        if card is not None:
            info.update(card=card.name, card_precision=card.precision,
                        card_recall=card.recall, card_conf=card.conf, source="model card")
            if getattr(card, "calibration", None):
                info["card_calibration"] = card.calibration
            precision = card.precision if precision is None else precision
            recall = card.recall if recall is None else recall
    return precision, recall, info
