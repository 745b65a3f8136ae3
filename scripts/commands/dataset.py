"""`camcensus dataset ...`: build, convert and check YOLO datasets."""

import typer

from scripts.app import app

dataset_app = typer.Typer(help="Build, convert and check YOLO camera datasets.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
