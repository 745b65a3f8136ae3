"""`camcensus export`: export a .pt model to ONNX or OpenVINO for fast CPU inference."""

from pathlib import Path

import typer

from detector.registry import DEFAULT_MODEL
from scripts.app import app
from scripts.commands.vocabulary import EXPORT_DTYPES


@app.command()
def export(
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="A model name in models/ or a .pt file. Default: the "
                              f"shipped model, {DEFAULT_MODEL}.", show_default=False),
    format: str = typer.Option("onnx", "--format", help="onnx (ONNX Runtime) or openvino."),
    imgsz: int = typer.Option(
        None,
        "--imgsz",
        help="Input size, pixels. Default: the card's, else the training size, else 640.",
    ),
    dtype: str = typer.Option("fp32", "--dtype", metavar="|".join(EXPORT_DTYPES),
                              help="Number format of the exported weights: fp32, or fp16 (OpenVINO only)."),
    out: Path = typer.Option(
        None,
        "--out",
        help="Where to write it: a .onnx file, an OpenVINO model directory, or an existing folder "
        "to put it in. The export carries the card of its weights (X.md beside X.onnx, NAME.md inside "
        "the OpenVINO directory). Default: beside the weights (models/NAME.onnx uses the card "
        "models/NAME.md).",
    ),
) -> None:
    """Export a detector to ONNX or OpenVINO for fast CPU detection.

    Export a model; `camcensus detect --model EXPORT` then runs it with the same card (operating
    threshold) and the same outputs as the weights."""
    from detector.errors import DetectorInputError
    from detector.export import export_model
    from scripts.commands.vocabulary import dtype_from_option

    if dtype_from_option(dtype, allowed=EXPORT_DTYPES) == "fp16" and format != "openvino":
        raise DetectorInputError("--dtype fp16 is for --format openvino; ONNX exports are fp32")

    exported = export_model(model, format=format, imgsz=imgsz, half=dtype == "fp16", out=out)
    card = (f"with the card {exported.card_path} (threshold {exported.card.conf:g})" if exported.card_path
            else "without a card")
    typer.echo(f"exported {exported.model_id} ({exported.kind}) to {exported.path}, {card}")
