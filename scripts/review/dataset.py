"""`camcensus dataset from-review DIR --out DS`: a survey's review answers as a YOLO dataset for
fine-tuning, closing the loop from review to a better model.

- every audited image, whole, labelled with all its cameras (the detections the reviewer kept
  and the boxes the reviewer added): complete labels, so its background teaches too;
- every detection verified as a camera (in images not audited), as a ``tile`` px crop around it
  labelled with the cameras known in the crop;
- every detection rejected (verify "not", or rejected in an audit of an image not written
  whole), as a hard-negative ``tile`` px crop around it, labelled with the cameras known in the
  crop (usually none).
Unsure answers are left out. A box whose class nobody gave takes the detection's class, else
the most common class of the review. Splits by image (a hash of the image id), so that crops of
one image never straddle train and val.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from detector.yolo_dataset import CLASS_NAMES, write_data_yaml, write_example
from geo.errors import GeoInputError
from scripts.review.sampling import read_design
from scripts.review.store import AnswerStore, store_path
from scripts.review.tables import SurveyTables

MANIFEST = "review_manifest.csv"


@dataclass
class ReviewDataset:
    data_yaml: Path
    examples: Counter = field(default_factory=Counter)  # audited / confirmed / hard_negative
    boxes: Counter = field(default_factory=Counter)  # per split
    images: Counter = field(default_factory=Counter)  # per split


def split_of(image_id: str, val_fraction: float) -> str:
    """'val' for about ``val_fraction`` of the image ids (a stable hash), else 'train'."""
    h = int(hashlib.sha1(image_id.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def dataset_from_review(survey_dir: str | Path, out: str | Path, *, tile: int = 320, val_fraction: float = 0.2,
                        seed: int = 0) -> ReviewDataset:
    """Write the YOLO dataset of the module docstring to ``out``; return its counts."""
    import cv2

    survey_dir, out = Path(survey_dir), Path(out)
    design = read_design(survey_dir)
    if design is None or not store_path(survey_dir).exists():
        raise GeoInputError(f"no review in {survey_dir}: run `camcensus review {survey_dir}` first")
    if not 0 <= val_fraction < 1 or tile < 32:
        raise GeoInputError("--val-fraction must be in [0, 1) and --tile at least 32 px")
    tables = SurveyTables.open(survey_dir, conf=design.conf_threshold)
    store = AnswerStore.of_survey(survey_dir)
    verify, audit = store.standing("verify"), store.standing("audit")
    det = tables.all_detections
    verify = {k: a for k, a in verify.items() if k in det.index}
    audit = {k: a for k, a in audit.items() if k in tables.images.index}
    if not verify and not audit:
        raise GeoInputError(f"the review of {survey_dir} has no answers yet")

    named = Counter(a.class_name for a in verify.values() if a.class_name in CLASS_NAMES)
    named.update(b[4] for a in audit.values() for b in a.added if len(b) > 4 and b[4] in CLASS_NAMES)
    default_class = named.most_common(1)[0][0] if named else CLASS_NAMES[0]

    def class_of(detection_id: str) -> str:
        given = verify[detection_id].class_name if detection_id in verify else None
        model = det.at[detection_id, "class_name"]
        return given or (model if model in CLASS_NAMES else default_class)

    # the known cameras of each image (pixels): confirmed detections, kept detections, added boxes
    known: dict[str, list[tuple]] = {}
    for detection_id, answer in verify.items():
        if answer.answer == "camera":
            row = det.loc[detection_id]
            known.setdefault(row["image_id"], []).append((class_of(detection_id), *_xyxy(row)))
    for image_id, answer in audit.items():
        boxes = [(class_of(i), *_xyxy(r)) for i, r in tables.detections_in(image_id).iterrows()
                 if i not in answer.rejected]
        boxes += [(b[4] if len(b) > 4 and b[4] in CLASS_NAMES else default_class, *map(float, b[:4]))
                  for b in answer.added]
        known[image_id] = boxes  # an audit is complete: it replaces what verify alone knew

    result = ReviewDataset(data_yaml=write_data_yaml(out, extra={"source": f"camcensus review of {survey_dir}"}))
    rng = np.random.default_rng([seed, 15])
    manifest = []
    cache: dict[str, np.ndarray | None] = {}

    def image(image_id: str) -> np.ndarray | None:
        if image_id not in cache:
            path = tables.image_file(image_id)
            cache[image_id] = cv2.imread(str(path), cv2.IMREAD_COLOR) if path is not None else None
        return cache[image_id]

    def write(kind: str, image_id: str, name: str, pixels: np.ndarray, boxes: list[tuple]) -> None:
        split = split_of(image_id, val_fraction)
        frame = pd.DataFrame(boxes, columns=["class_name", "x1", "y1", "x2", "y2"])
        write_example(out, split, name, pixels, frame)
        result.examples[kind] += 1
        result.images[split] += 1
        result.boxes[split] += len(frame)
        manifest.append({"name": name, "split": split, "kind": kind, "image_id": image_id, "n_boxes": len(frame)})

    for image_id in sorted(audit):
        pixels = image(image_id)
        if pixels is not None:
            write("audited", image_id, _safe(image_id), pixels, known.get(image_id, []))
    crops = [(i, "confirmed") for i, a in verify.items() if a.answer == "camera"]
    crops += [(i, "hard_negative") for i, a in verify.items() if a.answer == "not"]
    crops += [(i, "hard_negative") for a in audit.values() for i in a.rejected]
    for detection_id, kind in sorted(set(crops)):
        image_id = det.at[detection_id, "image_id"]
        pixels = image(image_id)
        if image_id in audit or pixels is None:
            continue  # written whole, with complete labels
        crop, boxes = _crop_around(pixels, _xyxy(det.loc[detection_id]), known.get(image_id, []), tile, rng)
        write(kind, image_id, f"{_safe(image_id)}-{detection_id}", crop, boxes)
    pd.DataFrame(manifest, columns=["name", "split", "kind", "image_id", "n_boxes"]).to_csv(out / MANIFEST,
                                                                                            index=False)
    return result


def _xyxy(row) -> tuple[float, float, float, float]:
    return float(row["x1"]), float(row["y1"]), float(row["x2"]), float(row["y2"])


def _crop_around(pixels: np.ndarray, box: tuple, known: list[tuple], tile: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, list[tuple]]:
    """A tile x tile crop holding ``box`` at a random place, with the known boxes that lie at
    least half inside it (shifted and clipped to the crop)."""
    height, width = pixels.shape[:2]
    size_x, size_y = min(tile, width), min(tile, height)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0 = int(np.clip(cx - size_x / 2 + rng.uniform(-size_x / 4, size_x / 4), 0, width - size_x))
    y0 = int(np.clip(cy - size_y / 2 + rng.uniform(-size_y / 4, size_y / 4), 0, height - size_y))
    boxes = []
    for class_name, x1, y1, x2, y2 in known:
        a1, b1 = max(x1 - x0, 0), max(y1 - y0, 0)
        a2, b2 = min(x2 - x0, size_x), min(y2 - y0, size_y)
        area = max(x2 - x1, 0) * max(y2 - y1, 0)
        if a2 > a1 and b2 > b1 and area > 0 and (a2 - a1) * (b2 - b1) >= 0.5 * area:
            boxes.append((class_name, a1, b1, a2, b2))
    return pixels[y0:y0 + size_y, x0:x0 + size_x], boxes


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "image"
