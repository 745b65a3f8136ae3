"""`camcensus dataset synth`: a YOLO dataset rendered by the simulator, split by geography.

For each area: its street graph (``geo.streets.network``), systematic viewpoints along every street
(``geo.streets.sampling.views_from_graph``, both sides) and a simulated scene (``geo.sim.scene``); a random
subset of the views is rendered (``geo.sim.render.render_view``), so the share of views without a
camera stays what a survey would see. Train and val never share a street:

- ``val_areas``: whole areas held out for validation (training areas then give only train views);
- otherwise streets are grouped into square blocks of ``block_m`` metres (by the street's mean
  point) and a seeded draw sends each block, with all its streets, to val with ``val_fraction``.

Val images are full views (evaluation happens at full resolution, in original pixels); train
views are written whole or, with ``tile``, as native-scale crops (``detector.yolo_dataset``):

- one around each camera and ``n_away`` anywhere away from cameras;
- ``n_decoy`` hard negatives around the simulator's camera-like things in the view (alarm boxes,
  wall units and lights, blade signs, signs, lamps, signals, poles, parked cars and their
  wheels), kind drawn uniformly so that rare kinds get their share, never touching a camera;
- ``n_sky`` crops of the top of the view (sky, roof lines and the birds the renderer draws there);
- ``mine``: the detector's own false positives in earlier simulated surveys of TRAINING areas
  (detections at ``mine_conf`` or more that overlap no true box), each as a crop labelled with
  the survey's true boxes.

Small cameras (issue 21): ``n_small`` zoom-out crops per train view show a camera shrunk to
``small_px`` (5-10 px by default) by area resampling of a larger window (exact labels, no pixel
rounding); ``n_small_decoy`` zoom-out crops around decoys give hard negatives of that size.
``photometric`` is the probability that a train crop is photometrically randomized (haze, colour
cast, gamma, lower resolution, blur, noise, JPEG: ``detector.yolo_dataset.photometric_jitter``).
Val views keep the renderer's look. ``style`` picks the renderer's style (``geo.sim.render.STYLES``);
a dataset in a style never used in training measures robustness: the held-out "alt" style is
refused for anything that writes train images (only ``val_only`` renders it). ``random_look`` is
the probability that a TRAIN view is rendered in the "random" look (domain randomization, issue
28: light, sky, facade palette and texture, shadows, clutter and housings drawn per view); the
others and all val views use ``style``. ``randomization`` is the domain randomization's version:
1 (the default) is round 3's random look and photometric jitter, reproducible bit for bit; 2 is
the wider random look (``geo.sim.randomize``) and the wider jitter
(``scripts.synthesis.photometric``). A dataset holds one version: resuming it with another is
refused. Every val box's true range (m, horizontal,
from the viewpoint to the camera) goes to ``truth_ranges.csv`` beside ``data.yaml``
(``detector.reach`` reads it).

``train_args.yaml`` beside ``data.yaml`` holds the ultralytics arguments this data wants, above
all a ``scale`` augmentation that never shrinks the smallest camera below ``scale_floor_px``.
Re-running the same command resumes: views listed in ``progress.txt`` are skipped.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from detector.errors import DetectorInputError
from detector.yolo_dataset import (
    crop_around,
    safe_scale,
    tiles_from_view,
    write_data_yaml,
    write_example,
    write_train_args,
    zoom_out_crop,
    photometric_jitter,
)
from scripts.synthesis.photometric import photometric_jitter_wide

# Scene objects that look a little like a camera, and a crop-target half size floor (px).
DECOY_KINDS = ("alarm", "unit", "wall_light", "blade", "sign", "lamp", "signal", "pole", "car")
SMALL_KINDS = {"alarm", "unit", "wall_light", "blade"}  # facade things: the renderer draws them within 45 m
DECOY_RANGE_M = {"small": 45.0, "other": 90.0}
EYE_HEIGHT_M = 2.5


@dataclass(frozen=True)
class SynthResult:
    data_yaml: Path
    n_views: dict[str, int]  # rendered views per split
    n_images: dict[str, int]  # written images per split (tiles for a tiled train split)
    n_boxes: dict[str, int]
    share_empty: dict[str, float]  # share of rendered views without a camera, per split
    seconds: float
    crops: dict[str, int] = field(default_factory=dict)  # train crops by kind: camera, away, decoy, sky, mined
    decoys: dict[str, int] = field(default_factory=dict)  # decoy crops by scene object kind
    classes: dict[str, int] = field(default_factory=dict)  # train boxes by class (crops: counted per crop)
    train_args: Path | None = None


@dataclass
class _AreaViews:
    spec: str
    index: int
    scene: object
    views: pd.DataFrame  # view_id, x, y (scene CRS, m), heading (deg, as render_view wants), pitch, fov, split
    layout: int


def synth_dataset(out: str | Path, *, areas: list[str], views: int, val_areas: list[str] | None = None,
                  sim_cameras: str | list[str] | None = None, seed: int = 0, layouts: int = 1,
                  tile: int | None = None, n_away: float = 1.0, min_positive: float = 0.0,
                  val_fraction: float = 0.2, block_m: float = 250.0, spacing: float = 20.0,
                  size: int = 640, n_decoy: float = 0.0, n_sky: float = 0.0,
                  mine: list[str | Path] | None = None, mine_conf: float = 0.1, mine_per_image: int = 2,
                  scale_floor_px: float = 4.0, balance: bool = False, n_small: float = 0.0,
                  small_px: tuple[float, float] = (5.0, 10.0), n_small_decoy: float = 0.0,
                  photometric: float = 0.0, style: str = "default", val_only: bool = False,
                  random_look: float = 0.0, randomization: int = 1,
                  log: Callable[[str], None] | None = None) -> SynthResult:
    """Render ``views`` simulated views (train + val) of ``areas`` into the YOLO dataset ``out``.

    ``sim_cameras``: the simulator's camera spec for every area, or one per area in the order
    ``areas + val_areas`` (None: the simulator's default per area); ``layouts`` > 1
    builds that many scenes per area with different seeds (camera layouts, furniture) when the
    spec is ``random:D`` without its own seed. ``spacing`` (m) between viewpoints, ``size`` (px)
    of the square views, ``tile`` (px) crop size for train images, ``n_away`` empty crops per view
    (a fraction is a probability: 0.3 gives an empty crop for 30% of the views). ``min_positive``
    > 0 enriches the TRAIN views: at least that share show a camera (negatives are swapped for
    positive views of the same training streets); val always keeps the realistic share.
    With ``tile``: ``n_decoy`` decoy crops and ``n_sky`` sky crops per train view (fractions are
    probabilities), and crops around the false detections (conf >= ``mine_conf``, at most
    ``mine_per_image`` per image) of the simulated survey folders ``mine``. ``scale_floor_px``: the
    smallest camera side (px) scale augmentation may shrink to (``train_args.yaml``). ``balance``:
    add mirrored copies of train crops that show only the rarer class until both classes have
    about as many boxes. ``n_small``, ``small_px``, ``n_small_decoy``, ``photometric``, ``style``,
    ``random_look``, ``randomization``:
    see the module docstring. ``val_only``: render only the val views (the same views a full run
    with the same arguments renders: the choice is made first), e.g. in another ``style``.
    """
    log = log or _plain_log
    o = SimpleNamespace(areas=list(areas), views=views, val_areas=list(val_areas or []), sim_cameras=sim_cameras,
                        seed=seed, layouts=layouts, tile=tile, n_away=n_away, min_positive=min_positive,
                        val_fraction=val_fraction, block_m=block_m, spacing=spacing, size=size, n_decoy=n_decoy,
                        n_sky=n_sky, mine=mine, mine_conf=mine_conf, mine_per_image=mine_per_image,
                        scale_floor_px=scale_floor_px, balance=balance, n_small=n_small, small_px=small_px,
                        n_small_decoy=n_small_decoy, photometric=photometric, style=style, val_only=val_only,
                        random_look=random_look, randomization=randomization)
    o.specs = _checked_specs(o)
    mine_dirs = [_check_mine_dir(Path(d), o.val_areas) for d in (mine or [])]
    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pools = _area_pools(o, log=log)
    chosen = _choose_views(pools, views=views, val_share=val_fraction if o.val_areas else None, seed=seed)
    if min_positive > 0 and not val_only:  # enrichment swaps train views only
        chosen = _enrich_positives(chosen, pools, min_positive=min_positive, size=size, seed=seed)
        log(f"train views enriched to >= {min_positive:.0%} with a camera where the streets allow")
    counts = {s: {"views": 0, "images": 0, "boxes": 0, "empty": 0, "crops": {}, "decoys": {}, "classes": {},
                  "min_side": np.inf} for s in ("train", "val")}
    manifest_rows = _render_chosen(out, chosen, pools, o, counts=counts, started=started, log=log)
    _write_mined(out, mine_dirs, o, counts=counts, log=log)
    if balance:
        added = balance_classes(out, "train")
        for name, n in added.items():
            counts["train"]["classes"][name] = counts["train"]["classes"].get(name, 0) + n
        counts["train"]["crops"]["mirrored"] = sum(1 for _ in (out / "images" / "train").glob("*_mirror.jpg"))
        counts["train"]["images"] += counts["train"]["crops"]["mirrored"]
        log(f"balanced the classes with mirrored crops: {added}")
    pd.DataFrame(manifest_rows).to_csv(out / "manifest.csv", index=False)
    return _finish_dataset(out, o, counts, started=started)


def _checked_specs(o: SimpleNamespace) -> list:
    """Check synth_dataset's options (one clear DetectorInputError each); return the camera spec
    per area, in the order ``areas + val_areas``."""
    if not o.areas:
        raise DetectorInputError("give at least one --area to render")
    if o.views < 1:
        raise DetectorInputError(f"--views must be >= 1, got {o.views}")
    if not 0 <= o.val_fraction < 1:
        raise DetectorInputError(f"--val-fraction must be in [0, 1), got {o.val_fraction}")
    if o.tile is not None and not 32 <= o.tile <= o.size:
        raise DetectorInputError(f"--tile must be between 32 and the view size {o.size} px, got {o.tile}")
    n_areas = len(o.areas) + len(o.val_areas)
    specs = o.sim_cameras if isinstance(o.sim_cameras, list) else [o.sim_cameras] * n_areas
    if len(specs) == 1:
        specs = specs * n_areas
    if len(specs) != n_areas:
        raise DetectorInputError(f"give one --sim-cameras for all areas or one per area ({n_areas}), "
                                 f"got {len(specs)}")
    if not 0 <= o.min_positive <= 1:
        raise DetectorInputError(f"--min-positive must be in [0, 1], got {o.min_positive}")
    if o.n_away < 0 or o.n_decoy < 0 or o.n_sky < 0:
        raise DetectorInputError(f"--away, --decoys and --sky must be >= 0, got {o.n_away}, {o.n_decoy}, {o.n_sky}")
    if o.n_small < 0 or o.n_small_decoy < 0 or not 0 <= o.photometric <= 1:
        raise DetectorInputError(f"--small and --small-decoys must be >= 0 and --photometric in [0, 1], got "
                                 f"{o.n_small}, {o.n_small_decoy}, {o.photometric}")
    if (o.n_decoy or o.n_sky or o.mine or o.n_small or o.n_small_decoy) and not o.tile:
        raise DetectorInputError("--decoys, --sky and --mine make crops: give --tile too")
    from geo.sim.render import STYLES, TRAINING_STYLES

    if o.style not in STYLES:
        raise DetectorInputError(f"--style must be one of {', '.join(STYLES)}, got {o.style!r}")
    if o.style not in TRAINING_STYLES and not o.val_only:
        raise DetectorInputError(f"--style {o.style} is held out from all training: render it only with --val-only")
    if not 0 <= o.random_look <= 1:
        raise DetectorInputError(f"--random-look must be in [0, 1], got {o.random_look}")
    from geo.sim.randomize import RANDOMIZATIONS

    if o.randomization not in RANDOMIZATIONS:
        raise DetectorInputError(f"--randomization must be 1 (round 3's random look and photometric jitter) or 2 "
                                 f"(wider), got {o.randomization}")
    return specs


def _area_pools(o: SimpleNamespace, *, log: Callable[[str], None]) -> list[_AreaViews]:
    """Every area's candidate views per layout, each marked train or val (whole val areas, else
    street blocks)."""
    from geo.streets.network import graph_from_area
    from geo.streets.sampling import views_from_graph
    from geo.sim.scene import scene_from_area

    pools: list[_AreaViews] = []
    for index, spec in enumerate(o.areas + o.val_areas):
        held_out = index >= len(o.areas)
        graph = graph_from_area(spec)
        points, area_views = views_from_graph(graph, method="systematic", spacing=o.spacing, seed=o.seed,
                                              sides="both")
        for layout in range(o.layouts):
            layout_spec = _layout_spec(o.specs[index], o.seed + layout) if o.layouts > 1 else o.specs[index]
            if o.val_only and not held_out:  # its views are only drawn (never rendered): no scene needed
                scene = SimpleNamespace(crs=graph.graph["crs"], cameras=())
            else:
                scene = scene_from_area(spec, graph=graph, sim_cameras=layout_spec, seed=o.seed + layout)
            table = _views_in_scene(points, area_views, scene)
            if held_out:
                table["split"] = "val"
            elif o.val_areas:
                table["split"] = "train"
            else:
                table["split"] = _block_split(table, block_m=o.block_m, val_fraction=o.val_fraction,
                                              seed=o.seed, salt=spec)
            pools.append(_AreaViews(spec=spec, index=index, scene=scene, views=table, layout=layout))
            log(f"{spec} layout {layout}: {len(table)} candidate views, {len(scene.cameras)} cameras, "
                f"{int((table.split == 'val').sum())} in val")
    return pools


def _render_chosen(out: Path, chosen: list, pools: list[_AreaViews], o: SimpleNamespace, *, counts: dict,
                   started: float, log: Callable[[str], None]) -> list[dict]:
    """Render the chosen views not yet in ``progress.txt`` (resume); return the manifest rows."""
    done = _read_progress(out)
    other = {r.get("randomization", 1) for r in done.values()} - {o.randomization}
    if other:
        raise DetectorInputError(f"{out} was rendered with --randomization {min(other)}: resume it with that, "
                                 f"or give a new --out")
    manifest_rows = []
    total = len(chosen)
    with (out / "progress.txt").open("a", encoding="utf-8") as progress:
        for number, (pool_index, row) in enumerate(chosen, 1):
            pool = pools[pool_index]
            name = f"a{pool.index}l{pool.layout}_{row.view_id}"
            if o.val_only and row.split != "val":
                continue
            if name in done:
                manifest_rows.append(done[name])
                _count(counts, done[name])
                continue
            record = _render_one(out, pool, row, name, o)
            progress.write(json.dumps(record) + "\n")
            progress.flush()
            manifest_rows.append(record)
            _count(counts, record)
            if number % 100 == 0 or number == total:
                log(f"rendered {number}/{total} views ({time.time() - started:.0f} s)")
    return manifest_rows


def _render_one(out: Path, pool: _AreaViews, row, name: str, o: SimpleNamespace) -> dict:
    """Render one view (train views in the random look with probability ``random_look``) and write
    it whole (val, untiled) or as crops (train with ``tile``); return its progress record."""
    from geo.sim.render import render_view

    tile_rng = np.random.default_rng([o.seed, pool.index, pool.layout, zlib_hash(name)])
    view_style = o.style
    if row.split == "train" and o.random_look and tile_rng.random() < o.random_look:
        view_style = "random"
    image, boxes = render_view(pool.scene, x=row.x, y=row.y, heading=row.heading, pitch=row.pitch,
                               fov=row.fov, width=o.size, height=o.size,
                               seed=(o.seed * 1_000_003 + zlib_hash(name)) & 0xFFFFFFFF,
                               **({"style": view_style} if view_style != "default" else {}),
                               **({"randomization": o.randomization} if view_style == "random" else {}))
    if row.split == "val":
        _write_ranges(out / "truth_ranges.csv", name, boxes, pool.scene, row)
    boxes = boxes[["class_name", "x1", "y1", "x2", "y2"]]
    crops: dict[str, int] = {}
    decoy_kinds: dict[str, int] = {}
    if row.split == "train" and o.tile:
        parts = _train_crops(image, boxes, pool, row, o, rng=tile_rng, kinds=decoy_kinds)
        for suffix, crop, crop_boxes in parts:
            if o.photometric and tile_rng.random() < o.photometric:
                crop = (photometric_jitter_wide if o.randomization == 2 else photometric_jitter)(crop, tile_rng)
            write_example(out, "train", f"{name}_{suffix}", crop, crop_boxes)
            kind = _CROP_KINDS[suffix[0]]
            crops[kind] = crops.get(kind, 0) + 1
        written = [b for _, _, b in parts]
    else:
        write_example(out, row.split, name, image, boxes)
        written = [boxes]
    return {"name": name, "area": pool.spec, "layout": pool.layout, "view_id": row.view_id, "style": view_style,
            "street_id": int(row.street_id), "split": row.split, "n_boxes": len(boxes),
            "n_images": len(written), "crops": crops, "decoys": decoy_kinds, **_box_stats(written),
            **({"randomization": o.randomization} if o.randomization != 1 else {})}


def _train_crops(image: np.ndarray, boxes: pd.DataFrame, pool: _AreaViews, row, o: SimpleNamespace, *,
                 rng: np.random.Generator, kinds: dict) -> list:
    """The train crops of one view: around cameras and away, decoys, sky, small zoom-outs."""
    tile = o.tile
    parts = tiles_from_view(image, boxes, size=tile, n_away=_draw_count(rng, o.n_away), rng=rng)
    parts += _decoy_crops(image, boxes, pool.scene, row, size=tile, n=_draw_count(rng, o.n_decoy), rng=rng,
                          kinds=kinds)
    parts += _sky_crops(image, boxes, size=tile, n=_draw_count(rng, o.n_sky), rng=rng)
    parts += _small_crops(image, boxes, size=tile, n=_draw_count(rng, o.n_small), px=o.small_px, rng=rng)
    parts += _small_decoy_crops(image, boxes, pool.scene, row, size=tile, n=_draw_count(rng, o.n_small_decoy),
                                px=o.small_px, rng=rng, kinds=kinds)
    return parts


def _write_mined(out: Path, mine_dirs: list[Path], o: SimpleNamespace, *, counts: dict,
                 log: Callable[[str], None]) -> None:
    """Crops around the false detections of the simulated surveys ``mine_dirs``."""
    for k, survey in enumerate(mine_dirs):
        mined = _mined_crops(survey, size=o.tile, conf=o.mine_conf, per_image=o.mine_per_image,
                             rng=np.random.default_rng([o.seed, 11, k]))
        for m, (image_id, crop, crop_boxes) in enumerate(mined):
            write_example(out, "train", f"m{k}_{_safe_name(image_id)}_{m}", crop, crop_boxes)
        record = {"name": f"mined:{survey}", "area": str(survey), "split": "train", "n_boxes": 0,
                  "n_images": len(mined), "crops": {"mined": len(mined)}, "decoys": {}, "mined": True,
                  **_box_stats([b for _, _, b in mined])}
        counts["train"]["images"] += len(mined)
        _count_crops(counts["train"], record)
        log(f"mined {len(mined)} false-positive crops from {survey}")


def _finish_dataset(out: Path, o: SimpleNamespace, counts: dict, *, started: float) -> SynthResult:
    """data.yaml with the data's descriptions, train_args.yaml with a safe scale, the result."""
    short = {a: Path(a).name if ("/" in a or "\\" in a) else a for a in o.areas + o.val_areas}
    areas_text, val_text = ", ".join(short[a] for a in o.areas), ", ".join(short[a] for a in o.val_areas)
    tile, train_c = o.tile, counts["train"]
    train_desc = (f"{train_c['views']} simulated views ({train_c['images']} "
                  f"{'tiles of ' + str(tile) + ' px' if tile else 'images'}) of {areas_text}"
                  f"{'' if o.val_areas else f' (streets outside the val blocks of {o.block_m:g} m)'}; "
                  f"sim_cameras={', '.join(str(c or 'default') for c in o.specs)}, layouts={o.layouts}, "
                  f"seed={o.seed}")
    val_desc = (f"{counts['val']['views']} simulated {o.size} px views of "
                + (f"held-out area(s) {val_text}" if o.val_areas
                   else f"held-out street blocks ({o.block_m:g} m squares, {o.val_fraction:.0%}) of {areas_text}"))
    if train_c.get("random_look"):
        train_desc += f"; {train_c['random_look']} views in the random look"
    if o.photometric:
        train_desc += f"; photometric randomization p={o.photometric:g}"
    if o.randomization != 1:
        train_desc += f"; domain randomization version {o.randomization} (wider random look and photometric jitter)"
    if tile:
        train_desc += (f"; train crops: {', '.join(f'{v} {k}' for k, v in sorted(train_c['crops'].items()))}"
                       f"; decoy kinds: {', '.join(f'{v} {k}' for k, v in sorted(train_c['decoys'].items()))}")
    data_yaml = write_data_yaml(out, extra={"description": train_desc, "val_description": val_desc})
    min_side = float(train_c["min_side"]) if np.isfinite(train_c["min_side"]) else float("nan")
    floor = o.scale_floor_px
    scale = safe_scale(min_side, floor_px=floor) if np.isfinite(min_side) else 0.0
    args_path = write_train_args(out, {
        "imgsz": int(tile or o.size),  # crops at native scale: train at their size, predict full views
        "scale": scale, "mosaic": 1.0, "translate": 0.1, "fliplr": 0.5, "degrees": 0.0, "close_mosaic": 2},
        comment=(f"ultralytics training arguments for this dataset (camcensus train --arg KEY=VALUE).\n"
                 f"scale {scale:g}: the smallest train box side is {min_side:.2f} px and scale augmentation\n"
                 f"(zoom in [1 - scale, 1 + scale]) must keep it >= {floor:g} px: "
                 f"min side * (1 - scale) >= {floor:g}.\n"
                 f"imgsz: train at the crop size (native scale); predict on full views."))
    share_empty = {s: round(c["empty"] / c["views"], 3) if c["views"] else 0.0 for s, c in counts.items()}
    return SynthResult(data_yaml=data_yaml, n_views={s: c["views"] for s, c in counts.items()},
                       n_images={s: c["images"] for s, c in counts.items()},
                       n_boxes={s: c["boxes"] for s, c in counts.items()}, share_empty=share_empty,
                       seconds=round(time.time() - started, 1), crops=dict(train_c["crops"]),
                       decoys=dict(train_c["decoys"]), classes=dict(train_c["classes"]), train_args=args_path)


def zlib_hash(text: str) -> int:
    import zlib

    return zlib.crc32(text.encode())


def _plain_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _layout_spec(sim_cameras: str | None, layout_seed: int) -> str | None:
    """``random:D`` gets a per-layout seed; other specs stay as they are."""
    if sim_cameras and sim_cameras.startswith("random:") and sim_cameras.count(":") == 1:
        return f"{sim_cameras}:{layout_seed}"
    return sim_cameras


def _views_in_scene(points: pd.DataFrame, views: pd.DataFrame, scene) -> pd.DataFrame:
    """Views with the eye position in the scene's CRS (m) and the heading from grid north."""
    from pyproj import CRS, Transformer

    from geo.streets.sampling import true_north_correction

    crs = CRS.from_user_input(scene.crs)
    to_scene = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    lon, lat = views["lon"].to_numpy(float), views["lat"].to_numpy(float)
    x, y = to_scene.transform(lon, lat)
    heading = (views["heading"].to_numpy(float) - true_north_correction(lon, lat, crs)) % 360
    street = views["point_id"].map(points.set_index("point_id")["street_id"])
    return pd.DataFrame({"view_id": views["view_id"].astype(str).to_numpy(), "street_id": street.to_numpy(),
                         "x": x, "y": y, "heading": heading, "pitch": views["pitch"].to_numpy(float),
                         "fov": views["fov"].to_numpy(float)})


def _block_split(table: pd.DataFrame, *, block_m: float, val_fraction: float, seed: int, salt: str) -> np.ndarray:
    """'val' for every view of a street whose mean point falls in a val block, else 'train'."""
    centre = table.groupby("street_id")[["x", "y"]].transform("mean")
    bx = np.floor(centre["x"].to_numpy() / block_m).astype(int)
    by = np.floor(centre["y"].to_numpy() / block_m).astype(int)
    draws = np.array([_unit_hash(f"{salt}|{seed}|{i}|{j}") for i, j in zip(bx, by)])
    return np.where(draws < val_fraction, "val", "train")


def _unit_hash(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def _choose_views(pools: list[_AreaViews], *, views: int, val_share: float | None, seed: int,
                  ) -> list[tuple[int, pd.Series]]:
    """A seeded random subset of all candidate views (no view twice), ``views`` in all.

    With held-out areas (``val_share`` given), ``round(views * val_share)`` come from them."""
    rng = np.random.default_rng([seed, 3])
    frames = []
    for i, pool in enumerate(pools):
        frame = pool.views.copy()
        frame["pool"] = i
        frames.append(frame)
    candidates = pd.concat(frames, ignore_index=True)
    if val_share is None:
        groups = {"all": candidates}
        wanted = {"all": views}
    else:
        n_val = int(round(views * val_share)) if val_share > 0 else max(1, views // 5)
        groups = {"train": candidates[candidates.split == "train"], "val": candidates[candidates.split == "val"]}
        wanted = {"train": views - n_val, "val": n_val}
    chosen = []
    for key, group in groups.items():
        n = min(wanted[key], len(group))
        pick = group.iloc[np.sort(rng.choice(len(group), size=n, replace=False))] if n else group.iloc[0:0]
        chosen += [(int(row.pool), row) for row in pick.itertuples(index=False)]
    if not chosen:
        raise DetectorInputError("no views to render: the areas have no streets")
    return chosen


def _enrich_positives(chosen: list[tuple[int, pd.Series]], pools: list[_AreaViews], *, min_positive: float,
                      size: int, seed: int) -> list[tuple[int, pd.Series]]:
    """Swap train views without a camera for unused train views with one until ``min_positive``
    of the train views show a camera (or the training streets run out of them)."""
    from geo.sim.render import boxes_for_view

    def has_camera(pool_index: int, row) -> bool:
        boxes = boxes_for_view(pools[pool_index].scene, x=row.x, y=row.y, heading=row.heading, pitch=row.pitch,
                               fov=row.fov, width=size, height=size)
        return len(boxes) > 0

    train = [(p, r) for p, r in chosen if r.split == "train"]
    others = [(p, r) for p, r in chosen if r.split != "train"]
    flags = [has_camera(p, r) for p, r in train]
    positives = [c for c, f in zip(train, flags) if f]
    negatives = [c for c, f in zip(train, flags) if not f]
    wanted = int(np.ceil(min_positive * len(train)))
    used = {(p, r.view_id) for p, r in chosen}
    rng = np.random.default_rng([seed, 5])
    spare = [(i, row) for i, pool in enumerate(pools) for row in pool.views.itertuples(index=False)
             if row.split == "train" and (i, row.view_id) not in used]
    extra = []
    for k in rng.permutation(len(spare)):
        if len(positives) + len(extra) >= wanted or len(extra) >= len(negatives):
            break
        if has_camera(*spare[k]):
            extra.append(spare[k])
    return others + positives + extra + negatives[:len(negatives) - len(extra)]


def _read_progress(out: Path) -> dict[str, dict]:
    path = out / "progress.txt"
    if not path.is_file():
        return {}
    done = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a crash
            continue
        done[record["name"]] = record
    return done


def _count(counts: dict, record: dict) -> None:
    c = counts[record["split"]]
    c["views"] += 1
    c["images"] += record["n_images"]
    c["boxes"] += record["n_boxes"]
    c["empty"] += record["n_boxes"] == 0
    c["random_look"] = c.get("random_look", 0) + (record.get("style") == "random")
    _count_crops(c, record)


def _count_crops(c: dict, record: dict) -> None:
    for key in ("crops", "decoys", "classes"):
        for kind, n in (record.get(key) or {}).items():
            c[key][kind] = c[key].get(kind, 0) + n
    if record.get("min_side") is not None:
        c["min_side"] = min(c["min_side"], record["min_side"])


_CROP_KINDS = {"c": "camera", "a": "away", "d": "decoy", "s": "sky", "f": "full", "z": "small",
               "y": "small_decoy"}


def _draw_count(rng: np.random.Generator, mean: float) -> int:
    """``mean`` as a whole count: its integer part plus one with the fraction's probability."""
    return int(mean) + int(rng.random() < mean - int(mean))


def _box_stats(written: list[pd.DataFrame]) -> dict:
    """Boxes per class and the smallest box side (px) over the images written for one view."""
    classes: dict[str, int] = {}
    min_side = None
    for boxes in written:
        for name in boxes["class_name"]:
            classes[name] = classes.get(name, 0) + 1
        if len(boxes):
            side = float(np.minimum(boxes.x2 - boxes.x1, boxes.y2 - boxes.y1).min())
            min_side = side if min_side is None else min(min_side, side)
    return {"classes": classes, "min_side": min_side}


def decoys_from_view(scene, *, x: float, y: float, heading: float, pitch: float = 0.0, fov: float = 90.0,
                     width: int = 640, height: int = 640) -> pd.DataFrame:
    """The scene's camera-like objects in front of a view: kind, u, v (px, the object's anchor
    point, about where the renderer draws it), dist (m), half (px, about half its drawn size).

    Occlusion by walls is not checked (a hidden decoy still gives a camera-free crop). Cars are
    placed at wheel height. ``pitch`` (deg, up positive) moves rows as a pinhole camera would."""
    from geo.sim.render import focal_px

    objects = scene.objects
    columns = ["kind", "u", "v", "dist", "half"]
    if objects is None or not len(objects):
        return pd.DataFrame(columns=columns)
    objects = objects[objects["kind"].isin(DECOY_KINDS)]
    f = focal_px(fov, width)
    h = np.radians(heading)
    dx, dy = objects["x"].to_numpy(float) - x, objects["y"].to_numpy(float) - y
    depth = dx * np.sin(h) + dy * np.cos(h)
    side = dx * np.cos(h) - dy * np.sin(h)
    kind = objects["kind"].to_numpy()
    z = np.where(kind == "car", 0.35, objects["z"].to_numpy(float))
    dist = np.hypot(dx, dy)
    size_m = objects["size_m"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = width / 2 + f * side / depth
        elevation = np.arctan2(z - EYE_HEIGHT_M, depth) - np.radians(pitch)
        v = height / 2 - f * np.tan(elevation)
        half = np.maximum(np.where(kind == "car", 0.5, 1.3 * size_m) * f / depth, 4.0)
    limit = np.where(np.isin(kind, list(SMALL_KINDS)), DECOY_RANGE_M["small"], DECOY_RANGE_M["other"])
    keep = (depth > 0.5) & (dist < limit) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
    return pd.DataFrame({"kind": kind[keep], "u": u[keep], "v": v[keep], "dist": dist[keep], "half": half[keep]},
                        columns=columns).reset_index(drop=True)


def _decoy_crops(image: np.ndarray, boxes: pd.DataFrame, scene, row, *, size: int, n: int,
                 rng: np.random.Generator, kinds: dict[str, int]) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
    """Up to ``n`` camera-free crops around decoys of the view (kind drawn uniformly, then one of it)."""
    if n <= 0:
        return []
    height, width = image.shape[:2]
    decoys = decoys_from_view(scene, x=row.x, y=row.y, heading=row.heading, pitch=row.pitch, fov=row.fov,
                              width=width, height=height)
    out = []
    for j in range(n):
        if decoys.empty:
            break
        kind = rng.choice(sorted(set(decoys.kind)))
        pick = decoys[decoys.kind == kind]
        d = pick.iloc[int(rng.integers(len(pick)))]
        target = (d.u - d.half, d.v - d.half, d.u + d.half, d.v + d.half)
        made = crop_around(image, boxes, target, size=size, rng=rng, avoid_boxes=True)
        decoys = decoys.drop(index=d.name)
        if made is not None:
            out.append((f"d{j}", *made))
            kinds[kind] = kinds.get(kind, 0) + 1
    return out


def _sky_crops(image: np.ndarray, boxes: pd.DataFrame, *, size: int, n: int, rng: np.random.Generator,
               ) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
    """Up to ``n`` camera-free crops along the top edge of the view (sky, roofs, birds)."""
    width = image.shape[1]
    out = []
    for j in range(n):
        x0 = float(rng.integers(0, max(width - size, 0) + 1))
        made = crop_around(image, boxes, (x0, 0.0, x0 + min(size, width), 1.0), size=size, rng=rng,
                           avoid_boxes=True)
        if made is not None:
            out.append((f"s{j}", *made))
    return out


def balance_classes(root: Path, split: str) -> dict[str, int]:
    """Mirror (left-right) the split's images that show only the rarer class, in a seeded order,
    until its box count reaches the commoner class's or such images run out. Returns the boxes
    added per class. Idempotent: mirrors already written (``*_mirror.jpg``) are counted, not redone."""
    import cv2

    from detector.yolo_dataset import CLASS_NAMES, boxes_from_label_file, label_path_of

    images = sorted(p for p in (root / "images" / split).glob("*.jpg"))
    totals = {name: 0 for name in CLASS_NAMES}
    only: dict[str, list[tuple[Path, pd.DataFrame]]] = {name: [] for name in CLASS_NAMES}
    mirrored = {p.name.replace("_mirror.jpg", ".jpg") for p in images if p.name.endswith("_mirror.jpg")}
    for path in images:
        label = label_path_of(path)
        if not label.is_file() or not label.read_text(encoding="utf-8").strip():
            continue
        side = 1  # crops are square; the size only scales the label fractions
        boxes = boxes_from_label_file(label, side, side)
        for name in boxes["class_name"]:
            totals[name] += 1
        names = set(boxes["class_name"])
        if len(names) == 1 and not path.name.endswith("_mirror.jpg") and path.name not in mirrored:
            only[names.pop()].append((path, boxes))
    rare, common = sorted(totals, key=totals.get)[0], sorted(totals, key=totals.get)[-1]
    added = {name: 0 for name in CLASS_NAMES}
    order = np.random.default_rng(7).permutation(len(only[rare]))
    for k in order:
        if totals[rare] + added[rare] >= totals[common]:
            break
        path, boxes = only[rare][k]
        image = cv2.imread(str(path))
        if image is None:
            continue
        height, width = image.shape[:2]
        flipped = boxes.assign(x1=1 - boxes.x2, x2=1 - boxes.x1)
        flipped[["x1", "x2"]] *= width
        flipped[["y1", "y2"]] *= height
        write_example(root, split, path.stem + "_mirror", np.ascontiguousarray(image[:, ::-1]), flipped)
        added[rare] += len(boxes)
    return added


def _check_mine_dir(survey: Path, val_areas: list[str]) -> Path:
    """A survey folder to mine: it must hold detections, truth boxes and images of a training area."""
    import tomllib

    for needed in ("detections", "truth_boxes.parquet", "images.parquet"):
        if not (survey / needed).exists():
            raise DetectorInputError(f"--mine {survey}: no {needed} (need a finished simulated survey)")
    area = ""
    if (survey / "survey.toml").is_file():
        options = tomllib.loads((survey / "survey.toml").read_text(encoding="utf-8"))
        area = str(options.get("survey", {}).get("area", ""))
    names = {str(a) for a in val_areas} | {Path(a).name for a in val_areas}
    if area and (area in names or Path(area).name in names):
        raise DetectorInputError(f"--mine {survey}: its area {area} is held out for validation")
    return survey


def _mined_crops(survey: Path, *, size: int, conf: float, per_image: int, rng: np.random.Generator,
                 ) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
    """Crops around a survey's false detections (conf >= ``conf``, IoU < 0.1 with every true box,
    the strongest ``per_image`` of each image), labelled with the image's true boxes."""
    import cv2

    from detector.matching import iou_matrix

    detections = pd.read_parquet(survey / "detections")
    truth = pd.read_parquet(survey / "truth_boxes.parquet")
    images = pd.read_parquet(survey / "images.parquet")
    images = images[images["status"] == "ok"] if "status" in images else images
    paths = dict(zip(images["image_id"].astype(str), images["path"].astype(str)))
    detections = detections[detections["conf"] >= conf]
    cols = ["x1", "y1", "x2", "y2"]
    out = []
    truth_by_image = {k: g for k, g in truth.groupby(truth["image_id"].astype(str))}
    for image_id, group in detections.groupby(detections["image_id"].astype(str)):
        if image_id not in paths:
            continue
        true = truth_by_image.get(image_id, truth.iloc[0:0])
        ious = iou_matrix(group[cols].to_numpy(float), true[cols].to_numpy(float))
        false = group[(ious.max(axis=1) if ious.shape[1] else np.zeros(len(group))) < 0.1]
        if false.empty:
            continue
        image = cv2.imread(str(survey / paths[image_id]))
        if image is None:
            continue
        true_boxes = true[["class_name", *cols]].reset_index(drop=True)
        for det in false.sort_values("conf", ascending=False).head(per_image).itertuples(index=False):
            made = crop_around(image, true_boxes, (det.x1, det.y1, det.x2, det.y2), size=size, rng=rng)
            if made is not None:
                out.append((image_id, *made))
    return out


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def _write_ranges(path: Path, name: str, boxes: pd.DataFrame, scene, row) -> None:
    """Append each box of view ``name`` with its true horizontal range (m) from the viewpoint."""
    if not len(boxes):
        return
    cams = scene.cameras.set_index(scene.cameras["camera_id"].astype(str))
    ids = boxes["camera_id"].astype(str)
    dx = cams.loc[ids, "x"].to_numpy(float) - float(row.x)
    dy = cams.loc[ids, "y"].to_numpy(float) - float(row.y)
    table = boxes[["class_name", "x1", "y1", "x2", "y2"]].copy()
    table.insert(0, "image", name)
    table["range_m"] = np.round(np.hypot(dx, dy), 3)
    table.to_csv(path, mode="a", header=not path.is_file(), index=False)


def _small_crops(image: np.ndarray, boxes: pd.DataFrame, *, size: int, n: int, px: tuple[float, float],
                 rng: np.random.Generator) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
    """Up to ``n`` zoom-out crops, each around a camera of the view shrunk to a side drawn in ``px``
    (as far as the view allows: the window is at most the view's side)."""
    out = []
    if not len(boxes) or n <= 0:
        return out
    height, width = image.shape[:2]
    sides = np.sqrt((boxes.x2 - boxes.x1) * (boxes.y2 - boxes.y1)).to_numpy(float)
    most = min(height, width) / size
    usable = np.flatnonzero(sides * 0.85 > px[0])  # can shrink at least 15% and stay >= px[0]
    for j in range(n):
        if not len(usable):
            break
        i = int(rng.choice(usable))
        factor = min(most, sides[i] / rng.uniform(*px))
        if factor < 1.15:
            continue
        b = boxes.iloc[i]
        made = zoom_out_crop(image, boxes, (b.x1, b.y1, b.x2, b.y2), size=size, factor=factor, rng=rng)
        if made is not None:
            out.append((f"z{j}", *made))
    return out


def _small_decoy_crops(image: np.ndarray, boxes: pd.DataFrame, scene, row, *, size: int, n: int,
                       px: tuple[float, float], rng: np.random.Generator, kinds: dict[str, int],
                       ) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
    """Up to ``n`` zoom-out crops around decoys shrunk towards ``px`` (hard negatives the size of a
    distant camera); cameras that fall in the window keep their (scaled) labels."""
    if n <= 0:
        return []
    height, width = image.shape[:2]
    decoys = decoys_from_view(scene, x=row.x, y=row.y, heading=row.heading, pitch=row.pitch, fov=row.fov,
                              width=width, height=height)
    most = min(height, width) / size
    out = []
    for j in range(n):
        if decoys.empty:
            break
        kind = rng.choice(sorted(set(decoys.kind)))
        pick = decoys[decoys.kind == kind]
        d = pick.iloc[int(rng.integers(len(pick)))]
        decoys = decoys.drop(index=d.name)
        factor = float(np.clip(2 * d.half / rng.uniform(*px), 1.15, most))
        target = (d.u - d.half, d.v - d.half, d.u + d.half, d.v + d.half)
        made = zoom_out_crop(image, boxes, target, size=size, factor=factor, rng=rng)
        if made is not None:
            out.append((f"y{j}", *made))
            kinds[f"small_{kind}"] = kinds.get(f"small_{kind}", 0) + 1
    return out
