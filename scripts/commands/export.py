"""`camcensus export`: export a .pt model to ONNX or OpenVINO for fast CPU inference."""

from pathlib import Path

import typer

from scripts.app import app


@app.command()
def export(
    model: str = typer.Option(..., "--model", help="A model name in models/ or a .pt file."),
    format: str = typer.Option("onnx", "--format", help="onnx (ONNX Runtime) or openvino."),
    imgsz: int = typer.Option(
        None,
        "--imgsz",
        help="Input size, pixels. Default: the card's, else the training size, else 640.",
    ),
    half: bool = typer.Option(False, "--half", help="FP16 weights (OpenVINO only). Default: FP32."),
    out: Path = typer.Option(
        None,
        "--out",
        help="Where to write it. Default: beside the weights "
        "(models/NAME.onnx keeps the card of models/NAME.pt).",
    ),
) -> None:
    """Export a model; `camcensus detect --model` then runs it with the same outputs."""
    from detector.export import export_model

    exported = export_model(model, format=format, imgsz=imgsz, half=half, out=out)
    typer.echo(f"exported {exported.model_id} ({exported.kind}) to {exported.path}")
