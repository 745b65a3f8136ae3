"""`camcensus detect`: run a camera detector over an image set (resumable)."""

from pathlib import Path

import typer

from detector.registry import DEFAULT_MODEL
from scripts.app import app
from scripts.commands.vocabulary import DETECT_DTYPES, DEVICE_HELP


@app.command()
def detect(
    source: str = typer.Argument(
        ...,
        help="A survey directory (reads images.parquet, writes detections/ "
        "inside it), a folder (searched recursively), a glob in quotes, or a text "
        "file with one image path per line.",
    ),
    model: str = typer.Option(
        DEFAULT_MODEL,
        "--model",
        help="A model name in models/ (with its card), a .pt file, "
        "an exported .onnx file or an *_openvino_model directory (an export uses the card of the "
        f"weights it came from). Default: the shipped model, {DEFAULT_MODEL}.",
        show_default=False,
    ),
    out: Path = typer.Option(
        None,
        "--out",
        help="Output directory (detections/, detect_summary.json, "
        "detect_failures.parquet). Default: the survey directory; required otherwise.",
    ),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    dtype: str = typer.Option(
        "auto",
        "--dtype",
        metavar="|".join(DETECT_DTYPES),
        help="Number format of the network (.pt models): auto (fp16 on CUDA, bf16 on CPUs with native "
        "bfloat16 such as AMX, else fp32), fp32, fp16 or bf16. Boxes are always decoded in fp32.",
    ),
    batch: int = typer.Option(
        16, "--batch", help="Images per batch (and model inputs per forward pass)."
    ),
    conf: float = typer.Option(
        None,
        "--conf",
        help="Confidence threshold, 0-1. Default: the model card's operating threshold, else 0.25.",
    ),
    iou: float = typer.Option(0.7, "--iou", help="IoU threshold of non-maximum suppression, 0-1."),
    imgsz: int = typer.Option(
        None,
        "--imgsz",
        help="Model input size, pixels (square). Default: the card's, "
        "else the model's training size, else 640.",
    ),
    slice: str = typer.Option(
        None,
        "--slice",
        help="Sliced inference for tiny objects: SIZE:OVERLAP, tile "
        "size in pixels and overlap fraction (e.g. 320:0.2); tiles are merged with the "
        "whole-image pass. Default: off.",
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        help="Decoding threads (local) or CPUs per actor (ray). Default: min(4, CPU count).",
    ),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local (this machine) or ray (Ray Data actor pool, one actor per GPU).",
    ),
    address: str = typer.Option(
        None,
        "--address",
        help="Ray cluster address for --engine ray (e.g. auto or "
        "ray://head:10001). Default: start a local Ray instance.",
    ),
) -> None:
    """Detect cameras on every image of a survey or folder.

    Detect cameras on every image of SOURCE; rerun the same command to resume after a stop."""
    from contextlib import nullcontext

    from detector.detect import detect_images
    from scripts.commands.vocabulary import device_from_option, dtype_from_option, torch_device

    device = torch_device(device_from_option(device), several=engine == "ray")
    dtype = dtype_from_option(dtype, allowed=DETECT_DTYPES)
    from scripts.survey_dir import IMAGES
    from scripts.survey.lock import survey_lock

    survey_dir = Path(source)
    in_survey = survey_dir.is_dir() and (survey_dir / IMAGES).is_file() and out in (None, survey_dir)
    with survey_lock(survey_dir, command="camcensus detect") if in_survey else nullcontext():
        summary = detect_images(source, model=model, out=out, device=device, precision=dtype, batch=batch,
                                conf=conf, iou=iou, imgsz=imgsz, slice=slice, workers=workers, engine=engine,
                                address=address)
    rate = summary["images_per_second"]
    typer.echo(
        f"detect: {summary['images']:,} images, {summary['ok']:,} ok, {summary['failed']:,} failed, "
        f"{summary['detections']:,} detections; this run {summary['processed_this_run']:,} images"
        + (f" at {rate:.1f} img/s" if rate else "")
        + f" on {summary['device']}, "
        f"{summary['precision']} (model {summary['model']['id']}, threshold {summary['conf']:g})"
    )
    for failure in summary["failures"][:5]:
        typer.echo(f"  failed: {failure['image_id']}: {failure['error']}")
    if summary["failed"] > 5:
        typer.echo(f"  ... {summary['failed'] - 5} more in detect_failures.parquet")

