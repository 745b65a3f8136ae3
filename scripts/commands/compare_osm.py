"""`camcensus compare-osm DIR`: the survey against the OpenStreetMap cameras of its area."""

from pathlib import Path

import typer

from scripts.app import app
from scripts.survey.lock import holds_survey


@app.command("compare-osm")
@holds_survey("survey", command="camcensus compare-osm")  # one writer per survey directory
def compare_osm(
    survey: Path = typer.Argument(..., help="Survey directory (after locate; after estimate the strip and "
                                  "map.html are the estimate's)."),
    strip: str = typer.Option("auto", "--strip", help="Half-width of the strip around the surveyed streets, "
                              "metres, or auto (the estimate's, from report.json; else 20): OSM cameras outside "
                              "it are 'outside'."),
    precision: float = typer.Option(None, "--precision", help="Detector precision, 0-1, for P(real). Default: "
                                    "the survey's review, else the model card's calibration."),
    recall: float = typer.Option(None, "--recall", help="Detector recall, 0-1, for p_find. Default: the "
                                 "survey's review, else the model card's calibration."),
    model: str = typer.Option(None, "--model", help="Model whose card calibrates P(real) and p_find. "
                              "Default: the model id recorded by detect."),
    no_crops: bool = typer.Option(False, "--no-crops", help="Leave out the evidence crops (faster). "
                                  "Default: up to 3 crops per located camera."),
) -> None:
    """Compare the located cameras with OpenStreetMap's.

    Compare the located cameras with the OSM cameras (man_made=surveillance) of the survey's area:
    confirmed, new (not in OSM, with P(real) and crops), unseen (mapped inside the strip, not found,
    with the probability p_find that the survey would have found it) and outside. Writes
    osm_compare.geojson / .parquet, a JOSM GeoJSON of new candidates, MapRoulette challenge files, the
    OSM layers of map.html and report.json's osm_compare. Candidates are evidence for a person to check,
    never edits: nothing is uploaded."""
    from geo.counting.estimate import strip_from_option
    from geo.counting.osm_compare import compare_survey
    from scripts.survey.stages import estimate_calibration, refresh_geopackage

    strip_m = strip_from_option(strip)  # "auto" or metres, as on `camcensus estimate`
    calibration, precision, recall, _ = estimate_calibration(survey, model=model, precision=precision,
                                                             recall=recall)
    result = compare_survey(survey, calibration=calibration, precision=precision, recall=recall,
                            strip=None if strip_m == "auto" else strip_m,
                            crops=not no_crops)
    typer.echo(compare_text(result.summary))
    gpkg = refresh_geopackage(survey)
    if gpkg is not None:
        typer.echo(f"wrote {gpkg} (its osm_compare layer)")
    for name, path in result.paths.items():
        typer.echo(f"wrote {path}" if name != "crops" else f"wrote crops in {path}")


def compare_text(summary: dict) -> str:
    """One line of counts by status."""
    c = summary["counts"]
    agree = summary["class_agreement"]
    return (f"{summary['n_osm_cameras']:,} OSM cameras, {summary['n_located']:,} located: "
            f"{c['confirmed']:,} confirmed, {c['new']:,} new ({summary['new_p_real_at_least']['n']:,} with "
            f"P(real) >= {summary['new_p_real_at_least']['threshold']:g}), {c['unseen']:,} unseen "
            f"({summary['unseen_p_find_at_least']['n']:,} with p_find >= "
            f"{summary['unseen_p_find_at_least']['threshold']:g}), {c['outside']:,} outside the strip"
            + (f"; class agrees with OSM for {agree['n_agree']}/{agree['n_known']} confirmed"
               if agree["n_known"] else ""))
