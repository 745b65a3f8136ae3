"""`camcensus dataset from-review`: a survey's review answers as a YOLO dataset."""

from pathlib import Path

import typer

from scripts.commands.dataset import dataset_app


@dataset_app.command("from-review")
def from_review(
    survey: Path = typer.Argument(..., help="A reviewed survey directory (`camcensus review` first)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (images/, labels/, data.yaml)."),
    tile: int = typer.Option(320, "--tile", help="Side of the crops around verified and rejected "
                             "detections, pixels. Default 320."),
    val_fraction: float = typer.Option(0.2, "--val-fraction", help="Share of the images held out for val "
                                       "(by image). Default 0.2."),
    seed: int = typer.Option(0, "--seed", help="Seed of the crop placement. Default 0."),
) -> None:
    """Turn a survey's review answers into a YOLO dataset.

    Audited images whole (every camera labelled), crops around confirmed detections, and rejected
    detections as hard-negative crops -> a YOLO dataset for fine-tuning."""
    from scripts.review.dataset import dataset_from_review

    result = dataset_from_review(survey, out, tile=tile, val_fraction=val_fraction, seed=seed)
    typer.echo("examples: " + ", ".join(f"{k} {v}" for k, v in sorted(result.examples.items())))
    for split in ("train", "val"):
        typer.echo(f"{split}: {result.images[split]} images, {result.boxes[split]} boxes")
    typer.echo(f"wrote {result.data_yaml}")
