"""`camcensus dataset ...`: build, convert and check YOLO datasets."""

from pathlib import Path

import typer

from scripts.app import app

dataset_app = typer.Typer(help="Build, convert and check YOLO camera datasets.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("synth")
def synth(
    area: list[str] = typer.Option(..., "--area", help="Training area (repeatable): 'demo', an OSM file "
                                   "(.osm.pbf/.osm/.graphml), bbox:W,S,E,N or a place."),
    views: int = typer.Option(..., "--views", help="Number of 640 px views to render in all (train + val)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (images/, labels/, data.yaml)."),
    val_area: list[str] = typer.Option(None, "--val-area", help="Area held out entirely for validation "
                                       "(repeatable). Default: none, hold out street blocks instead."),
    sim_cameras: list[str] = typer.Option(None, "--sim-cameras", help="Simulated cameras: osm, "
                                          "random:D[:SEED] (D per street km) or a GeoJSON of points; once "
                                          "for all areas or once per area (--area order, then --val-area). "
                                          "Default: osm for demo, random:1 elsewhere."),
    seed: int = typer.Option(0, "--seed", help="Seed of the view choice, scenes and tiles. Default 0."),
    layouts: int = typer.Option(1, "--layouts", help="Scenes per area with different seeds (camera "
                                "layouts) when --sim-cameras is random:D. Default 1."),
    tile: int = typer.Option(None, "--tile", help="Write train views as SIZE x SIZE px crops around and "
                             "away from cameras (val stays full views). Default: whole views."),
    n_away: float = typer.Option(1.0, "--away", help="Crops without a camera per train view (with --tile); "
                                 "a fraction is a probability per view. Default 1."),
    min_positive: float = typer.Option(0.0, "--min-positive", help="Enrich TRAIN views so that at least "
                                       "this share shows a camera (val keeps the realistic share). "
                                       "Default 0: realistic share everywhere."),
    val_fraction: float = typer.Option(0.2, "--val-fraction", help="Share of street blocks held out for "
                                       "val (or of views taken from --val-area). Default 0.2."),
    block_m: float = typer.Option(250.0, "--block-m", help="Side of the street blocks of the split, "
                                  "metres. Default 250."),
    spacing: float = typer.Option(20.0, "--spacing", help="Metres between viewpoints. Default 20."),
    decoys: float = typer.Option(0.0, "--decoys", help="Camera-free crops around the simulator's decoys (alarm "
                                 "boxes, wall lights, signs, lamps, signals, cars...) per train view (with "
                                 "--tile); a fraction is a probability. Default 0."),
    sky: float = typer.Option(0.0, "--sky", help="Camera-free crops of the top of the view (sky, roofs, birds) "
                              "per train view (with --tile). Default 0."),
    mine: list[Path] = typer.Option(None, "--mine", help="Simulated survey folder of a TRAINING area "
                                    "(repeatable): its false detections become hard-negative crops (with "
                                    "--tile). Default: none."),
    mine_conf: float = typer.Option(0.1, "--mine-conf", help="Lowest confidence of a mined false detection. "
                                    "Default 0.1."),
    mine_per_image: int = typer.Option(2, "--mine-per-image", help="Most mined crops per survey image "
                                       "(the most confident first). Default 2."),
    balance: bool = typer.Option(False, "--balance", help="Mirror train crops showing only the rarer class "
                                 "until both classes have about as many boxes. Default off."),
    scale_floor: float = typer.Option(4.0, "--scale-floor", help="Scale augmentation in train_args.yaml "
                                      "never shrinks the smallest camera below this, px. Default 4."),
    small: float = typer.Option(0.0, "--small", help="Zoom-out crops per train view showing a camera shrunk "
                                "to --small-px (with --tile); a fraction is a probability. Default 0."),
    small_px: str = typer.Option("5:10", "--small-px", help="Box side range LO:HI (px) of --small crops. "
                                 "Default 5:10."),
    small_decoys: float = typer.Option(0.0, "--small-decoys", help="Zoom-out crops around decoys shrunk to "
                                       "--small-px per train view (hard negatives of a distant camera's size). "
                                       "Default 0."),
    photometric: float = typer.Option(0.0, "--photometric", help="Probability that a train crop gets colour "
                                      "cast, gamma, blur, noise and JPEG randomization. Default 0."),
    style: str = typer.Option("default", "--style", help="Rendering style of the simulator (default, alt, "
                              "random); alt is held out from training (only with --val-only). Default: default."),
    random_look: float = typer.Option(0.0, "--random-look", help="Probability that a train view is rendered "
                                      "in the randomized look (domain randomization). Default 0."),
    randomization: int = typer.Option(1, "--randomization", help="Domain randomization version of --random-look "
                                      "and --photometric: 1 round 3's ranges, 2 wider (more housings, palettes, "
                                      "textures, shadows, skies, clutter, blur/noise/JPEG). Default 1."),
    val_only: bool = typer.Option(False, "--val-only", help="Render only the val views (the same ones a full "
                                  "run with the same arguments renders), e.g. in another --style. Default off."),
) -> None:
    """Render a YOLO dataset with the simulator, split by geography.

    Render a YOLO dataset with the simulator, split into train and val by geography; writes data.yaml
    and train_args.yaml (recommended `camcensus train --arg` values)."""
    from scripts.synthesis.dataset import synth_dataset

    result = synth_dataset(out, areas=area, views=views, val_areas=val_area, sim_cameras=sim_cameras or None,
                           seed=seed, layouts=layouts, tile=tile, n_away=n_away,
                           min_positive=min_positive, val_fraction=val_fraction,
                           block_m=block_m, spacing=spacing, n_decoy=decoys, n_sky=sky, mine=mine or None,
                           mine_conf=mine_conf, mine_per_image=mine_per_image, scale_floor_px=scale_floor,
                           balance=balance, n_small=small, small_px=_px_range(small_px),
                           n_small_decoy=small_decoys, photometric=photometric, style=style,
                           val_only=val_only, random_look=random_look, randomization=randomization)
    for split in ("train", "val"):
        typer.echo(f"{split}: {result.n_views[split]} views -> {result.n_images[split]} images, "
                   f"{result.n_boxes[split]} boxes, {result.share_empty[split]:.0%} of views without a camera")
    if result.crops:
        typer.echo("train crops: " + ", ".join(f"{k} {v}" for k, v in sorted(result.crops.items()))
                   + "; boxes by class: " + ", ".join(f"{k} {v}" for k, v in sorted(result.classes.items())))
    if result.decoys:
        typer.echo("decoy crops: " + ", ".join(f"{k} {v}" for k, v in sorted(result.decoys.items())))
    typer.echo(f"wrote {result.data_yaml} and {result.train_args} in {result.seconds:.0f} s")


@dataset_app.command("check")
def check(
    data: Path = typer.Argument(..., help="A data.yaml or the dataset folder holding it."),
    json_out: Path = typer.Option(None, "--json", help="Also write the report as JSON to this path. Default: none."),
) -> None:
    """Count a YOLO dataset's images and boxes; list broken files.

    Count images and boxes per split and class, bin box sizes (sqrt(w*h), px), list broken files. Exit
    code 1 when a file is broken."""
    import json

    from detector.yolo_dataset import check_dataset

    report = check_dataset(data)
    typer.echo(report.summary())
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8")
    if not report.ok:  # exit code 1 (a click error, which the CLI's main() passes through)
        import click

        raise click.ClickException(f"{len(report.broken)} broken file(s) in {data}")


@dataset_app.command("coco")
def coco(
    source: Path = typer.Argument(..., help="A COCO .json (converted to YOLO) or a YOLO data.yaml / "
                                  "dataset folder (converted to COCO)."),
    out: Path = typer.Option(..., "--out", help="YOLO dataset folder (from COCO) or .json file (to COCO)."),
    images: Path = typer.Option(None, "--images", help="Folder of the COCO images (file_name is relative "
                                "to it). Default: the json's folder."),
    split: str = typer.Option(None, "--split", help="Split to write (from COCO; default train) or to read "
                              "(to COCO; default val)."),
) -> None:
    """Convert COCO detection JSON to a YOLO dataset, or back.

    Convert COCO detection json <-> YOLO dataset; classes are matched by name (dome, directed)."""
    from detector.coco import coco_from_yolo, write_coco, yolo_from_coco

    if source.suffix.lower() == ".json":
        written = yolo_from_coco(source, images or source.parent, out, split=split or "train")
        typer.echo(f"wrote {written}")
    else:
        result = coco_from_yolo(source, split=split or "val")
        write_coco(result, out)
        typer.echo(f"wrote {out}: {len(result['images'])} images, {len(result['annotations'])} boxes")


def _px_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise typer.BadParameter(f"--small-px must be LO:HI in px, got {text!r}") from None
    if not 0 < lo < hi:
        raise typer.BadParameter(f"--small-px needs 0 < LO < HI, got {text!r}")
    return lo, hi
