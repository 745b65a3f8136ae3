"""The card evaluated on the card set (issues 27 and 28): figures, old against new, and every true box.

    python -m scripts.validation.card_set evaluate --data CARDSET/default/data.yaml [--model M]
        [--conf 0.50] --keep DIR
    python -m scripts.validation.card_set compare OLD.md NEW.md [--markdown OUT.md]
    python -m scripts.validation.card_set boxes --data D --predictions P.parquet --conf C [--out B.csv]

``evaluate`` is ``camcensus evaluate --update-card --new-held-out`` on the card set (the model's
card in the models directory this code resolves: run it from a worktree with ``PYTHONPATH`` set
to write that worktree's staged card), keeping the raw predictions (``DIR/predictions.parquet``)
and the figures (``DIR/scores.json``), so that ``boxes`` can score every true box without running
the model again. ``compare``: two cards' calibration bins (recall by size, precision by confidence,
false detections per image) with Wilson 95% intervals, and whether the intervals overlap.
``boxes``: one row per true box (image, class, size px, range m, image position, found at ``conf``),
for what inside a size bin decides recall.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def evaluate_card_set(data: str | Path, *, model: str, conf: float, keep: str | Path) -> dict[str, Any]:
    """Evaluate ``model`` on ``data``'s val split at ``conf`` into its card (``--new-held-out``),
    keeping the predictions and figures under ``keep``; returns the figures."""
    import detector.evaluate as evaluate
    from detector.registry import resolve_model

    keep = Path(keep)
    keep.mkdir(parents=True, exist_ok=True)
    run = evaluate.predictions_from_model

    def kept(*args, **kwargs):  # the model runs once: its predictions are kept for ``boxes``
        predictions, timing = run(*args, **kwargs)
        predictions.to_parquet(keep / "predictions.parquet")
        return predictions, timing

    resolved = resolve_model(model)
    card = resolved.card_path or resolved.path.with_suffix(".md")
    evaluate.predictions_from_model = kept
    try:
        scores = evaluate.evaluate_model(resolved, data, conf=conf, card=card, new_held_out=True,
                                         json_path=keep / "scores.json")
    finally:
        evaluate.predictions_from_model = run
    print(f"wrote {card} and {keep}/predictions.parquet, {keep}/scores.json")
    return scores


def boxes_from_set(data: str | Path, predictions: pd.DataFrame, *, conf: float) -> pd.DataFrame:
    """One row per true box of ``data``'s val split: image, class_name, size_px (sqrt(w*h)), cx, cy
    (px), range_m (``truth_ranges.csv``; NaN where missing) and found (matched at IoU 0.5, any class,
    by a detection at ``conf`` or more, matched as the card matches: boxes under 6 px are "difficult")."""
    from detector.evaluate import DIFFICULT_PX, truth_from_split
    from detector.matching import match_boxes
    from detector.yolo_dataset import read_data_yaml

    spec = read_data_yaml(data)
    images = spec.splits["val"]
    truth = truth_from_split(images, spec.names)
    sizes = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy(float)
    _, _, matched = match_boxes(predictions, truth, class_aware=False, thresholds=np.array([0.5]),
                                ignore=sizes < DIFFICULT_PX - 1e-9)  # as the card matches
    out = pd.DataFrame({"image": [Path(images[i]).stem for i in truth.image_id], "class_name": truth.class_name,
                        "x1": truth.x1, "y1": truth.y1, "x2": truth.x2, "y2": truth.y2,
                        "size_px": np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)),
                        "cx": (truth.x1 + truth.x2) / 2, "cy": (truth.y1 + truth.y2) / 2,
                        "found": matched >= conf})
    ranges_path = Path(spec.root) / "truth_ranges.csv"
    if ranges_path.is_file():
        ranges = pd.read_csv(ranges_path)
        key = ["image", "class_name", "x1", "y1", "x2", "y2"]
        out = out.assign(**{f"_{c}": out[c].round(0) for c in key[2:]})
        ranges = ranges.assign(**{f"_{c}": ranges[c].round(0) for c in key[2:]})
        on = ["image", "class_name", *(f"_{c}" for c in key[2:])]
        out = (out.merge(ranges[on + ["range_m"]].drop_duplicates(on), how="left", on=on)
               .drop(columns=on[2:]))
    return out


def survey_boxes(root: str | Path, *, conf: float) -> pd.DataFrame:
    """One row per true box of every rendered survey under ``root`` (``validate_rendered``'s cache,
    read only: ``NAME/base/truth_boxes.parquet``, ``detections``, ``views.parquet``,
    ``truth.geojson``, ``NAME/survey.json``): survey, method, style, class_name, size_px, cx, cy,
    range_m (horizontal, viewpoint to camera), found (as ``boxes_from_set``)."""
    import geopandas as gpd

    from detector.evaluate import DIFFICULT_PX
    from detector.matching import match_boxes

    parts = []
    for base in sorted(Path(root).glob("*/base")):
        meta_path = base.parent / "survey.json"
        if not (base / "truth_boxes.parquet").is_file() or not meta_path.is_file():
            continue
        meta = json.loads(meta_path.read_text())
        truth = pd.read_parquet(base / "truth_boxes.parquet")
        if not len(truth):
            continue
        det = pd.read_parquet(base / "detections")
        ids = {k: i for i, k in enumerate(sorted(set(truth.image_id) | set(det.image_id)))}
        truth = truth.assign(image_id=truth.image_id.map(ids), image=truth.image_id)
        det = det.assign(image_id=det.image_id.map(ids))
        sizes = np.sqrt((truth.x2 - truth.x1) * (truth.y2 - truth.y1)).to_numpy(float)
        _, _, matched = match_boxes(det, truth, class_aware=False, thresholds=np.array([0.5]),
                                    ignore=sizes < DIFFICULT_PX - 1e-9)
        table = pd.read_parquet(base / "views.parquet").drop(columns="geometry", errors="ignore")
        views = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.lon, table.lat), crs=4326)
        cams = gpd.read_file(base / "truth.geojson")
        crs = views.estimate_utm_crs()
        v = views.to_crs(crs).set_index("view_id").geometry
        c = cams.to_crs(crs).set_index("camera_id").geometry
        rng_m = np.hypot(c.x.reindex(truth.camera_id).to_numpy() - v.x.reindex(truth.image).to_numpy(),
                         c.y.reindex(truth.camera_id).to_numpy() - v.y.reindex(truth.image).to_numpy())
        parts.append(pd.DataFrame({"survey": base.parent.name, "method": meta.get("method"),
                                   "style": meta.get("style"), "corruption": meta.get("corruption") or "",
                                   "camera_id": truth.camera_id.to_numpy(), "class_name": truth.class_name.to_numpy(),
                                   "size_px": sizes,
                                   "cx": ((truth.x1 + truth.x2) / 2).to_numpy(),
                                   "cy": ((truth.y1 + truth.y2) / 2).to_numpy(),
                                   "range_m": rng_m, "found": matched >= conf}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def survey_quality_copy(source: str | Path, out: str | Path, *, lo_px: float = 6.0, hi_px: float = 12.0,
                        requality: bool = True, every_view: bool = False) -> Path:
    """A val-only YOLO dataset of the views of ``source`` (a data.yaml) that show a true box of
    ``lo_px``-``hi_px`` (sqrt(w*h)) (``every_view``: all views, boxes or none), each written again
    as a rendered survey writes its views
    (JPEG quality 72-92, ``geo.sim.render.jpeg_quality`` of a seed from the view's name), or as it
    is when ``requality`` is false. Returns the new data.yaml (labels copied)."""
    import shutil
    import zlib

    import cv2

    from detector.yolo_dataset import label_path_of, read_data_yaml, write_data_yaml
    from geo.sim.render import jpeg_quality

    spec = read_data_yaml(source)
    out = Path(out)
    write_data_yaml(out, names=list(spec.names))
    for image in spec.splits["val"]:
        image, label = Path(image), label_path_of(Path(image))
        if not label.is_file():
            continue
        rows = [line.split() for line in label.read_text().splitlines() if line.strip()]
        with_px = [640 * np.sqrt(float(r[3]) * float(r[4])) for r in rows]
        if not every_view and not any(lo_px <= v < hi_px for v in with_px):
            continue
        if requality:
            quality = jpeg_quality(zlib.crc32(image.name.encode()))
            cv2.imwrite(str(out / "images" / "val" / image.name), cv2.imread(str(image)),
                        [cv2.IMWRITE_JPEG_QUALITY, quality])
        else:
            shutil.copyfile(image, out / "images" / "val" / image.name)
        shutil.copyfile(label, out / "labels" / "val" / label.name)
    return out / "data.yaml"


def wilson(k: float, n: float) -> tuple[float, float] | None:
    """Wilson 95% interval of k of n (None for n = 0)."""
    from scripts.review.calibration import wilson_interval

    return wilson_interval(k, n) if n else None


def bins_from_card(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """A card's calibration as rows: recall per size bin, precision per confidence bin, false
    detections per image per confidence bin (and in all), each with k, n and its Wilson interval."""
    from detector.card import read_card

    cal = read_card(path).calibration or {}
    r, p, f = cal["recall_bins"], cal["precision_bins"], cal["false_bins"]
    edges = r["edges_px"]
    recall = [_row(f"{lo:g}-{'inf' if hi >= 1e4 else format(hi, 'g')} px", k, n)
              for lo, hi, k, n in zip(edges[:-1], edges[1:], r["found"], r["n"])]
    precision = [_row(f"conf {lo:.2f}-{hi:.2f}", k, n) for lo, hi, k, n in
                 zip(p["edges"][:-1], p["edges"][1:], p["real"], p["n"])]
    n_images = f["n_images"]
    false = [_row(f"conf {lo:.2f}-{hi:.2f}", k, n_images) for lo, hi, k in
             zip(f["edges"][:-1], f["edges"][1:], f["false"])]
    false.append(_row("all", sum(f["false"]), n_images))
    precision.append(_row("all", sum(p["real"]), sum(p["n"])))
    return {"recall": recall, "precision": precision, "false": false}


def _row(label: str, k: float, n: float) -> dict[str, Any]:
    interval = wilson(k, n)
    return {"bin": label, "k": int(k), "n": int(n), "rate": k / n if n else None,
            "lo": interval[0] if interval else None, "hi": interval[1] if interval else None}


def compare_markdown(old: str | Path, new: str | Path) -> str:
    """Markdown: the two cards' bins side by side (k/n, rate, Wilson 95%), and whether they overlap."""
    a, b = bins_from_card(old), bins_from_card(new)
    lines = []
    titles = {"recall": "Recall by true-box size (found / boxes)",
              "precision": "Precision by confidence (real / detections)",
              "false": "False detections per image by confidence (false / images)"}
    for key, title in titles.items():
        lines += [f"{title}:", "", "| bin | old k/n | old rate (95%) | new k/n | new rate (95%) | overlap |",
                  "|---|---|---|---|---|---|"]
        old_rows, new_rows = {r["bin"]: r for r in a[key]}, {r["bin"]: r for r in b[key]}
        for label in _bin_labels(a[key], b[key]):  # by bin, not by position: two cards' thresholds may differ
            x, y = old_rows.get(label), new_rows.get(label)
            overlap = ("-" if x is None or y is None or x["lo"] is None or y["lo"] is None
                       else "yes" if x["lo"] <= y["hi"] and y["lo"] <= x["hi"] else "**no**")
            lines.append(f"| {label} | {_count(x)} | {_cell(x, key)} | {_count(y)} | {_cell(y, key)} | {overlap} |")
        lines.append("")
    return "\n".join(lines)


def _bin_labels(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """Both cards' bin labels in order of their lower edge, "all" last."""
    labels = dict.fromkeys([r["bin"] for r in old] + [r["bin"] for r in new])
    return sorted((x for x in labels if x != "all"), key=_lower_edge) + (["all"] if "all" in labels else [])


def _lower_edge(label: str) -> float:
    return float(label.removeprefix("conf ").split("-")[0])


def _count(row: dict[str, Any] | None) -> str:
    return "-" if row is None else f"{row['k']}/{row['n']}"


def _cell(row: dict[str, Any] | None, key: str) -> str:
    if row is None or row["rate"] is None:
        return "n/a"
    digits = 4 if key == "false" else 2
    return f"{row['rate']:.{digits}f} ({row['lo']:.{digits}f}-{row['hi']:.{digits}f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("evaluate", help="evaluate into the model's card on the card set (--new-held-out)")
    e.add_argument("--data", required=True, help="the card set's data.yaml")
    e.add_argument("--model", default=None, help="models/ name. Default the shipped one (detector.registry.DEFAULT_MODEL).")
    e.add_argument("--conf", type=float, default=0.50, help="operating threshold 0-1. Default 0.50.")
    e.add_argument("--keep", required=True, help="folder for predictions.parquet and scores.json")
    c = sub.add_parser("compare", help="two cards' bins with Wilson 95%% intervals")
    c.add_argument("old")
    c.add_argument("new")
    c.add_argument("--markdown", default=None, help="also write the tables here")
    b = sub.add_parser("boxes", help="one row per true box, found or not")
    b.add_argument("--data", required=True)
    b.add_argument("--predictions", required=True, help="Parquet of predictions (evaluate's or detector_heldout's)")
    b.add_argument("--conf", type=float, default=0.50, help="operating threshold 0-1. Default 0.50.")
    b.add_argument("--out", default=None, help="CSV to write (default: print a summary only)")
    q = sub.add_parser("jpeg", help="the card set's views with a 6-12 px box, as they are and as surveys write them")
    q.add_argument("--data", required=True, help="the card set's data.yaml")
    q.add_argument("--out", required=True, help="folder for the two sets (orig, survey)")
    q.add_argument("--every-view", action="store_true", help="every view, not only those with a 6-12 px box; "
                   "writes the survey-quality set only (for the false rate per image)")
    r = sub.add_parser("surveys", help="one row per true box of the cached rendered surveys, found or not")
    r.add_argument("--root", required=True, help="validate_rendered's cache (read only)")
    r.add_argument("--conf", type=float, default=0.50, help="operating threshold 0-1. Default 0.50.")
    r.add_argument("--out", required=True, help="CSV to write")
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        from detector.registry import DEFAULT_MODEL

        s = evaluate_card_set(args.data, model=args.model or DEFAULT_MODEL, conf=args.conf, keep=args.keep)
        print(json.dumps({k: s[k] for k in ("precision", "recall", "false_per_image", "n_images", "n_truth")}))
    elif args.command == "compare":
        text = compare_markdown(args.old, args.new)
        print(text)
        if args.markdown:
            Path(args.markdown).write_text(text, encoding="utf-8")
    elif args.command == "jpeg":
        for name, requality in (("orig", False), ("survey", True)):
            if args.every_view and not requality:
                continue
            made = survey_quality_copy(args.data, Path(args.out) / name, requality=requality,
                                       every_view=args.every_view)
            print(f"{name}: {made}")
    elif args.command == "surveys":
        boxes = survey_boxes(args.root, conf=args.conf)
        boxes.to_csv(args.out, index=False)
        print(f"{len(boxes)} boxes of {boxes.survey.nunique()} surveys, {int(boxes.found.sum())} found")
    else:
        boxes = boxes_from_set(args.data, pd.read_parquet(args.predictions), conf=args.conf)
        if args.out:
            boxes.to_csv(args.out, index=False)
        print(f"{len(boxes)} boxes, {int(boxes.found.sum())} found, range known for {int(boxes.range_m.notna().sum())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
