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
    """List the detectors usable with --model and their figures.

    List models usable with --model: name, kind, input size, operating threshold and its figures; the
    default model (used when --model is not given) is marked with *. An export is listed with the card
    of the weights it came from."""
    from detector.registry import DEFAULT_MODEL, default_models_dir, list_models

    found = list_models(models_dir=models_dir)
    where = models_dir or default_models_dir()
    if not found:
        typer.echo(f"no models in {where}")
        return

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    typer.echo(f"models in {where}:")
    typer.echo(
        f"{'name':<24} {'kind':<8} {'imgsz':>5} {'conf':>5} {'P':>5} {'R':>5} {'AP50':>5} {'reach m':>9}  trained on"
    )
    for m in found:
        c = m.card
        name = f"{m.model_id} *" if m.model_id == DEFAULT_MODEL else m.model_id
        typer.echo(
            f"{name:<24} {m.kind:<8} {c.imgsz if c else '-':>5} {fmt(c.conf) if c else '-':>5} "
            f"{fmt(c.precision) if c else '-':>5} {fmt(c.recall) if c else '-':>5} "
            f"{fmt(c.ap50) if c else '-':>5} {_reach(c):>9}  {(c.trained_on if c else '') or '-'}"
        )
    if any(m.model_id == DEFAULT_MODEL for m in found):
        typer.echo(f"* the default model (--model left out): {DEFAULT_MODEL}")
    else:
        typer.echo(f"the default model {DEFAULT_MODEL} is not in {where}")


def _reach(card) -> str:
    """Reach (issue 21) from a card as "directed/dome" metres, "-" where not measured."""
    reach = (card.extra.get("reach_m") if card else None) or {}
    if not reach:
        return "-"
    return "/".join("-" if reach.get(k) is None else f"{reach[k]:.0f}" for k in ("directed", "dome"))
