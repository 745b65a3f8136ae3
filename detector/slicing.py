"""Sliced inference for tiny objects (``--slice SIZE:OVERLAP``).

An image is cut into square tiles of SIZE pixels overlapping by OVERLAP (a fraction), the last
tile in each direction aligned with the image edge; each tile and the whole image are run
through the model at the same input size, so a tile magnifies its content by
``imgsz / SIZE`` relative to the whole image's ``imgsz / max(width, height)``. Boxes are
shifted back to original image pixels and merged (``merge_tile_detections``): duplicates of one
object from overlapping tiles and the whole-image pass, and parts of an object cut at a tile
border, become one box.
"""

from __future__ import annotations

from detector.detections import Detections
from detector.errors import DetectorInputError

MERGE_IOU = 0.5  # boxes of one class overlapping this much (IoU) are one object
MERGE_IOS = 0.6  # ... or when this share of the smaller box lies in the other (cut at a border)


def parse_slice(spec: str | None) -> tuple[int, float] | None:
    """``"320:0.2"`` -> (320 px tiles, 0.2 overlap fraction); None or "" -> None."""
    if spec is None or spec == "":
        return None
    try:
        size_text, _, overlap_text = str(spec).partition(":")
        size, overlap = int(size_text), float(overlap_text or 0.2)
    except ValueError:
        raise DetectorInputError(
            f"--slice must be SIZE:OVERLAP like 320:0.2, got {spec!r}"
        ) from None
    if size < 32 or not 0 <= overlap < 1:
        raise DetectorInputError(f"--slice needs SIZE >= 32 px and 0 <= OVERLAP < 1, got {spec!r}")
    return size, overlap


def tile_origins(length: int, size: int, overlap: float) -> list[int]:
    """Start pixels of tiles of ``size`` px covering ``length`` px with ``overlap`` (fraction);
    the last tile is aligned with the far edge."""
    if length <= size:
        return [0]
    step = max(1, int(size * (1 - overlap)))
    return list(range(0, length - size, step)) + [length - size]


def tile_windows(
    height: int, width: int, size: int, overlap: float
) -> list[tuple[int, int, int, int]]:
    """Tiles of an image as (x, y, width, height) pixels, row by row; none when the image fits
    in one tile (the whole-image pass covers it)."""
    if height <= size and width <= size:
        return []
    return [
        (x, y, min(size, width), min(size, height))
        for y in tile_origins(height, size, overlap)
        for x in tile_origins(width, size, overlap)
    ]


def merge_tile_detections(parts: list[Detections]) -> Detections:
    """One image's detections from the whole-image pass and its tiles (already in image pixels),
    with duplicates merged by greedy non-maximum merging (see ``Detections.with_merged_duplicates``)."""
    merged = Detections.merge(parts)
    return merged.with_merged_duplicates(iou=MERGE_IOU, ios=MERGE_IOS) if len(parts) > 1 else merged
