"""`camcensus dataset synth`: a YOLO dataset rendered by the simulator, split by geography.

For each area: its street graph (``geo.network``), systematic viewpoints along every street
(``geo.sampling.views_from_graph``, both sides) and a simulated scene (``geo.sim.scene``); a random
subset of the views is rendered (``geo.sim.render.render_view``), so the share of views without a
camera stays what a survey would see. Train and val never share a street:

- ``val_areas``: whole areas held out for validation (training areas then give only train views);
- otherwise streets are grouped into square blocks of ``block_m`` metres (by the street's mean
  point) and a seeded draw sends each block, with all its streets, to val with ``val_fraction``.

Val images are full views (evaluation happens at full resolution, in original pixels); train
views are written whole or, with ``tile``, as crops around and away from cameras
(``detector.yolo_dataset.tiles_from_view``). Re-running the same command resumes: views listed
in ``progress.txt`` are skipped.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from detector.errors import DetectorInputError
from detector.yolo_dataset import tiles_from_view, write_data_yaml, write_example


@dataclass(frozen=True)
class SynthResult:
    data_yaml: Path
    n_views: dict[str, int]  # rendered views per split
    n_images: dict[str, int]  # written images per split (tiles for a tiled train split)
    n_boxes: dict[str, int]
    share_empty: dict[str, float]  # share of rendered views without a camera, per split
    seconds: float


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
                  size: int = 640, log: Callable[[str], None] | None = None) -> SynthResult:
    """Render ``views`` simulated views (train + val) of ``areas`` into the YOLO dataset ``out``.

    ``sim_cameras``: the simulator's camera spec for every area, or one per area in the order
    ``areas + val_areas`` (None: the simulator's default per area); ``layouts`` > 1
    builds that many scenes per area with different seeds (camera layouts, furniture) when the
    spec is ``random:D`` without its own seed. ``spacing`` (m) between viewpoints, ``size`` (px)
    of the square views, ``tile`` (px) crop size for train images, ``n_away`` empty crops per view
    (a fraction is a probability: 0.3 gives an empty crop for 30% of the views). ``min_positive``
    > 0 enriches the TRAIN views: at least that share show a camera (negatives are swapped for
    positive views of the same training streets); val always keeps the realistic share.
    """
    from geo.network import graph_from_area
    from geo.sampling import views_from_graph
    from geo.sim.scene import scene_from_area

    log = log or _plain_log
    val_areas = list(val_areas or [])
    if not areas:
        raise DetectorInputError("give at least one --area to render")
    if views < 1:
        raise DetectorInputError(f"--views must be >= 1, got {views}")
    if not 0 <= val_fraction < 1:
        raise DetectorInputError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    if tile is not None and not 32 <= tile <= size:
        raise DetectorInputError(f"--tile must be between 32 and the view size {size} px, got {tile}")
    all_areas = areas + val_areas
    specs = sim_cameras if isinstance(sim_cameras, list) else [sim_cameras] * len(all_areas)
    if len(specs) == 1:
        specs = specs * len(all_areas)
    if len(specs) != len(all_areas):
        raise DetectorInputError(f"give one --sim-cameras for all areas or one per area ({len(all_areas)}), "
                                 f"got {len(specs)}")
    if not 0 <= min_positive <= 1:
        raise DetectorInputError(f"--min-positive must be in [0, 1], got {min_positive}")
    if n_away < 0:
        raise DetectorInputError(f"--away must be >= 0, got {n_away}")
    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pools: list[_AreaViews] = []
    for index, spec in enumerate(all_areas):
        held_out = index >= len(areas)
        graph = graph_from_area(spec)
        points, area_views = views_from_graph(graph, method="systematic", spacing=spacing, seed=seed, sides="both")
        for layout in range(layouts):
            layout_spec = _layout_spec(specs[index], seed + layout) if layouts > 1 else specs[index]
            scene = scene_from_area(spec, graph=graph, sim_cameras=layout_spec, seed=seed + layout)
            table = _views_in_scene(points, area_views, scene)
            if held_out:
                table["split"] = "val"
            elif val_areas:
                table["split"] = "train"
            else:
                table["split"] = _block_split(table, block_m=block_m, val_fraction=val_fraction,
                                              seed=seed, salt=spec)
            pools.append(_AreaViews(spec=spec, index=index, scene=scene, views=table, layout=layout))
            log(f"{spec} layout {layout}: {len(table)} candidate views, {len(scene.cameras)} cameras, "
                f"{int((table.split == 'val').sum())} in val")
    chosen = _choose_views(pools, views=views, val_share=val_fraction if val_areas else None, seed=seed)
    if min_positive > 0:
        chosen = _enrich_positives(chosen, pools, min_positive=min_positive, size=size, seed=seed)
        log(f"train views enriched to >= {min_positive:.0%} with a camera where the streets allow")
    done = _read_progress(out)
    counts = {s: {"views": 0, "images": 0, "boxes": 0, "empty": 0} for s in ("train", "val")}
    progress = (out / "progress.txt").open("a", encoding="utf-8")
    manifest_rows = []
    try:
        from geo.sim.render import render_view

        total = len(chosen)
        for number, (pool_index, row) in enumerate(chosen, 1):
            pool = pools[pool_index]
            name = f"a{pool.index}l{pool.layout}_{row.view_id}"
            tile_rng = np.random.default_rng([seed, pool.index, pool.layout, zlib_hash(name)])
            if name in done:
                manifest_rows.append(done[name])
                _count(counts, done[name])
                continue
            image, boxes = render_view(pool.scene, x=row.x, y=row.y, heading=row.heading, pitch=row.pitch,
                                       fov=row.fov, width=size, height=size,
                                       seed=(seed * 1_000_003 + zlib_hash(name)) & 0xFFFFFFFF)
            boxes = boxes[["class_name", "x1", "y1", "x2", "y2"]]
            if row.split == "train" and tile:
                away = int(n_away) + int(tile_rng.random() < n_away - int(n_away))
                parts = tiles_from_view(image, boxes, size=tile, n_away=away, rng=tile_rng)
                for suffix, crop, crop_boxes in parts:
                    write_example(out, "train", f"{name}_{suffix}", crop, crop_boxes)
                n_images = len(parts)
            else:
                write_example(out, row.split, name, image, boxes)
                n_images = 1
            record = {"name": name, "area": pool.spec, "layout": pool.layout, "view_id": row.view_id,
                      "street_id": int(row.street_id), "split": row.split, "n_boxes": len(boxes), "n_images": n_images}
            progress.write(json.dumps(record) + "\n")
            progress.flush()
            manifest_rows.append(record)
            _count(counts, record)
            if number % 100 == 0 or number == total:
                log(f"rendered {number}/{total} views ({time.time() - started:.0f} s)")
    finally:
        progress.close()
    pd.DataFrame(manifest_rows).to_csv(out / "manifest.csv", index=False)
    short = {a: Path(a).name if ("/" in a or "\\" in a) else a for a in all_areas}
    areas_text, val_text = ", ".join(short[a] for a in areas), ", ".join(short[a] for a in val_areas)
    train_desc = (f"{counts['train']['views']} simulated views ({counts['train']['images']} "
                  f"{'tiles of ' + str(tile) + ' px' if tile else 'images'}) of {areas_text}"
                  f"{'' if val_areas else f' (streets outside the val blocks of {block_m:g} m)'}; "
                  f"sim_cameras={', '.join(str(c or 'default') for c in specs)}, layouts={layouts}, seed={seed}")
    val_desc = (f"{counts['val']['views']} simulated {size} px views of "
                + (f"held-out area(s) {val_text}" if val_areas
                   else f"held-out street blocks ({block_m:g} m squares, {val_fraction:.0%}) of {areas_text}"))
    data_yaml = write_data_yaml(out, extra={"description": train_desc, "val_description": val_desc})
    share_empty = {s: round(c["empty"] / c["views"], 3) if c["views"] else 0.0 for s, c in counts.items()}
    return SynthResult(data_yaml=data_yaml, n_views={s: c["views"] for s, c in counts.items()},
                       n_images={s: c["images"] for s, c in counts.items()},
                       n_boxes={s: c["boxes"] for s, c in counts.items()}, share_empty=share_empty,
                       seconds=round(time.time() - started, 1))


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

    from geo.sampling import true_north_correction

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
