"""COCO detection json <-> YOLO dataset, mapping classes by NAME (``dome``, ``directed``).

COCO boxes are ``[x, y, width, height]`` in pixels from the top-left corner; YOLO labels are
centre and size as fractions of the image. Pixel values coming back from YOLO are rounded to
1e-4 px, so integer (or 1e-4 px) boxes round-trip exactly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from detector.errors import DetectorInputError
from detector.io import write_text
from detector.yolo_dataset import (
    BOX_COLUMNS,
    CLASS_NAMES,
    boxes_from_label_file,
    image_size,
    label_lines_from_boxes,
    label_path_of,
    read_data_yaml,
    write_data_yaml,
    write_label_file,
)

PIXEL_DECIMALS = 4


def yolo_from_coco(coco_json: str | Path, images_dir: str | Path, out: str | Path, *, split: str = "train",
                   names: list[str] = CLASS_NAMES) -> Path:
    """Write the images and boxes of a COCO json into the YOLO dataset ``out`` (split ``split``).

    Images are copied from ``images_dir`` (``file_name`` relative to it); categories are matched
    to ``names`` case-insensitively. Returns the dataset's ``data.yaml``."""
    coco = _read_coco(Path(coco_json))
    images_dir, out = Path(images_dir), Path(out)
    by_name = {n.lower(): n for n in names}
    category: dict[Any, str] = {}
    for cat in coco["categories"]:
        name = str(cat.get("name", "")).lower()
        if name not in by_name:
            raise DetectorInputError(f"{coco_json}: category '{cat.get('name')}' is not one of {', '.join(names)}")
        category[cat["id"]] = by_name[name]
    boxes_of: dict[Any, list[tuple]] = {}
    for ann in coco["annotations"]:
        if ann.get("category_id") not in category:
            raise DetectorInputError(f"{coco_json}: annotation {ann.get('id')} has unknown category_id "
                                     f"{ann.get('category_id')}")
        x, y, w, h = (float(v) for v in ann["bbox"])
        boxes_of.setdefault(ann["image_id"], []).append((category[ann["category_id"]], x, y, x + w, y + h))
    data_yaml = write_data_yaml(out, names=names) if not (out / "data.yaml").exists() else out / "data.yaml"
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for image in coco["images"]:
        source = images_dir / image["file_name"]
        if not source.is_file():
            raise FileNotFoundError(f"image of COCO entry {image['id']} not found: {source}")
        target = out / "images" / split / Path(image["file_name"]).name
        if not target.exists():
            shutil.copy2(source, target)
        width, height = image.get("width"), image.get("height")
        if not width or not height:
            width, height = image_size(source)
        boxes = pd.DataFrame(boxes_of.get(image["id"], []), columns=BOX_COLUMNS)
        lines = label_lines_from_boxes(boxes, int(width), int(height), names=names)
        write_label_file(label_path_of(target), lines)
    return data_yaml


def coco_from_yolo(data_yaml: str | Path, *, split: str = "val") -> dict[str, Any]:
    """A COCO detection dict for one split of a YOLO dataset (``file_name`` relative to the split
    folder, category ids = YOLO class id + 1)."""
    spec = read_data_yaml(data_yaml)
    if split not in spec.splits:
        raise DetectorInputError(f"{spec.yaml_path} has no split '{split}' (has {', '.join(spec.splits)})")
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(spec.names)]
    images, annotations = [], []
    for image_id, path in enumerate(spec.splits[split], 1):
        width, height = image_size(path)
        images.append({"id": image_id, "file_name": path.name, "width": width, "height": height})
        label = label_path_of(path)
        if not label.exists():
            continue
        boxes = boxes_from_label_file(label, width, height, names=spec.names)
        for row in boxes.itertuples(index=False):
            x, y = round(row.x1, PIXEL_DECIMALS), round(row.y1, PIXEL_DECIMALS)
            w, h = round(row.x2 - row.x1, PIXEL_DECIMALS), round(row.y2 - row.y1, PIXEL_DECIMALS)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": spec.names.index(row.class_name) + 1,
                                "bbox": [x, y, w, h], "area": round(w * h, PIXEL_DECIMALS), "iscrowd": 0})
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(coco: dict[str, Any], path: str | Path) -> Path:
    """Write a COCO dict as json atomically."""
    return write_text(path, json.dumps(coco))


def _read_coco(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"COCO json not found: {path}")
    try:
        coco = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DetectorInputError(f"malformed COCO json {path}: {error}") from None
    if not isinstance(coco, dict) or not all(isinstance(coco.get(k), list)
                                              for k in ("images", "annotations", "categories")):
        raise DetectorInputError(f"malformed COCO json {path}: needs 'images', 'annotations' and 'categories' lists")
    for ann in coco["annotations"]:
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4):
            raise DetectorInputError(f"malformed COCO json {path}: annotation {ann.get('id')} has no [x, y, w, h] bbox")
    return coco
