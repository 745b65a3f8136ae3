"""`camcensus survey`: every stage, resumable, options kept in DIR/survey.toml."""

from pathlib import Path

import typer

from detector.registry import DEFAULT_MODEL
from scripts.app import app
from scripts.commands.vocabulary import DETECT_DTYPES, DEVICE_HELP, SIDES, SIDES_HELP

_LOCAL = "Local provider: "


@app.command()
def survey(
    out: Path = typer.Option(Path("survey"), "--out", help="Survey directory. If it holds a survey.toml, its "
                             "options are used for anything not given here."),
    area: str = typer.Option(None, "--area", help="demo, an .osm.pbf / .osm / .osm.bz2 / .graphml file, "
                             "bbox:W,S,E,N (degrees) or a place name. Default: demo."),
    plan: Path = typer.Option(None, "--plan", help="A plan.json from `camcensus plan --json`: its recommended "
                              "design (area, network, method, spacing, n, sides, fov, pitch) for the options "
                              "not given here. Default: none."),
    # sample
    network: str = typer.Option(None, "--network", help="Streets: drive, all or walk. Default: drive."),
    method: str = typer.Option(None, "--method", help="systematic or random. Default: systematic."),
    spacing: float = typer.Option(None, "--spacing", help="Metres between viewpoints. Default: 20."),
    n: int = typer.Option(None, "--n", help="Number of points for --method random. Default: none "
                       "(required with --method random)."),
    seed: int = typer.Option(None, "--seed", help="Seed of sampling and simulation. Default: 0."),
    min_gap: float = typer.Option(None, "--min-gap", help="Metres: drop points closer than this at junctions. "
                                  "Default: off."),
    sides: str = typer.Option(None, "--sides", metavar="|".join(SIDES),
                              help=f"Views per point: {SIDES_HELP}. Default: both."),
    along: bool = typer.Option(False, "--along", help="Also look forward and backward along the street."),
    fov: float = typer.Option(None, "--fov", help="Horizontal field of view of each view, degrees. Default: 90."),
    pitch: float = typer.Option(None, "--pitch", help="Pitch of each view, degrees up. Default: 0."),
    # fetch
    provider: str = typer.Option(None, "--provider", help="Imagery: simulated, local (your own images: "
                                 "--images, with --manifest or EXIF), mapillary or gsv. Default: simulated."),
    images: Path = typer.Option(None, "--images", help=_LOCAL + "folder of your own images (required there), "
                                "matched to the views by position and direction. Default: none."),
    manifest: Path = typer.Option(None, "--manifest", help=_LOCAL + "CSV or Parquet of path (relative to --images), "
                                  "lon, lat, heading [, fov, pitch, captured_at]. Default: read EXIF."),
    key: str = typer.Option(None, "--key", help="Google Maps API key (gsv). Default: $GOOGLE_MAPS_API_KEY. "
                            "Never written anywhere."),
    token: str = typer.Option(None, "--token", help="Mapillary access token. Default: $MAPILLARY_TOKEN. "
                              "Never written anywhere."),
    endpoint: str = typer.Option(None, "--endpoint", help="Base URL replacing the provider's API (mirrors, "
                                 "tests). Default: the real API."),
    rate: float = typer.Option(None, "--rate", help="Requests per second at most, all workers together; "
                               "0 = unlimited. Default: 10."),
    workers: int = typer.Option(None, "--workers", help="Render processes / concurrent requests. Default: CPU "
                                "count (simulated), 4 (real providers)."),
    size: int = typer.Option(None, "--size", help="Image side, pixels. Default: 640."),
    sim_cameras: str = typer.Option(None, "--sim-cameras", help="Simulated cameras: osm, random:D[:SEED] (per "
                                    "road km) or a GeoJSON. Default: osm for demo, else random:1."),
    style: str = typer.Option(None, "--style", help="Simulated: the renderer's look, default or alt (a look "
                              "never used in training). Default: default."),
    # detect
    model: str = typer.Option(None, "--model", help="Detector: a name in models/, a .pt, .onnx or "
                              f"*_openvino_model. Default: the shipped model, {DEFAULT_MODEL}."),
    device: str = typer.Option(None, "--device", help=DEVICE_HELP + " Default: auto."),
    dtype: str = typer.Option(None, "--dtype", metavar="|".join(DETECT_DTYPES),
                              help="Number format of the network: auto, fp32, fp16 or bf16 "
                              "(as `camcensus detect`). Default: auto."),
    batch: int = typer.Option(None, "--batch", help="Images per detection batch. Default: 16."),
    conf: float = typer.Option(None, "--conf", help="Detection threshold, 0-1. Default: the card's."),
    iou: float = typer.Option(None, "--iou", help="IoU threshold of non-maximum suppression, 0-1. Default: 0.7."),
    imgsz: int = typer.Option(None, "--imgsz", help="Detector input size, pixels. Default: the card's, else "
                              "the model's training size, else 640."),
    slice: str = typer.Option(None, "--slice", help="Sliced inference SIZE:OVERLAP (px, fraction), e.g. "
                              "320:0.2. Default: off."),
    # estimate
    by: str = typer.Option(None, "--by", help="Density areas: h3:RES, grid:METRES, area (the whole survey as "
                           "one) or a polygons file. Default: h3:9 (plus the whole-area total)."),
    precision: float = typer.Option(None, "--precision", help="Detector precision, 0-1. Default: the survey's "
                                    "review, else the model card's."),
    recall: float = typer.Option(None, "--recall", help="Detector recall, 0-1. Default: the survey's review, "
                                 "else the model card's."),
    strip: str = typer.Option(None, "--strip", help="Half-width of the strip estimated, metres either side of "
                              "the streets, or auto (per class, where the design's inclusion probability falls "
                              "under 0.15 of its best). Default: auto."),
    population: str = typer.Option(None, "--population", help="Population layer for cameras per 1,000 people. "
                                   "Default: none."),
    population_field: str = typer.Option(None, "--population-field", help="Field of --population holding the "
                                         "number of people. Default: none."),
    basemap: str = typer.Option(None, "--basemap", help="Online basemap under map.html: a tile URL with "
                                "{z}/{x}/{y}, or a name such as osm. Default: none (the page requests nothing "
                                "from anywhere)."),
) -> None:
    """Run every stage into one survey directory; resumable.

    Interrupt it at any time and run the same command again: finished stages are skipped. Every
    option is checked before anything is loaded or written; the options are kept in
    OUT/survey.toml (credentials never are)."""
    given = {name: value for name, value in locals().items() if name not in ("out", "plan")}
    from scripts.survey.options import options_from_command
    from scripts.survey.report import print_summary
    from scripts.survey.run import run_survey

    options = options_from_command(out, plan=plan, **given)
    print_summary(run_survey(out, options, say=typer.echo))
