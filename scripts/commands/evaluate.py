"""`camcensus evaluate`: AP, precision/recall at the operating threshold, recall by box size."""

from pathlib import Path

import typer

from scripts.app import app


@app.command()
def evaluate(
    model: Path = typer.Option(..., "--model", help="Weights (.pt); its card NAME.md beside it is updated."),
    data: Path = typer.Option(..., "--data", help="Dataset description (data.yaml)."),
    split: str = typer.Option("val", "--split", help="Split to evaluate on. Default val."),
    precision: float = typer.Option(None, "--precision", help="Precision target in (0, 1]: the threshold "
                                    "with the most recall reaching it. Default: the threshold of max F1."),
    imgsz: int = typer.Option(640, "--imgsz", help="Inference size, px (full images). Default 640."),
    device: str = typer.Option("auto", "--device", help="auto (GPU if any, else CPU), cpu, 0, ..."),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures as JSON to this path. Default: none."),
    plot: Path = typer.Option(None, "--plot", help="PR-curve PNG. Default: NAME-pr.png beside the weights."),
    no_card: bool = typer.Option(False, "--no-card", help="Do not write the figures into the model card."),
) -> None:
    """Evaluate a detector on a YOLO dataset split and write the figures into its model card."""
    from detector.evaluate import evaluate_model

    plot = plot or model.with_name(f"{model.stem}-pr.png")
    card = None if no_card else model.with_suffix(".md")
    s = evaluate_model(model, data, precision_target=precision, split=split, imgsz=imgsz, device=device,
                       card=card, plot=plot, json_path=json_out)

    def fmt(v):
        return "n/a" if v is None else f"{v:.3f}"

    typer.echo(f"AP50 {fmt(s['ap50'])}  AP50-95 {fmt(s['ap50_95'])}  at conf {s['conf']:.3f}: precision "
               f"{s['precision']:.3f} recall {s['recall']:.3f} F1 {s['f1']:.3f}  "
               f"({s['n_images']} images, {s['n_truth']} boxes)")
    typer.echo("recall by size (px): " + "  ".join(f"{k} {fmt(v)}" for k, v in s["recall_by_size"].items()))
    typer.echo(f"wrote {plot}" + (f", {card}" if card else "") + (f", {json_out}" if json_out else ""))
