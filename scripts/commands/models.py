"""`camcensus models`: list the model registry (models/) with each card's key figures."""

from pathlib import Path

import typer

from scripts.app import app


@app.command()
def models(
    models_dir: Path = typer.Option(
        None,
        "--models-dir",
        help="Folder of models and cards. Default: "
        "$CAMCENSUS_MODELS_DIR, else the repository's models/.",
    ),
) -> None:
    """List models usable with --model: name, kind, input size, operating threshold and its figures."""
    from detector.registry import default_models_dir, list_models

    found = list_models(models_dir=models_dir)
    where = models_dir or default_models_dir()
    if not found:
        typer.echo(f"no models in {where}")
        return

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    typer.echo(f"models in {where}:")
    typer.echo(
        f"{'name':<24} {'kind':<8} {'imgsz':>5} {'conf':>5} {'P':>5} {'R':>5} {'AP50':>5}  trained on"
    )
    for m in found:
        c = m.card
        typer.echo(
            f"{m.model_id:<24} {m.kind:<8} {c.imgsz if c else '-':>5} {fmt(c.conf) if c else '-':>5} "
            f"{fmt(c.precision) if c else '-':>5} {fmt(c.recall) if c else '-':>5} "
            f"{fmt(c.ap50) if c else '-':>5}  {(c.trained_on if c else '') or '-'}"
        )
