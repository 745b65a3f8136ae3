"""`camcensus sample`: viewpoints along the area's streets (points.parquet, views.parquet)."""

from pathlib import Path

import typer

from scripts.app import app
from scripts.commands.vocabulary import SIDES, SIDES_HELP
from scripts.survey.lock import holds_survey


@app.command()
@holds_survey("out", command="camcensus sample")  # one writer per survey directory
def sample(
    area: str = typer.Option("demo", "--area", help="Area: 'demo' (central Helsinki, bundled), "
                             "an .osm.pbf / .osm / .osm.bz2 / .graphml file, bbox:W,S,E,N (degrees) "
                             "or a place name (needs network)."),
    out: Path = typer.Option(Path("survey"), "--out", help="Survey directory to write into."),
    network: str = typer.Option("drive", "--network", help="Street type: drive, all or walk."),
    method: str = typer.Option("systematic", "--method",
                               help="systematic (a point every --spacing m) or random (Stanford)."),
    spacing: float = typer.Option(20.0, "--spacing", help="Metres between points (systematic)."),
    n: int = typer.Option(None, "--n", help="Number of points (random method; required there). Default: none."),
    seed: int = typer.Option(0, "--seed", help="Random seed (start offsets, random points, sides)."),
    min_gap: float = typer.Option(None, "--min-gap",
                                  help="Metres: drop points closer than this at junctions. Default: off."),
    sides: str = typer.Option("both", "--sides", metavar="|".join(SIDES), help=f"Views per point: {SIDES_HELP}."),
    along: bool = typer.Option(False, "--along", help="Also look forward and backward along the street."),
    fov: float = typer.Option(90.0, "--fov", help="Horizontal field of view, degrees."),
    pitch: float = typer.Option(0.0, "--pitch", help="Camera pitch, degrees (0 = horizontal)."),
) -> None:
    """Sample viewpoints along the streets of an area.

    Sample viewpoints along every street of an area (each two-way street once)."""
    from geo.streets.sampling import sample_survey

    result = sample_survey(out, area=area, network_type=network, method=method, spacing=spacing,
                           n=n, seed=seed, min_gap=min_gap, sides=sides, along=along, fov=fov,
                           pitch=pitch)
    if result.skipped:
        typer.echo(f"sample: already done in {out} (same parameters), skipped")
    typer.echo(f"road km: {result.road_km:.2f}  points: {result.n_points:,}  views: {result.n_views:,}")
    for path in result.paths.values():
        typer.echo(f"wrote {path}")
