"""`camcensus survey`: every stage, resumable, options kept in DIR/survey.toml."""

from pathlib import Path

import typer

from detector.registry import DEFAULT_MODEL
from scripts.app import app


@app.command()
def survey(
    out: Path = typer.Option(Path("survey"), "--out", help="Survey directory. If it holds a "
                             "survey.toml, its options are used for anything not given here."),
    area: str = typer.Option(None, "--area", help="demo, an .osm.pbf / .osm / .osm.bz2 / .graphml "
                             "file, bbox:W,S,E,N (degrees) or a place name. Default: demo."),
    provider: str = typer.Option(None, "--provider", help="Imagery: simulated, mapillary "
                                 "(MAPILLARY_TOKEN) or gsv (GOOGLE_MAPS_API_KEY). Default: simulated."),
    model: str = typer.Option(None, "--model", help="Detector: a name in models/, a .pt, .onnx "
                              "or *_openvino_model. Default: the shipped model, " + DEFAULT_MODEL + "."),
    network: str = typer.Option(None, "--network", help="Streets: drive, all or walk. Default: drive."),
    spacing: float = typer.Option(None, "--spacing", help="Metres between viewpoints. Default: 20."),
    method: str = typer.Option(None, "--method", help="systematic or random. Default: systematic."),
    n: int = typer.Option(None, "--n", help="Number of points for --method random. Default: none."),
    seed: int = typer.Option(None, "--seed", help="Seed of sampling and simulation. Default: 0."),
    sides: str = typer.Option(None, "--sides", help="both, left, right or random. Default: both."),
    fov: float = typer.Option(None, "--fov", help="Horizontal field of view of each view, degrees. Default: 90."),
    pitch: float = typer.Option(None, "--pitch", help="Pitch of each view, degrees up. Default: 0."),
    plan: Path = typer.Option(None, "--plan", help="A plan.json from `camcensus plan --json`: its recommended "
                              "design (area, network, method, spacing, n, sides, fov, pitch) for the options "
                              "not given here. Default: none."),
    sim_cameras: str = typer.Option(None, "--sim-cameras", help="Simulated cameras: osm, "
                                    "random:D[:SEED] (per road km) or a GeoJSON. Default: osm for "
                                    "demo, else random:1."),
    size: int = typer.Option(None, "--size", help="Image side, pixels. Default: 640."),
    endpoint: str = typer.Option(None, "--endpoint", help="Base URL replacing the provider's API. Default: the real API."),
    workers: int = typer.Option(None, "--workers", help="Render processes / concurrent requests. "
                                "Default: CPU count (simulated), 4 (real providers)."),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N or mps. Default: auto."),
    batch: int = typer.Option(None, "--batch", help="Images per detection batch. Default: 16."),
    conf: float = typer.Option(None, "--conf", help="Detection threshold, 0-1. Default: the card's."),
    imgsz: int = typer.Option(None, "--imgsz", help="Detector input size, pixels. Default: 640."),
    slice: str = typer.Option(None, "--slice", help="Sliced inference SIZE:OVERLAP (px, fraction), "
                              "e.g. 320:0.2. Default: off."),
    by: str = typer.Option(None, "--by", help="Density areas: h3:RES, grid:METRES, area (the whole "
                           "survey as one) or a polygons file. Default: h3:9 (plus the whole-area total)."),
    precision: float = typer.Option(None, "--precision", help="Detector precision, 0-1. "
                                    "Default: the model card's."),
    recall: float = typer.Option(None, "--recall", help="Detector recall, 0-1. Default: the card's."),
    strip: str = typer.Option(None, "--strip", help="Half-width of the strip estimated, metres either side "
                              "of the streets, or auto (per class, where the design's inclusion probability "
                              "falls under 0.15 of its best). Default: auto."),
    population: str = typer.Option(None, "--population", help="Population layer for cameras per "
                                   "1,000 people. Default: none."),
    population_field: str = typer.Option(None, "--population-field", help="Field of --population "
                                         "holding the number of people. Default: none."),
    basemap: str = typer.Option(None, "--basemap", help="Online basemap under map.html: a tile URL with "
                                "{z}/{x}/{y}, or a name such as osm. Default: none (the page requests "
                                "nothing from anywhere)."),
) -> None:
    """Run sample, fetch, detect, locate and estimate into one directory. Interrupt it at any
    time and run the same command again: finished stages are skipped."""
    from scripts.survey.run import run_survey
    from scripts.survey.options import options_from_toml
    from scripts.survey.report import print_summary

    if strip is not None:  # "auto" or metres, checked before anything runs
        from geo.counting.estimate import strip_from_option

        strip = strip_from_option(strip)
    given = dict(area=area, provider=provider, model=model, network=network, spacing=spacing,
                 method=method, n=n, seed=seed, sides=sides, sim_cameras=sim_cameras, size=size,
                 endpoint=endpoint, workers=workers, device=device, batch=batch, conf=conf,
                 imgsz=imgsz, slice=slice, by=by, precision=precision, recall=recall, strip=strip,
                 population=population, population_field=population_field, basemap=basemap, fov=fov, pitch=pitch)
    if plan is not None:
        from scripts.survey.plan import options_from_plan

        given.update({k: v for k, v in options_from_plan(plan).items() if given.get(k) is None})
    options = options_from_toml(out / "survey.toml", **given)
    if basemap:
        from geo.outputs.mapview import basemap_from_spec

        basemap_from_spec(basemap)  # a bad --basemap fails before the survey runs
    result = run_survey(out, options, say=typer.echo)
    print_summary(result)
