"""Contact sheets: a grid of a survey's images with their boxes, for a person to look at.

Camera boxes are tiny (5-20 px in a 640 px image), so each tile also shows a magnified inset of
its largest box. With ``boxes="both"`` the truth boxes are green and the detections magenta, so
that misses (green alone) and false alarms (magenta alone) show at a glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from geo.errors import GeoInputError
from geo.io import write_bytes

BoxSource = Literal["truth", "detections", "both"]
TILE_PX = 320
_COLORS = {"dome": (0, 200, 255), "directed": (60, 60, 255)}  # BGR
SOURCE_COLORS = {"truth": (0, 220, 0), "detections": (255, 0, 255)}  # BGR: green, magenta (--boxes both)


def contact_sheet(
    survey_dir: str | Path,
    *,
    n: int = 16,
    boxes: BoxSource = "truth",
    out: str | Path | None = None,
    tile: int = TILE_PX,
) -> Path:
    """Write a PNG grid of ``n`` images of ``survey_dir`` with their ``boxes`` ("truth" from
    ``truth_boxes.parquet``, "detections" from ``detections/``, or "both" in two colours:
    ``SOURCE_COLORS``) drawn; images with boxes come first. ``tile`` is the size of one image in
    the sheet (px). Returns the PNG's path (default ``<survey_dir>/preview.png``)."""
    import cv2

    survey_dir = Path(survey_dir)
    if n < 1:
        raise GeoInputError(f"--n must be at least 1, got {n}")
    if boxes not in ("truth", "detections", "both"):
        raise GeoInputError(f"--boxes must be 'truth', 'detections' or 'both', got '{boxes}'")
    images_path = survey_dir / "images.parquet"
    if not images_path.exists():
        raise FileNotFoundError(f"{images_path} not found: run `camcensus fetch` first")
    images = pd.read_parquet(images_path)
    images = images[(images["status"] == "ok") & images["path"].notna()].reset_index(drop=True)
    if len(images) == 0:
        raise GeoInputError(f"{survey_dir} has no fetched images to preview")
    if boxes == "both":
        table = pd.concat([_boxes(survey_dir, "truth"), _boxes(survey_dir, "detections")], ignore_index=True)
    else:
        table = _boxes(survey_dir, boxes)
    chosen = _choose(images, table, n)
    cols = int(np.ceil(np.sqrt(len(chosen))))
    rows = int(np.ceil(len(chosen) / cols))
    sheet = np.full((rows * tile, cols * tile, 3), 30, np.uint8)
    for k, (_, image_row) in enumerate(chosen.iterrows()):
        img = cv2.imread(str(survey_dir / image_row["path"]))
        if img is None:
            continue
        mine = table[table["image_id"] == image_row["image_id"]]
        r, c = divmod(k, cols)
        sheet[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = _tile(
            img, mine, tile, str(image_row["image_id"]), by_source=boxes == "both"
        )
    out = Path(out) if out is not None else survey_dir / "preview.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", sheet)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return write_bytes(out, data.tobytes())


def _boxes(survey_dir: Path, source: BoxSource) -> pd.DataFrame:
    if source == "truth":
        path = survey_dir / "truth_boxes.parquet"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: truth boxes exist only for simulated imagery"
            )
        table = pd.read_parquet(path)
        table["label"] = table["class_name"]
        table["source"] = "truth"
        return table
    parts = sorted((survey_dir / "detections").glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(
            f"{survey_dir / 'detections'} has no part files: run `camcensus detect` first"
        )
    table = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    table["label"] = table["class_name"].astype(str) + " " + table["conf"].map(lambda c: f"{c:.2f}")
    table["source"] = "detections"
    return table


def _choose(images: pd.DataFrame, boxes: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to ``n`` images, spread over the survey: those with boxes first."""
    has = images["image_id"].isin(set(boxes["image_id"]))
    with_boxes, without = images[has], images[~has]
    picks = [_spread(with_boxes, n)]
    if len(picks[0]) < n:
        picks.append(_spread(without, n - len(picks[0])))
    return pd.concat(picks)


def _spread(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    if len(frame) <= n:
        return frame
    return frame.iloc[np.linspace(0, len(frame) - 1, n).round().astype(int)]


def _tile(
    img: np.ndarray, boxes: pd.DataFrame, tile: int, title: str, *, by_source: bool = False
) -> np.ndarray:
    import cv2

    def color_of(b) -> tuple[int, int, int]:
        if by_source:
            return SOURCE_COLORS[str(b.source)]
        return _COLORS.get(str(b.class_name), (0, 255, 0))

    h, w = img.shape[:2]
    canvas = img.copy()
    for b in boxes.itertuples():
        pad = 3 if not by_source or b.source == "truth" else 6  # detections drawn outside the truth
        cv2.rectangle(
            canvas, (int(b.x1) - pad, int(b.y1) - pad), (int(b.x2) + pad, int(b.y2) + pad), color_of(b), 2
        )
    scale = tile / max(h, w)
    small = cv2.resize(canvas, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    out = np.full((tile, tile, 3), 30, np.uint8)
    out[: small.shape[0], : small.shape[1]] = small
    if len(boxes):  # magnified inset of the largest box, from the clean image
        b = (
            boxes.assign(area=(boxes.x2 - boxes.x1) * (boxes.y2 - boxes.y1))
            .sort_values("area")
            .iloc[-1]
        )
        cx, cy = (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2
        half = max(16, int(max(b.x2 - b.x1, b.y2 - b.y1)))
        x0, y0 = int(np.clip(cx - half, 0, w - 2 * half)), int(np.clip(cy - half, 0, h - 2 * half))
        crop = img[y0 : y0 + 2 * half, x0 : x0 + 2 * half]
        size = tile // 3
        inset = cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST)
        cv2.rectangle(inset, (0, 0), (size - 1, size - 1), color_of(b), 2)
        out[2 : 2 + size, tile - size - 2 : tile - 2] = inset
        cv2.putText(
            out,
            str(b.label),
            (tile - size, size + 14),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    caption = f"{title}  ({len(boxes)})"
    if by_source:
        counts = boxes["source"].value_counts() if len(boxes) else pd.Series(dtype=int)
        caption = title
    out[tile - 20 :] = (out[tile - 20 :] * 0.35).astype(np.uint8)  # a dark band: the caption reads on any image
    cv2.putText(out, caption, (4, tile - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    if by_source:
        x = 8 + cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0]
        for source, short in (("truth", "truth"), ("detections", "det")):
            text = f"{short} {int(counts.get(source, 0))}"
            cv2.putText(out, text, (x, tile - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, SOURCE_COLORS[source], 1,
                        cv2.LINE_AA)
            x += 6 + cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0]
    return out
