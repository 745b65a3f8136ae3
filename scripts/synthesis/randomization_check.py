"""Check a domain randomization version (issue 28) without the held-out look: speed, look, recall.

    python -m scripts.synthesis.randomization_check OUT [--views 400] [--speed-views 100]
        [--model cctv-yolo11n-synth3] [--conf 0.52] [--cameras random:60:4343] [--seed 4343]

1. Speed: renders the same ``--speed-views`` 640 px views of ``test.osm.pbf`` in the "default"
   look, round 3's random look (randomization 1) and the wider one (2), in two alternating rounds
   in this one process, and prints CPU seconds per view and the ratio wide / round 3.
2. Sample sets: ``OUT/default``, ``OUT/random1``, ``OUT/random2``: the same ``--views`` full views of
   ``test.osm.pbf`` (val only, camera layout and seed no training round or held-out set uses) in
   the three looks, as YOLO datasets (resumable).
3. Look: the per-image look statistics (``detector.look``) of each set, as ranges (5%, median, 95%).
4. Recall: the shipped model on each set at ``--conf`` (``scripts.validation.detector_heldout``'s
   table with these three looks in place of its own): a harder training look shows up as lower
   recall of the shipped detector.
5. ``OUT/contact-random2.png``: crops around cameras of the wider look (boxes drawn in red) and
   ``OUT/views-random2.png``: whole views.
6. Boxes: per version, the same cameras' boxes against the default look's (width and height ratio,
   IoU), and each box's contrast against a 4 px ring around it (boxes >= 8 px).
7. ``--ablations``: the same views with the housings swapped, to tell the housings' share of a
   recall drop from the light's, sky's, facades' and photometry's: ``default-wideh`` (the default
   look with version 2's housings), ``random2-defh`` (version 2 with the default look's housings)
   and ``random1-wideh`` (version 1 with version 2's housings). The swap patches
   ``geo.sim.render._camera_sprite_for`` in this process only (a diagnosis, not a look to train on).

Writes ``OUT/check.json`` and prints Markdown tables. The "alt" look is never rendered or read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SETS = {"default": ("default", 1), "random1": ("random", 1), "random2": ("random", 2)}
ABLATIONS = {"default-wideh": ("default", 1, "wide"), "random2-defh": ("random", 2, "default"),
             "random1-wideh": ("random", 1, "wide")}


def _housings(kind: str | None):
    """A stand-in for ``render._camera_sprite_for`` drawing ``kind`` housings ("default": the default
    look's; "wide": version 2's, seeded per view from its light), or None to keep the look's own."""
    from geo.sim import randomize, render

    if kind is None:
        return render._camera_sprite_for
    if kind == "default":
        return lambda row, view, u, v, scale, light: render._camera_sprite(row, view, u, v, scale, look=None)
    return lambda row, view, u, v, scale, light: randomize.camera_sprite_wide(
        row, view, u, v, scale, look={"shape_seed": int(light["sun"][0] * 1e6) & 0x7FFFFFFF}, pen_cls=render._Pen)


def _test_pbf() -> str:
    import pyrosm

    return pyrosm.get_data("test_pbf")


def speed(*, n: int, cameras: str, seed: int) -> dict:
    """CPU seconds per 640 px view for each look (two alternating rounds), and wide / round 3."""
    from geo.sim.render import render_view
    from geo.sim.scene import scene_from_area
    from geo.streets.network import graph_from_area
    from geo.streets.sampling import views_from_graph
    from scripts.synthesis.dataset import _views_in_scene

    area = _test_pbf()
    graph = graph_from_area(area)
    scene = scene_from_area(area, graph=graph, sim_cameras=cameras, seed=seed)
    points, views = views_from_graph(graph, method="systematic", spacing=20, seed=seed, sides="both")
    views = _views_in_scene(points, views, scene).sample(n, random_state=seed)
    cpu = {name: 0.0 for name in SETS}
    for _ in range(2):
        for name, (style, version) in SETS.items():
            start = time.process_time()
            for k, row in enumerate(views.itertuples()):
                render_view(scene, x=row.x, y=row.y, heading=row.heading, pitch=row.pitch, fov=row.fov,
                            seed=seed + k, style=style, **({"randomization": version} if version != 1 else {}))
            cpu[name] += time.process_time() - start
    per_view = {name: round(t / (2 * n), 4) for name, t in cpu.items()}
    return {"views": n, "cpu_s_per_view": per_view,
            "ratio_random2_to_random1": round(per_view["random2"] / per_view["random1"], 3),
            "ratio_random1_to_default": round(per_view["random1"] / per_view["default"], 3)}


def sample_sets(out: Path, *, views: int, cameras: str, seed: int, sets: dict | None = None) -> dict[str, Path]:
    """The same val views of test.osm.pbf in each look (``sets``: ``SETS`` by default, or
    ``ABLATIONS``); returns name -> data.yaml."""
    from geo.sim import render
    from scripts.synthesis.dataset import synth_dataset

    paths = {}
    own = render._camera_sprite_for
    try:
        for name, (style, version, *housing) in (sets or SETS).items():
            render._camera_sprite_for = _housings(housing[0] if housing else None)
            result = synth_dataset(out / name, areas=["demo"], val_areas=[_test_pbf()],
                                   sim_cameras=["random:8", cameras], views=2 * views, val_fraction=0.5, seed=seed,
                                   size=640, style=style, val_only=True, randomization=version)
            paths[name] = result.data_yaml
    finally:
        render._camera_sprite_for = own
    return paths


def look_ranges(out: Path) -> dict:
    """Per set and look statistic: the 5%, 50% and 95% quantiles over its images."""
    from detector.look import LOOK_COLUMNS, look_table

    ranges = {}
    for name in SETS:
        table = look_table(sorted((out / name / "images" / "val").glob("*.jpg")), workers=2)
        ranges[name] = {c: [round(float(q), 3) for q in np.quantile(table[c], [0.05, 0.5, 0.95])] for c in LOOK_COLUMNS}
    return ranges


def recall_table(out: Path, *, model: str, conf: float, names=tuple(SETS)) -> list[dict]:
    """The shipped model's recall by size band on the sets ``names`` (the held-out table's code; the
    ratio column is to the first)."""
    import scripts.validation.detector_heldout as heldout

    heldout.LOOKS = tuple(names)  # these sets in place of the fixed held-out ones (this process only)
    return heldout.table_from_sets(out, [model], conf=conf, cache=out / "pred")


def _val_boxes(out: Path, name: str) -> dict:
    from detector.yolo_dataset import boxes_from_label_file

    return {p.stem: boxes_from_label_file(p, 640, 640) for p in sorted((out / name / "labels" / "val").glob("*.txt"))}


def box_agreement(out: Path, name: str) -> dict:
    """Per class, the set's boxes (>= 8 px in the default look) against the same cameras' default
    boxes (best IoU in the same view): median width and height ratio, median IoU, share IoU >= 0.5."""
    import pandas as pd

    base, other = _val_boxes(out, "default"), _val_boxes(out, name)
    rows = []
    for stem, boxes in base.items():
        theirs = other.get(stem)
        for b in boxes.itertuples():
            if np.sqrt((b.x2 - b.x1) * (b.y2 - b.y1)) < 8:
                continue
            if theirs is None or not len(theirs):
                rows.append((b.class_name, np.nan, np.nan, 0.0))
                continue
            ix = np.clip(np.minimum(b.x2, theirs.x2) - np.maximum(b.x1, theirs.x1), 0, None)
            iy = np.clip(np.minimum(b.y2, theirs.y2) - np.maximum(b.y1, theirs.y1), 0, None)
            union = (b.x2 - b.x1) * (b.y2 - b.y1) + (theirs.x2 - theirs.x1) * (theirs.y2 - theirs.y1) - ix * iy
            iou = (ix * iy / union).to_numpy()
            m = theirs.iloc[int(np.argmax(iou))]
            rows.append((b.class_name, (m.x2 - m.x1) / (b.x2 - b.x1), (m.y2 - m.y1) / (b.y2 - b.y1), float(iou.max())))
    t = pd.DataFrame(rows, columns=["cls", "w", "h", "iou"])
    return {c: {"n": len(g), "w_ratio": round(float(g.w.median()), 2), "h_ratio": round(float(g.h.median()), 2),
                "iou": round(float(g.iou.median()), 2), "iou_ge_0.5": round(float((g.iou >= 0.5).mean()), 2)}
            for c, g in t.groupby("cls")}


def housing_contrast(out: Path, name: str) -> dict:
    """Boxes >= 8 px: the 90th percentile of |pixel - the median of a 4 px ring around the box| (max over
    B, G, R), grey levels; its 10/25/50% quantiles and the share under 15."""
    import cv2

    values = []
    for stem, boxes in _val_boxes(out, name).items():
        image = cv2.imread(str(out / name / "images" / "val" / f"{stem}.jpg")).astype(np.float32)
        for b in boxes.itertuples():
            if np.sqrt((b.x2 - b.x1) * (b.y2 - b.y1)) < 8:
                continue
            x1, y1, x2, y2 = int(b.x1), int(b.y1), int(np.ceil(b.x2)), int(np.ceil(b.y2))
            X1, Y1, X2, Y2 = max(x1 - 4, 0), max(y1 - 4, 0), min(x2 + 4, 640), min(y2 + 4, 640)
            ring = np.ones((Y2 - Y1, X2 - X1), bool)
            ring[y1 - Y1:y2 - Y1, x1 - X1:x2 - X1] = False
            background = np.median(image[Y1:Y2, X1:X2][ring], axis=0)
            values.append(np.quantile(np.abs(image[y1:y2, x1:x2].reshape(-1, 3) - background).max(axis=1), 0.9))
    v = np.array(values)
    return {"n": len(v), "q10_25_50": [round(float(q), 1) for q in np.quantile(v, [0.1, 0.25, 0.5])],
            "share_under_15": round(float((v < 15).mean()), 3)}


def contact_sheets(out: Path, name: str = "random2", *, n_crops: int = 48, n_views: int = 12) -> None:
    """Crops (96 px, shown 2x) around the set's boxes of 10 px and more, and whole views (320 px)."""
    import cv2

    from detector.yolo_dataset import boxes_from_label_file

    images = sorted((out / name / "images" / "val").glob("*.jpg"))
    crops, whole = [], []
    for path in images:
        image = cv2.imread(str(path))
        boxes = boxes_from_label_file(out / name / "labels" / "val" / (path.stem + ".txt"), *image.shape[1::-1])
        if len(whole) < n_views and len(boxes):
            whole.append(cv2.resize(image, (320, 320), interpolation=cv2.INTER_AREA))
        padded = cv2.copyMakeBorder(image, 48, 48, 48, 48, cv2.BORDER_CONSTANT)
        for b in boxes.itertuples():
            if min(b.x2 - b.x1, b.y2 - b.y1) < 10 or len(crops) >= n_crops:
                continue
            cx, cy = int((b.x1 + b.x2) / 2), int((b.y1 + b.y2) / 2)
            crop = cv2.resize(padded[cy:cy + 96, cx:cx + 96], (192, 192), interpolation=cv2.INTER_NEAREST)
            x1, y1 = int(round((b.x1 - cx + 48) * 2)), int(round((b.y1 - cy + 48) * 2))
            x2, y2 = int(round((b.x2 - cx + 48) * 2)), int(round((b.y2 - cy + 48) * 2))
            cv2.rectangle(crop, (x1 - 1, y1 - 1), (x2, y2), (0, 0, 255), 1)
            crops.append(crop)
    for tiles, cols, file in ((crops, 8, f"contact-{name}.png"), (whole, 4, f"views-{name}.png")):
        if not tiles:
            continue
        while len(tiles) % cols:
            tiles.append(np.zeros_like(tiles[0]))
        cv2.imwrite(str(out / file), np.vstack([np.hstack(tiles[k:k + cols]) for k in range(0, len(tiles), cols)]))


def markdown(report: dict) -> str:
    lines = ["| statistic | " + " | ".join(SETS) + " |", "|---|" + "---|" * len(SETS)]
    for column in next(iter(report["look"].values())):
        cells = [f"{r[column][1]:.2f} ({r[column][0]:.2f}-{r[column][2]:.2f})" for r in report["look"].values()]
        lines.append(f"| {column} | " + " | ".join(cells) + " |")
    if report.get("recall"):
        import scripts.validation.detector_heldout as heldout

        lines += ["", heldout.markdown_from_rows(report["recall"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder for the sample sets and the report")
    parser.add_argument("--views", type=int, default=400, help="views per sample set (640 px). Default 400.")
    parser.add_argument("--speed-views", type=int, default=100, help="views per look for the speed ratio "
                        "(0: skip). Default 100.")
    parser.add_argument("--model", default="cctv-yolo11n-synth3", help="model for the recall table ('' to skip). "
                        "Default cctv-yolo11n-synth3.")
    parser.add_argument("--conf", type=float, default=0.52, help="its threshold 0-1. Default 0.52 (its card's).")
    parser.add_argument("--cameras", default="random:60:4343", help="camera spec of test.osm.pbf (cameras per "
                        "street km and layout seed). Default random:60:4343.")
    parser.add_argument("--seed", type=int, default=4343, help="view and scene seed. Default 4343.")
    parser.add_argument("--ablations", action="store_true", help="also the housing swaps (item 6). Default off.")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"args": vars(args)}
    if args.speed_views:
        report["speed"] = speed(n=args.speed_views, cameras=args.cameras, seed=args.seed)
        print(json.dumps(report["speed"]), flush=True)
    sample_sets(out, views=args.views, cameras=args.cameras, seed=args.seed)
    report["look"] = look_ranges(out)
    if args.ablations:
        sample_sets(out, views=args.views, cameras=args.cameras, seed=args.seed, sets=ABLATIONS)
    if args.model:
        names = ("default", "random1", "random2", *(ABLATIONS if args.ablations else ()))
        report["recall"] = recall_table(out, model=args.model, conf=args.conf, names=names)
    report["boxes"] = {name: box_agreement(out, name) for name in ("random1", "random2")}
    report["contrast"] = {name: housing_contrast(out, name) for name in SETS}
    print(json.dumps({"boxes": report["boxes"], "contrast": report["contrast"]}), flush=True)
    contact_sheets(out)
    (out / "check.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
