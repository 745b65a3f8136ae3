"""`camcensus preview`: a contact sheet of a survey's images with their boxes drawn."""

from pathlib import Path

import typer

from scripts.app import app


@app.command()
def preview(
    survey: Path = typer.Argument(
        ..., help="Survey directory (images.parquet from `camcensus fetch`)."
    ),
    n: int = typer.Option(
        16, "--n", help="Number of images on the sheet (images with boxes first). Default 16."
    ),
    out: Path = typer.Option(None, "--out", help="PNG file to write. Default: SURVEY/preview.png."),
    boxes: str = typer.Option(
        "truth",
        "--boxes",
        help="Boxes to draw: truth (simulated ground truth), detections (from `camcensus "
        "detect`) or both (truth green, detections magenta: misses and false alarms at a glance). "
        "Default truth.",
    ),
    tile: int = typer.Option(
        320, "--tile", help="Size of one image on the sheet, pixels. Default 320."
    ),
) -> None:
    """Write a contact sheet of views with their boxes drawn.

    Write a contact sheet PNG: a grid of views, boxes drawn, with a magnified inset of the largest box
    of each view."""
    from geo.sim.preview import contact_sheet

    path = contact_sheet(survey, n=n, boxes=boxes, out=out, tile=tile)
    typer.echo(f"wrote {path}")
