"""`camcensus estimate DIR`: camera density per area with 95% intervals, and its exports."""

from pathlib import Path

import typer

from scripts.app import app
from scripts.survey.lock import holds_survey


@app.command()
@holds_survey("survey", command="camcensus estimate")  # one writer per survey directory
def estimate(
    survey: Path = typer.Argument(..., help="Survey directory (after detect; locate runs if needed)."),
    by: str = typer.Option("h3:9", "--by", help="Areas: h3:RES (H3 hexagons, resolution 0-15; h3:9 cells are "
                           "about 0.1 km²), grid:METRES (square cells), area (the whole survey as one) or a "
                           "polygons file (.geojson, .gpkg, .shp, .parquet; no CRS means EPSG:4326). The whole-area "
                           "total is always in report.json."),
    precision: float = typer.Option(None, "--precision", help="Detector precision at its threshold, 0-1. Default: "
                                    "the survey's review, else the model card's."),
    recall: float = typer.Option(None, "--recall", help="Detector recall at its threshold, 0-1. Default: the "
                                 "survey's review, else the model card's."),
    model: str = typer.Option(None, "--model", help="Model name or weights path whose card gives precision "
                              "and recall. Default: the model id recorded by detect."),
    population: Path = typer.Option(None, "--population", help="Population layer (polygons or points) "
                                    "for cameras per 1,000 people. Default: none."),
    population_field: str = typer.Option(None, "--population-field", help="Field of --population holding "
                                         "the number of people (required with --population). Default: none."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Monte Carlo draws for the calibration's intervals in "
                               "report.json (the estimate's interval is analytic)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap random seed."),
    strip: str = typer.Option("auto", "--strip", help="Half-width of the strip estimated, metres either side of "
                              "the streets the survey speaks for, or auto: per class, the largest distance at "
                              "which the design's inclusion probability stays at or above 0.15 of its best (from "
                              "the calibration's recall by box size, the views and the spacing). A fixed width "
                              "past that is warned about. Nothing outside the strip is estimated."),
    no_osm: bool = typer.Option(False, "--no-osm", help="Skip counting OSM-mapped cameras per area."),
    basemap: str = typer.Option(None, "--basemap", help="Online basemap under map.html: a tile URL with "
                                "{z}/{x}/{y}, or a name such as osm or OpenStreetMap.Mapnik. Default: none "
                                "(the page then requests nothing from anywhere)."),
) -> None:
    """Estimate camera density per area with 95% intervals.

    Density per area: road km, images, detections, unique cameras, the deduplicated estimate (b) and the
    Stanford rate estimate (a) with 95% intervals; writes density.geojson, density.parquet, survey.gpkg,
    map.html, density.png and report.json."""
    from geo.counting.estimate import estimate_survey, strip_from_option
    from scripts.survey.stages import estimate_calibration
    from scripts.survey.options import check_estimate
    from scripts.survey.report import calibration_line

    check_estimate(by=by, precision=precision, recall=recall, strip=strip, basemap=basemap,
                   population=population, population_field=population_field)  # before any table is read
    strip_value = strip_from_option(strip)
    calibration, precision, recall, model_info = estimate_calibration(survey, model=model, precision=precision,
                                                                      recall=recall)
    result = estimate_survey(survey, by=by, calibration=calibration, precision=precision, recall=recall,
                             strip=strip_value, model=model_info,
                             population=population, population_field=population_field, n_boot=n_boot,
                             seed=seed, osm=not no_osm, basemap=basemap)
    t = result.total
    rate = t["rate_estimator"]
    typer.echo(f"road km {t['road_km']:.1f} (surveyed {t['surveyed_km']:.1f}), images {t['n_images']:,}, "
               f"detections {t['n_detections']:,}, cameras located {t['n_cameras']:,}")
    typer.echo(f"estimated cameras {t['est_cameras']:.0f} (95% {t['est_lo']:.0f}-{t['est_hi']:.0f}), "
               f"{_num(t['per_road_km'])} per surveyed km; Stanford rate estimate {_num(rate['est_cameras'], 0)}")
    typer.echo(f"estimand: {result.report['estimand']}")
    typer.echo(calibration_line(result.report.get("calibration") or {}))
    for key in ("truth_cameras", "osm_cameras"):
        if t.get(key) is not None:
            typer.echo(f"{key.replace('_', ' ')}: {t[key]:.0f}")
    for note in result.report.get("warnings", []):
        typer.secho(f"warning: {note}", err=True, fg="yellow")
    for path in [*result.paths.values(), Path(survey) / "report.json"]:
        typer.echo(f"wrote {path}")


def _num(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
