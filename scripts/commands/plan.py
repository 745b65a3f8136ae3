"""`camcensus plan`: what a survey will cost and how precise it will be, before any imagery is fetched."""

from pathlib import Path

import typer

from scripts.app import app
from scripts.commands.vocabulary import SIDES_HELP


def _floats(text: str, what: str) -> tuple[float, ...]:
    from geo.errors import GeoInputError

    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise GeoInputError(f"{what} must be a comma list of numbers, got '{text}'") from None
    if not values:
        raise GeoInputError(f"{what} is empty")
    return values


def _plan_sides(text: str) -> tuple[str, ...]:
    """--sides words (``scripts.commands.vocabulary.SIDES``) as the planner's: left or right -> one."""
    from scripts.commands.vocabulary import sides_from_option

    planned = [{"left": "one", "right": "one"}.get(w, w) for w in map(sides_from_option, _names(text))]
    return tuple(dict.fromkeys(planned))


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


@app.command()
def plan(
    area: str = typer.Option("demo", "--area", help="demo, an .osm.pbf / .osm / .osm.bz2 / .graphml file, "
                             "bbox:W,S,E,N (degrees) or a place name. Default: demo."),
    target_ci: float = typer.Option(None, "--target-ci", help="Wanted half-width of the 95% interval, % of "
                                    "the estimate (e.g. 20). Give this or --budget-usd. Default: none."),
    budget_usd: float = typer.Option(None, "--budget-usd", help="Imagery budget, US dollars: the table shows "
                                     "the designs within it, narrowest first. Give this or --target-ci. "
                                     "Default: none."),
    provider: str = typer.Option("gsv", "--provider", help="gsv, mapillary, simulated or local."),
    price_per_1000: float = typer.Option(None, "--price-per-1000", help="US dollars per 1,000 images. Default: "
                                         "the provider's published list price (gsv 7.00, others 0)."),
    rate: float = typer.Option(None, "--rate", help="Provider's rate limit, images per second. Default: "
                               "its published limit (gsv 500, mapillary 167; simulated: measured)."),
    density: float = typer.Option(None, "--density", help="Assumed cameras per km of street (of the drive "
                                  "network, whichever network the views use). Give this or --pilot. "
                                  "Default: none."),
    pilot: Path = typer.Option(None, "--pilot", help="A finished survey (with report.json) whose estimate gives "
                               "the density (the low end of its 95% interval is planned for). Give this or "
                               "--density. Default: none."),
    method: str = typer.Option("systematic,random", "--method", help="Sampling methods to compare, comma list."),
    spacing: str = typer.Option("10,20,30,40,60", "--spacing", help="Metres between points (random: metres of "
                                "street per point), comma list; systematic ones multiples of 5."),
    sides: str = typer.Option("both,left,random", "--sides", help=f"Views per point, comma list: {SIDES_HELP}; "
                              "left and right plan alike."),
    fov: str = typer.Option("60,75,90", "--fov", help="Horizontal fields of view, degrees (30-120), comma list."),
    pitch: str = typer.Option("0,10,20", "--pitch", help="Pitches, degrees up, comma list."),
    network: str = typer.Option("drive", "--network", help="Street networks to compare: drive, all (comma list)."),
    model: str = typer.Option(None, "--model", help="Detector whose card gives recall by size and false "
                              "detections per image, and whose speed is measured. Default: the shipped model."),
    review: bool = typer.Option(False, "--review", help="Plan for a survey calibrated by a review of its own "
                                "detections (camcensus review) instead of the model card alone."),
    no_measure: bool = typer.Option(False, "--no-measure", help="Skip measuring detect time on this machine."),
    top: int = typer.Option(12, "--top", help="Designs shown in the table (all go to --json)."),
    json_out: Path = typer.Option(None, "--json", help="Write the plan here: {\"designs\": [...], "
                                  "\"recommended\": {...}}; `camcensus survey --plan FILE` runs the recommended "
                                  "one. Default: not written."),
) -> None:
    """Compare survey designs: cost, time and predicted interval.

    Compare survey designs (spacing, sides, method, fov, pitch, network) on an area: images, cost, fetch
    and detect time, the strip each can speak for and its predicted 95% interval; recommend the cheapest
    that meets --target-ci (or the narrowest within --budget-usd)."""
    import json

    from scripts.survey.plan import plan_to_text, run_plan

    result = run_plan(area, target_pct=target_ci, budget_usd=budget_usd, provider=provider,
                      price_per_1000=price_per_1000, rate_per_s=rate, density=density, pilot=pilot,
                      networks=_names(network), methods=_names(method), spacings=_floats(spacing, "--spacing"),
                      sides=_plan_sides(sides), fovs=_floats(fov, "--fov"), pitches=_floats(pitch, "--pitch"),
                      model=model, review=review, measure=not no_measure, say=lambda m: typer.echo(m, err=True))
    typer.echo(plan_to_text(result, top=top))
    if json_out is not None:
        from geo.io import write_text

        write_text(json_out, json.dumps(result, indent=1, default=float))
        typer.echo(f"wrote {json_out}")
