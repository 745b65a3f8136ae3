"""`camcensus evaluate`: AP, precision/recall at the operating threshold, recall by box size,
and the calibration (the model card's ``calibration`` key)."""

from pathlib import Path

import typer

from scripts.app import app


@app.command()
def evaluate(
    model: str = typer.Option(..., "--model", help="Detector: a name in models/ (as `detect` takes), a .pt, .onnx "
                              "or *_openvino_model; its card NAME.md beside the weights is updated."),
    data: Path = typer.Option(..., "--data", help="Dataset description (data.yaml)."),
    split: str = typer.Option("val", "--split", help="Split to evaluate on. Default val."),
    precision: float = typer.Option(None, "--precision", help="Precision target in (0, 1]: the threshold "
                                    "with the most recall reaching it. Default: the threshold of max F1."),
    conf: float = typer.Option(None, "--conf", help="Fixed operating threshold, 0-1, instead of max F1 / "
                               "--precision. Default: none."),
    imgsz: int = typer.Option(640, "--imgsz", help="Inference size, px (full images). Default 640."),
    slice_: str = typer.Option(None, "--slice", help="Sliced inference SIZE:OVERLAP (px, fraction), as in "
                               "`detect`. Default: off."),
    difficult: float = typer.Option(6.0, "--difficult-px", help="True boxes under this sqrt(area), px, are "
                                    "'difficult': neither missed nor false (VOC). 0: none. Default 6."),
    device: str = typer.Option("auto", "--device", help="auto (GPU if any, else CPU), cpu, 0, ..."),
    batch: int = typer.Option(8, "--batch", help="Images per detection batch. Default 8."),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures (calibration included) as JSON "
                                  "to this path. Default: none."),
    plot: Path = typer.Option(None, "--plot", help="PR-curve PNG. Default: NAME-pr.png beside the weights."),
    no_card: bool = typer.Option(False, "--no-card", help="Do not write the figures into the model card."),
) -> None:
    """Evaluate a detector on a YOLO dataset split and write the figures and calibration into its card."""
    from detector.errors import DetectorInputError
    from detector.evaluate import evaluate_model
    from detector.registry import resolve_model

    try:
        resolved = resolve_model(model)
    except DetectorInputError as error:
        raise DetectorInputError(f"model weights not found: {model} ({error})") from None
    weights = resolved.path
    plot = plot or weights.with_name(f"{weights.stem}-pr.png")
    card = None if no_card else weights.with_suffix(".md")
    s = evaluate_model(resolved, data, precision_target=precision, conf=conf, split=split, imgsz=imgsz,
                       device=device, batch=batch, slice=slice_, difficult_px=difficult, card=card, plot=plot,
                       json_path=json_out)

    def fmt(v):
        return "n/a" if v is None else f"{v:.3f}"

    typer.echo(f"AP50 {fmt(s['ap50'])}  AP50-95 {fmt(s['ap50_95'])}  at conf {s['conf']:.3f}: precision "
               f"{s['precision']:.3f} recall {s['recall']:.3f} F1 {s['f1']:.3f}  false/image "
               f"{fmt(s['false_per_image'])}  ({s['n_images']} images, {s['n_truth']} boxes >= "
               f"{s['difficult_px']:g} px, {s['n_difficult']} difficult)")
    typer.echo("recall by size (px): " + "  ".join(f"{k} {fmt(v)}" for k, v in s["recall_by_size"].items()))
    typer.echo("per band: " + "  ".join(f"{r['lo_px']:g}-{'inf' if r['hi_px'] >= 1e4 else format(r['hi_px'], 'g')}"
                                         f" {r['found']}/{r['n']}" for r in s["by_size"]))
    if s.get("reach"):
        from detector.reach import reach_lines

        for line in reach_lines(s["reach"]):
            typer.echo(line)
    typer.echo(f"inference: {s['cpu_ms_per_image']:.1f} CPU ms per image ({s['seconds']:.1f} s wall)")
    typer.echo(f"wrote {plot}" + (f", {card}" if card else "") + (f", {json_out}" if json_out else ""))
