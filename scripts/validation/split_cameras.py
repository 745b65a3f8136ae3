"""Split cameras (one true camera located twice) and wrong merges, against the simulator's truth (issue 26).

Each detection is labelled with the true camera whose true box in its image it overlaps most
(``truth_boxes.parquet``, IoU >= ``MIN_IOU``; none: a false detection). Each located camera (the
rays ``geo.counting.locate.located_rays`` merged into it) is then the true camera most of its
labelled rays are on (real) or none (false). Counts per survey:

- ``split``: real located cameras less the distinct true cameras they are (a true camera located
  k times counts k - 1), as a share of the distinct true cameras (``split_rate``);
- ``merged``: located cameras holding rays of two or more true cameras, and ``lost``: true cameras
  with labelled rays that are no located camera's majority (merged away), as a share of the
  distinct true cameras with labelled rays (``lost_rate``);
- the cause of each split (``split_causes``): for a true camera's smaller piece against its other
  pieces, the first that holds of "class" (a pair of rays from different images whose positions
  and rays agree, ``locate._pairs_that_agree``, but of different classes), "merge" (such a pair of
  one class: the constrained merge kept them apart because the pieces share an image), "image"
  (two boxes of one image: the detector's two boxes on one camera, e.g. one per class), "geometry"
  (no pair of rays agrees).

    python scripts/validation/split_cameras.py SURVEY [SURVEY ...] [--option respect_class=false] [--markdown t.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

MIN_IOU = 0.2  # a detection is on a true camera when its box overlaps that camera's true box this much
MIN_CONF = 0.5  # detections below this are left out, as the estimate does (the shipped card's conf_threshold)
CAUSES = ("class", "merge", "image", "geometry")


def true_camera_of_boxes(detections: pd.DataFrame, truth_boxes: pd.DataFrame, *, min_iou: float = MIN_IOU
                         ) -> np.ndarray:
    """Per detection (x1, y1, x2, y2 pixels, image_id): the ``camera_id`` of the true box of its image it
    overlaps most (IoU >= ``min_iou``), else None. Two boxes of one camera both get that camera."""
    out = np.full(len(detections), None, dtype=object)
    det = detections.reset_index(drop=True)
    by_image = {k: g for k, g in truth_boxes.assign(image_id=truth_boxes["image_id"].astype(str)).groupby("image_id")}
    for image, g in det.assign(image_id=det["image_id"].astype(str)).groupby("image_id"):
        t = by_image.get(image)
        if t is None:
            continue
        a = [g[c].to_numpy(float)[:, None] for c in ("x1", "y1", "x2", "y2")]
        b = [t[c].to_numpy(float)[None, :] for c in ("x1", "y1", "x2", "y2")]
        inter = (np.clip(np.minimum(a[2], b[2]) - np.maximum(a[0], b[0]), 0, None)
                 * np.clip(np.minimum(a[3], b[3]) - np.maximum(a[1], b[1]), 0, None))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        iou = inter / np.maximum(union, 1e-9)
        best = iou.argmax(axis=1)
        hit = iou[np.arange(len(g)), best] >= min_iou
        out[g.index.to_numpy()[hit]] = t["camera_id"].to_numpy()[best[hit]]
    return out


def majority_true(camera: np.ndarray, true: np.ndarray) -> pd.Series:
    """Per located camera label with labelled rays: the true camera most of them are on (ties: first seen)."""
    frame = pd.DataFrame({"camera": camera, "true": true}).dropna()
    if len(frame) == 0:
        return pd.Series(dtype=object)
    counts = frame.groupby(["camera", "true"], sort=False).size().reset_index(name="n")
    counts = counts.sort_values(["camera", "n"], ascending=[True, False], kind="stable")
    return counts.drop_duplicates("camera").set_index("camera")["true"]


def split_counts(camera: np.ndarray, true: np.ndarray) -> dict:
    """Located, real, distinct true, split, merged and lost counts (module docstring) of ray labels
    ``camera`` (located camera per ray) and ``true`` (true camera per ray or None)."""
    camera = np.asarray(camera)
    major = majority_true(camera, true)
    labelled = pd.Series(true, dtype=object).dropna()
    seen = int(labelled.nunique())
    distinct = int(major.nunique())
    per_camera = pd.DataFrame({"camera": camera, "true": true}).dropna().groupby("camera")["true"].nunique()
    out = {"located": int(len(np.unique(camera))), "real": int(len(major)), "distinct_true": distinct,
           "split": int(len(major) - distinct), "merged": int((per_camera >= 2).sum()),
           "true_seen": seen, "lost": int(seen - distinct)}
    out["split_rate"] = round(out["split"] / max(distinct, 1), 4)
    out["lost_rate"] = round(out["lost"] / max(seen, 1), 4)
    return out


def split_causes(rays: pd.DataFrame, true: np.ndarray, *, merge_m: float = 2.5, max_merge_m: float = 12.0,
                 respect_class: bool = True) -> dict[str, int]:
    """Per split piece (module docstring), its cause; ``rays``: ``locate.located_rays`` (column camera)."""
    from geo.counting import locate

    camera = rays["camera"].to_numpy()
    major = majority_true(camera, true)
    causes = dict.fromkeys(CAUSES, 0)
    cols = {"image": pd.factorize(rays["image_id"])[0], "klass": np.zeros(len(rays), np.int64),
            "x": rays["x"].to_numpy(float), "y": rays["y"].to_numpy(float), "sigma": rays["sigma_m"].to_numpy(float),
            **locate._ray_columns(rays)}
    klass = pd.factorize(rays["class_name"])[0]
    for _t, labels in major.groupby(major).groups.items():
        if len(labels) < 2:
            continue
        sizes = sorted(((int((camera == c).sum()), c) for c in labels), reverse=True)
        for _, piece in sizes[1:]:  # every piece but the largest
            a = np.flatnonzero(camera == piece)
            b = np.flatnonzero(np.isin(camera, list(labels)) & (camera != piece))
            causes[_cause(a, b, cols, klass if respect_class else np.zeros_like(klass), merge_m=merge_m,
                          max_merge_m=max_merge_m)] += 1
    return causes


def _cause(a: np.ndarray, b: np.ndarray, cols: dict, klass: np.ndarray, *, merge_m: float, max_merge_m: float) -> str:
    from geo.counting import locate

    pairs = np.array([(i, j) for i in a for j in b], dtype=np.int64).reshape(-1, 2)
    i, j, _ = locate._pairs_that_agree(pairs, cols, merge_m=merge_m, max_merge_m=max_merge_m)  # class ignored
    if (klass[i] != klass[j]).any():
        return "class"
    if len(i):
        return "merge"
    if np.isin(cols["image"][a], cols["image"][b]).any():
        return "image"
    return "geometry"


def survey_rays(survey_dir: Path, *, min_conf: float = MIN_CONF, **options) -> tuple[pd.DataFrame, np.ndarray]:
    """(located rays, true camera per ray) of a survey directory's detections at ``min_conf`` or
    above, with ``located_rays`` options."""
    from geo.counting import locate

    info = locate.read_sample_info(survey_dir)
    detections = locate.read_detections(survey_dir)
    detections = detections[detections["conf"].fillna(1.0).to_numpy(float) >= min_conf - 1e-9].reset_index(drop=True)
    images = locate.read_images(survey_dir)
    buildings = locate.buildings_for_survey(info) if len(detections) else None
    rays = locate.located_rays(detections, images, buildings=buildings, crs=info.get("crs") or None, **options)
    boxes = pd.read_parquet(survey_dir / "truth_boxes.parquet")
    return rays, true_camera_of_boxes(rays, boxes)


def survey_row(survey_dir: Path, *, min_conf: float = MIN_CONF, **options) -> dict:
    """``split_counts`` and ``split_causes`` of one survey located with ``options``."""
    rays, true = survey_rays(survey_dir, min_conf=min_conf, **options)
    name = survey_dir.parent.name if survey_dir.name == "base" else survey_dir.name  # rendered4's NAME/base
    return {"survey": name, "detections": len(rays), "on_truth": int(pd.notna(true).sum()),
            **split_counts(rays["camera"].to_numpy(), true),
            **split_causes(rays, true, respect_class=options.get("respect_class", _default("respect_class")))}


def _default(option: str):
    import inspect

    from geo.counting import locate

    return inspect.signature(locate.located_rays).parameters[option].default


def markdown(rows: list[dict]) -> str:
    head = ("| survey | detections (on a true box) | located (real) | distinct true | split (rate) | causes: class / "
            "merge / image / geometry | merged cameras | true cameras lost to a merge (rate) |")
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        lines.append(f"| {r['survey']} | {r['detections']} ({r['on_truth']}) | {r['located']} ({r['real']}) | "
                     f"{r['distinct_true']} | {r['split']} ({100 * r['split_rate']:.0f}%) | "
                     f"{r['class']} / {r['merge']} / {r['image']} / {r['geometry']} | {r['merged']} | "
                     f"{r['lost']} ({100 * r['lost_rate']:.1f}%) |")
    return "\n".join(lines) + "\n"


def _option(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    low = value.lower()
    parsed = True if low == "true" else False if low == "false" else float(value)
    return key.strip(), parsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("surveys", nargs="+", type=Path, help="survey directories with truth_boxes.parquet")
    parser.add_argument("--option", action="append", default=[], type=_option,
                        help="a locate option NAME=VALUE (e.g. respect_class=false); repeatable")
    parser.add_argument("--min-conf", type=float, default=MIN_CONF,
                        help=f"leave out detections below this confidence (0-1; default {MIN_CONF}: the card's "
                             "threshold)")
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    missing = [str(d) for d in args.surveys if not (d / "truth_boxes.parquet").exists()]
    if missing:
        print(f"error: no truth_boxes.parquet in {', '.join(missing)}", file=sys.stderr)
        return 2
    rows = [survey_row(d, min_conf=args.min_conf, **dict(args.option)) for d in args.surveys]
    text = markdown(rows)
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
