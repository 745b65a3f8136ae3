"""`camcensus train`: train a YOLO camera detector (offline, seeded, resumable)."""

from pathlib import Path

import typer

from scripts.app import app
from scripts.commands.vocabulary import DEVICE_HELP, TRAIN_DTYPES


@app.command()
def train(
    data: Path = typer.Option(..., "--data", help="Dataset description (data.yaml), e.g. from `dataset synth`."),
    model: str = typer.Option("yolo11n.yaml", "--model", help="Architecture yaml (trained from scratch) or a "
                              ".pt to fine-tune. Default yolo11n.yaml."),
    epochs: int = typer.Option(100, "--epochs", help="Training epochs. Default 100."),
    imgsz: int = typer.Option(640, "--imgsz", help="Training image size, px. Default 640."),
    batch: int = typer.Option(16, "--batch", help="Images per batch. Default 16."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    out: Path = typer.Option(Path("models/cctv-yolo11n"), "--out", help="Output name: writes OUT.pt and the "
                             "card OUT.md. Default models/cctv-yolo11n."),
    seed: int = typer.Option(0, "--seed", help="Random seed. Default 0."),
    workers: int = typer.Option(None, "--workers", help="Data-loader processes. Default 8 on GPU, 0 on CPU."),
    threads: int = typer.Option(None, "--threads", help="Torch CPU threads. Default: every core."),
    dtype: str = typer.Option("auto", "--dtype", metavar="|".join(TRAIN_DTYPES),
                              help="Number format: auto, fp32 or bf16. auto: bf16 network with an "
                                  "fp32 loss on CPUs with native bfloat16 (about 2.5x), fp32 on other CPUs, "
                                  "ultralytics' own AMP setting on GPUs."),
    patience: int = typer.Option(50, "--patience", help="Stop after this many epochs without improvement."),
    run_dir: Path = typer.Option(None, "--run-dir", help="Checkpoint folder; an unfinished run there is "
                                 "resumed. Default runs/train/NAME."),
    fresh: bool = typer.Option(False, "--fresh", help="Start over instead of resuming an unfinished run."),
    hours: float = typer.Option(None, "--hours", help="Time budget in hours: the epoch count is fitted to it "
                                "after the first epoch. Default: no limit, run --epochs."),
    arg: list[str] = typer.Option(None, "--arg", help="Extra ultralytics training argument KEY=VALUE "
                                  "(repeatable), e.g. --arg val=False --arg warmup_epochs=1. Default: none."),
) -> None:
    """Train a detector; rerun the same command to resume.

    Train a detector; rerunning the same command resumes from the last checkpoint."""
    import yaml

    from detector.errors import DetectorInputError
    from detector.train import train_model
    from scripts.commands.vocabulary import device_from_option, dtype_from_option

    device, dtype = device_from_option(device), dtype_from_option(dtype, allowed=TRAIN_DTYPES)

    extra = {}
    for item in arg or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DetectorInputError(f"--arg must look like KEY=VALUE, got '{item}'")
        extra[key.strip()] = yaml.safe_load(value)
    card = train_model(data, model=model, epochs=epochs, imgsz=imgsz, batch=batch, device=device, out=out,
                       seed=seed, workers=workers, threads=threads, precision=dtype, patience=patience,
                       run_dir=run_dir, fresh=fresh, hours=hours, **extra)
    weights = Path(out).with_suffix(".pt")
    typer.echo(f"wrote {weights} and {weights.with_suffix('.md')} "
               f"(validation during training: {card.extra.get('ultralytics_val', {})})")
