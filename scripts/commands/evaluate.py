"""`camcensus evaluate`: AP, precision/recall at the operating threshold, recall by box size,
and the calibration. A report by default; ``--update-card`` writes the figures into the model's
card, only on the held-out set the card names (``detector.held_out``) or with ``--new-held-out``."""

from pathlib import Path

import typer

from detector.registry import DEFAULT_MODEL
from scripts.app import app
from scripts.commands.vocabulary import DEVICE_HELP


@app.command()
def evaluate(
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Detector: a name in models/ (as `detect` takes), a "
                              f".pt, .onnx or *_openvino_model. Default: the shipped model, {DEFAULT_MODEL}.",
                              show_default=False),
    data: Path = typer.Option(..., "--data", help="Dataset description (data.yaml)."),
    split: str = typer.Option("val", "--split", help="Split to evaluate on. Default val."),
    min_precision: float = typer.Option(None, "--min-precision", help="Lowest acceptable precision, in (0, 1]: "
                                        "the threshold with the most recall that reaches it. Default: the "
                                        "threshold of max F1."),
    conf: float = typer.Option(None, "--conf", help="Fixed operating threshold, 0-1, instead of max F1 / "
                               "--min-precision. Default: none."),
    imgsz: int = typer.Option(640, "--imgsz", help="Inference size, px (full images). Default 640."),
    slice_: str = typer.Option(None, "--slice", help="Sliced inference SIZE:OVERLAP (px, fraction), as in "
                               "`detect`. Default: off."),
    difficult: float = typer.Option(6.0, "--difficult-px", help="True boxes under this sqrt(area), px, are "
                                    "'difficult': neither missed nor false (VOC). 0: none. Default 6."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    batch: int = typer.Option(8, "--batch", help="Images per detection batch. Default 8."),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures (calibration included) as JSON "
                                  "to this path (relative to the current directory; never into the models "
                                  "directory). Default: none."),
    plot: Path = typer.Option(None, "--plot", help="Also draw the PR curve into this PNG (relative to the current "
                              "directory; never into the models directory). Default: none."),
    update_card: bool = typer.Option(False, "--update-card", help="Write the figures and calibration into the "
                                     "model's card (its previous figures move to the card's history). Refused, "
                                     "with nothing changed, unless DATA's split is the held-out set the card names "
                                     "(by a fingerprint of its files) or --new-held-out is given. A card fresh "
                                     "from `camcensus train` takes its first held-out set. Default: off (a "
                                     "report only; nothing under models/ changes)."),
    new_held_out: bool = typer.Option(False, "--new-held-out", help="With --update-card: DATA's split becomes the "
                                      "card's held-out set; the card records the change and keeps the earlier "
                                      "figures in its history. Default: off."),
    no_card: bool = typer.Option(False, "--no-card", hidden=True, help="Ignored: the default now (a report)."),
) -> None:
    """Evaluate a detector on a YOLO dataset split.

    Evaluate a detector on a YOLO dataset split and print its figures. Nothing is written unless asked:
    --json and --plot where given, the model's card only with --update-card."""
    from detector.errors import DetectorInputError
    from detector.evaluate import evaluate_model
    from detector.registry import default_models_dir, resolve_model
    from scripts.commands.vocabulary import device_from_option, torch_device

    device = torch_device(device_from_option(device))

    try:
        resolved = resolve_model(model)
    except DetectorInputError as error:
        raise DetectorInputError(f"model weights not found: {model} ({error})") from None
    if new_held_out and not update_card:
        raise DetectorInputError("--new-held-out changes a card's held-out set: it needs --update-card")
    models_dir = default_models_dir().resolve()
    for flag, path in (("--json", json_out), ("--plot", plot)):
        if path is not None and Path(path).resolve().is_relative_to(models_dir):
            raise DetectorInputError(f"{flag} {path} is inside the models directory {models_dir}: evaluate writes "
                                     "reports elsewhere (the card changes only with --update-card)")
    card = None
    if update_card:
        if resolved.kind != "pt":
            raise DetectorInputError(f"--update-card takes the .pt weights a card describes; {resolved.path} is "
                                     f"an {resolved.kind} export (evaluate its .pt)")
        card = resolved.card_path or resolved.path.with_suffix(".md")
    s = evaluate_model(resolved, data, precision_target=min_precision, conf=conf, split=split, imgsz=imgsz,
                       device=device, batch=batch, slice=slice_, difficult_px=difficult, card=card, plot=plot,
                       json_path=json_out, new_held_out=new_held_out)

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
    held_out, named = s.get("held_out") or {}, ((resolved.card.held_out or {}) if resolved.card else {})
    if held_out and card is None:
        which = ("the card's held-out set" if named.get("fingerprint") == held_out.get("fingerprint")
                 else "not the card's held-out set" if named.get("fingerprint") else "the card names no fingerprint")
        typer.echo(f"data: {held_out['n_images']} images, fingerprint {held_out['fingerprint'][:19]} ({which})")
    written = [str(p) for p in (plot, json_out) if p is not None]
    if card is not None:
        written.append(f"{card} (held-out set {s.get('held_out', {}).get('fingerprint', '?')[:19]}; earlier "
                       "figures kept in its history)")
    typer.echo("wrote " + ", ".join(written) if written else "nothing written (a report; --update-card "
               "writes the figures into the model's card)")
