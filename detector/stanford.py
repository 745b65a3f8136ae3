"""The Stanford "Surveilling Surveillance" labels as a YOLO dataset.

``meta.csv`` holds per image a Python-literal list of annotations: ``category_id`` (Stanford:
0 = directed, 1 = dome) and ``bbox`` = [x1, y1, x2, y2] pixels (``bbox_mode`` 0). Classes are
mapped by NAME onto ours (``CLASS_NAMES``: 0 = directed, 1 = dome, the same order). Splits follow the file:
``train`` -> ``train``, ``valid`` -> ``val``. Images come from a folder of
``PANOID_HEADING.jpg`` files (what ``camcensus dataset stanford`` fetches).
"""

from __future__ import annotations

import ast
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from detector.errors import DetectorInputError
from detector.io import atomic_path
from detector.yolo_dataset import (
    BOX_COLUMNS,
    CLASS_NAMES,
    image_size,
    label_lines_from_boxes,
    write_data_yaml,
    write_label_file,
)

STANFORD_CLASSES = {0: "directed", 1: "dome"}
SPLITS = {"train": "train", "valid": "val", "val": "val", "test": "test"}


def read_stanford_meta(path: str | Path) -> pd.DataFrame:
    """The label table with ``annotations`` parsed, plus ``stem`` (``PANOID_HEADING``)."""
    path = Path(path)
    if not path.is_file():
        raise DetectorInputError(f"Stanford meta.csv not found: {path}")
    table = pd.read_csv(path, dtype={"panoid": str})
    missing = {"annotations", "split", "panoid", "heading"} - set(table.columns)
    if missing:
        raise DetectorInputError(f"{path} lacks columns: {', '.join(sorted(missing))}")
    parsed = []
    for number, text in enumerate(table["annotations"].fillna("[]"), 2):
        try:
            value = ast.literal_eval(str(text))
        except (ValueError, SyntaxError):
            raise DetectorInputError(f"{path}:{number}: annotations are not a Python list") from None
        if not isinstance(value, list):
            raise DetectorInputError(f"{path}:{number}: annotations are not a list")
        parsed.append(value)
    table["annotations"] = parsed
    table["stem"] = table["panoid"] + "_" + table["heading"].map(lambda h: f"{float(h):g}")
    return table


def boxes_from_annotations(annotations: list[dict]) -> pd.DataFrame:
    """Pixel boxes (``class_name, x1, y1, x2, y2``) of one image, classes by name."""
    rows = []
    for annotation in annotations:
        category = annotation.get("category_id")
        if category not in STANFORD_CLASSES:
            raise DetectorInputError(f"unknown Stanford category_id {category!r} (0 directed, 1 dome)")
        if annotation.get("bbox_mode", 0) != 0:
            raise DetectorInputError("only bbox_mode 0 (x1, y1, x2, y2 in pixels) is supported")
        x1, y1, x2, y2 = (float(v) for v in annotation["bbox"])
        rows.append((STANFORD_CLASSES[category], x1, y1, x2, y2))
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


@dataclass
class StanfordDataset:
    """What ``yolo_from_stanford`` wrote: images and boxes per split, rows without an image."""

    data_yaml: Path
    images: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, int] = field(default_factory=dict)  # by class name
    missing: int = 0


def yolo_from_stanford(meta: str | Path, images_dir: str | Path, out: str | Path, *,
                       names: list[str] = CLASS_NAMES) -> StanfordDataset:
    """Write ``out/{images,labels}/{train,val}`` and ``out/data.yaml`` from the label table and
    a folder of its images. Images are hard-linked (copied across file systems); rows whose
    image is missing are counted and skipped, so a rerun after more fetching adds them."""
    table = read_stanford_meta(meta)
    images_dir, out = Path(images_dir), Path(out)
    splits = sorted({SPLITS.get(str(s), str(s)) for s in table["split"]}, key=["train", "val", "test"].index)
    result = StanfordDataset(data_yaml=write_data_yaml(out, names=names, splits=tuple(splits)),
                             images={s: 0 for s in splits}, boxes={n: 0 for n in names})
    for row in table.itertuples(index=False):
        split = SPLITS.get(str(row.split), str(row.split))
        source = images_dir / f"{row.stem}.jpg"
        if not source.is_file():
            result.missing += 1
            continue
        width, height = image_size(source)
        boxes = boxes_from_annotations(row.annotations)
        lines = label_lines_from_boxes(boxes, width, height, names=names)
        _link_or_copy(source, out / "images" / split / source.name)
        write_label_file(out / "labels" / split / f"{row.stem}.txt", lines)
        result.images[split] += 1
        for name in boxes["class_name"]:
            result.boxes[name] += 1
    return result


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        if target.stat().st_size == source.stat().st_size:
            return
        target.unlink()
    with atomic_path(target) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
