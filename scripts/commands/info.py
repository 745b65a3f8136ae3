"""`camcensus info SURVEY`: what a survey holds, like ``ogrinfo``."""

from pathlib import Path

import typer

from scripts.app import app


@app.command()
def info(
    survey: Path = typer.Argument(..., help="Survey directory."),
    json_out: bool = typer.Option(False, "--json", help="Print the same as JSON (for scripts)."),
) -> None:
    """Show what a survey holds: stages, rows, estimate, files.

    Reads only: nothing in the survey changes. The card check and calibration are those of
    report.json (written by `camcensus estimate`)."""
    import json

    from scripts.survey.info import info_from_survey, info_to_text

    found = info_from_survey(survey)
    typer.echo(json.dumps(found, indent=2, default=str) if json_out else info_to_text(found))
