"""YOLO datasets of camera boxes: write them, tile them, read and check them.

Layout (the one ultralytics reads)::

    DIR/data.yaml              train: images/train, val: images/val, names: {0: directed, 1: dome}
    DIR/images/{train,val}/*.jpg
    DIR/labels/{train,val}/*.txt   one line per box: class cx cy w h (fractions of the image size)

Boxes travel as DataFrames with ``class_name, x1, y1, x2, y2`` in pixels of the image they
belong to. Class ids follow ``CLASS_NAMES`` (0 = directed, 1 = dome, as in the Stanford labels); converters map by name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from detector.errors import DetectorInputError
from detector.io import write_bytes, write_text

CLASS_NAMES: list[str] = ["directed", "dome"]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
SIZE_BINS: list[tuple[str, float, float]] = [("<8", 0, 8), ("8-16", 8, 16), ("16-32", 16, 32), (">32", 32, np.inf)]
BOX_COLUMNS = ["class_name", "x1", "y1", "x2", "y2"]


# ----------------------------------------------------------------------------- boxes and labels

def empty_boxes() -> pd.DataFrame:
    """An empty box table with the standard columns."""
    return pd.DataFrame({"class_name": pd.Series(dtype=str), **{c: pd.Series(dtype=float) for c in BOX_COLUMNS[1:]}})


def size_bin(size_px: float) -> str:
    """The recall-by-size bin ("<8", "8-16", "16-32", ">32") of a box of side ``sqrt(w*h)`` px
    (rounded to 1e-6 px, so that label-file round-off does not move a box across a bin edge)."""
    size_px = round(float(size_px), 6)
    for label, low, high in SIZE_BINS:
        if low <= size_px < high:
            return label
    return SIZE_BINS[-1][0]


def label_lines_from_boxes(boxes: pd.DataFrame, width: int, height: int, *,
                           names: list[str] = CLASS_NAMES) -> list[str]:
    """YOLO label lines (``class cx cy w h``, fractions of ``width`` x ``height`` px) for pixel boxes.

    Boxes are clipped to the image; a box that is empty after clipping is dropped."""
    lines = []
    for row in boxes.itertuples(index=False):
        if row.class_name not in names:
            raise DetectorInputError(f"unknown class '{row.class_name}' (known: {', '.join(names)})")
        x1, x2 = np.clip([row.x1, row.x2], 0, width)
        y1, y2 = np.clip([row.y1, row.y2], 0, height)
        if x2 <= x1 or y2 <= y1:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        w, h = (x2 - x1) / width, (y2 - y1) / height
        lines.append(f"{names.index(row.class_name)} {cx:.8f} {cy:.8f} {w:.8f} {h:.8f}")
    return lines


def boxes_from_label_file(path: str | Path, width: int, height: int, *,
                          names: list[str] = CLASS_NAMES) -> pd.DataFrame:
    """Read a YOLO label file into pixel boxes; raise ``DetectorInputError`` naming the bad line."""
    rows = []
    for number, (class_id, cx, cy, w, h) in enumerate(_parse_label_file(Path(path), len(names)), 1):
        rows.append((names[class_id], (cx - w / 2) * width, (cy - h / 2) * height,
                     (cx + w / 2) * width, (cy + h / 2) * height))
    if not rows:
        return empty_boxes()
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


def _parse_label_file(path: Path, n_classes: int) -> list[tuple[int, float, float, float, float]]:
    """Parse and validate one label file (detection format: 5 numbers a line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DetectorInputError(f"{path}: unreadable label file ({error})") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 5:
            raise DetectorInputError(f"{path}:{number}: expected 5 values 'class cx cy w h', got {len(parts)}")
        try:
            class_value = float(parts[0])
            cx, cy, w, h = (float(p) for p in parts[1:])
        except ValueError:
            raise DetectorInputError(f"{path}:{number}: not numbers: {line.strip()!r}") from None
        if class_value != int(class_value) or not 0 <= class_value < n_classes:
            raise DetectorInputError(f"{path}:{number}: class {parts[0]} is not in 0..{n_classes - 1}")
        eps = 1e-6
        if not (w > 0 and h > 0):
            raise DetectorInputError(f"{path}:{number}: box width and height must be > 0")
        if cx - w / 2 < -eps or cy - h / 2 < -eps or cx + w / 2 > 1 + eps or cy + h / 2 > 1 + eps:
            raise DetectorInputError(f"{path}:{number}: box is outside the image (coordinates must be in 0..1)")
        out.append((int(class_value), cx, cy, w, h))
    return out


# ----------------------------------------------------------------------------- writing

def write_example(root: str | Path, split: str, name: str, image: np.ndarray, boxes: pd.DataFrame, *,
                  names: list[str] = CLASS_NAMES, quality: int = 95) -> Path:
    """Write one image (BGR uint8, as JPEG) and its label file into ``root`` atomically.

    ``boxes`` are pixels of ``image``; an empty table writes an empty label file (background)."""
    import cv2

    root = Path(root)
    height, width = image.shape[:2]
    image_path = root / "images" / split / f"{name}.jpg"
    label_path = root / "labels" / split / f"{name}.txt"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    label_path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DetectorInputError(f"could not encode image {name} as JPEG")
    write_bytes(image_path, data.tobytes())
    write_label_file(label_path, label_lines_from_boxes(boxes, width, height, names=names))
    return image_path


def write_data_yaml(root: str | Path, *, names: list[str] = CLASS_NAMES, splits: tuple[str, ...] = ("train", "val"),
                    extra: dict[str, Any] | None = None) -> Path:
    """Write ``root/data.yaml`` (relative paths, so the folder can be moved) and return its path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {}  # no 'path': ultralytics then resolves splits against this file's folder
    for split in splits:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        data[split] = f"images/{split}"
    data["names"] = dict(enumerate(names))
    if extra:
        data.update(extra)
    path = root / "data.yaml"
    write_text(path, yaml.safe_dump(data, sort_keys=False))
    return path


def write_label_file(path: Path, lines: list[str]) -> Path:
    """Write YOLO label lines (one box each; none for a view without cameras) atomically."""
    return write_text(path, "\n".join(lines) + ("\n" if lines else ""))


# ----------------------------------------------------------------------------- tiling

def tiles_from_view(image: np.ndarray, boxes: pd.DataFrame, *, size: int, n_away: int = 1,
                    min_visible: float = 0.5, rng: np.random.Generator | None = None,
                    ) -> list[tuple[str, np.ndarray, pd.DataFrame]]:
    """Crops of ``size`` x ``size`` px for cheaper training at full resolution.

    One crop around each camera box (the box lands at a random place inside the crop, so the
    model does not learn "cameras sit in the middle") and ``n_away`` crops that hold no camera.
    Boxes are shifted into crop pixels; a box cut by the crop edge is kept (clipped) when at
    least ``min_visible`` of its area is inside, otherwise dropped. Returns ``(suffix, crop, boxes)``.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    height, width = image.shape[:2]
    if size >= max(width, height):
        return [("full", image, boxes.reset_index(drop=True))]
    size_x, size_y = min(size, width), min(size, height)
    tiles = []
    xyxy = boxes[["x1", "y1", "x2", "y2"]].to_numpy(float) if len(boxes) else np.zeros((0, 4))
    for i, (x1, y1, x2, y2) in enumerate(xyxy):
        x0 = _random_origin(rng, x1, x2, size_x, width)
        y0 = _random_origin(rng, y1, y2, size_y, height)
        tiles.append((f"c{i}", *_crop(image, boxes, xyxy, x0, y0, size_x, size_y, min_visible)))
    for j in range(n_away):
        for _ in range(50):
            x0 = int(rng.integers(0, width - size_x + 1))
            y0 = int(rng.integers(0, height - size_y + 1))
            if not len(xyxy) or not np.any((xyxy[:, 2] > x0) & (xyxy[:, 0] < x0 + size_x)
                                           & (xyxy[:, 3] > y0) & (xyxy[:, 1] < y0 + size_y)):
                tiles.append((f"a{j}", *_crop(image, boxes, xyxy, x0, y0, size_x, size_y, min_visible)))
                break
    return tiles


def crop_around(image: np.ndarray, boxes: pd.DataFrame, target: tuple[float, float, float, float], *, size: int,
                rng: np.random.Generator, avoid_boxes: bool = False, min_visible: float = 0.5, tries: int = 30,
                ) -> tuple[np.ndarray, pd.DataFrame] | None:
    """A ``size`` x ``size`` px crop holding ``target`` (x1, y1, x2, y2 px) at a random place.

    ``boxes`` (the image's cameras) are shifted into the crop as in :func:`tiles_from_view`.
    With ``avoid_boxes`` the crop must not touch any of ``boxes`` (a hard negative around a
    decoy or a false detection); None when no such crop is found in ``tries`` draws."""
    height, width = image.shape[:2]
    size_x, size_y = min(size, width), min(size, height)
    xyxy = boxes[["x1", "y1", "x2", "y2"]].to_numpy(float) if len(boxes) else np.zeros((0, 4))
    x1, y1, x2, y2 = (float(v) for v in target)
    for _ in range(tries if avoid_boxes else 1):
        x0 = _random_origin(rng, x1, x2, size_x, width)
        y0 = _random_origin(rng, y1, y2, size_y, height)
        touches = len(xyxy) and np.any((xyxy[:, 2] > x0) & (xyxy[:, 0] < x0 + size_x)
                                       & (xyxy[:, 3] > y0) & (xyxy[:, 1] < y0 + size_y))
        if not (avoid_boxes and touches):
            return _crop(image, boxes, xyxy, x0, y0, size_x, size_y, min_visible)
    return None


def safe_scale(min_side_px: float, *, floor_px: float = 4.0, cap: float = 0.5) -> float:
    """The largest ultralytics ``scale`` (random zoom in [1 - scale, 1 + scale]) that never shrinks a
    box whose smaller side is ``min_side_px`` below ``floor_px``: ``min_side * (1 - scale) >= floor``.

    0 when boxes already are at or under the floor; at most ``cap``."""
    if not min_side_px > floor_px:
        return 0.0
    return float(min(cap, np.floor((1.0 - floor_px / float(min_side_px)) * 1000) / 1000))


def write_train_args(root: str | Path, args: dict[str, Any], *, comment: str = "") -> Path:
    """Write the dataset's recommended ultralytics training arguments as ``root/train_args.yaml``
    (pass each as ``camcensus train --arg KEY=VALUE``; ``scripts/train_cpu.sh`` does), with
    ``comment`` lines saying why on top."""
    path = Path(root) / "train_args.yaml"
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    write_text(path, head + yaml.safe_dump(args, sort_keys=False))
    return path


def read_train_args(root: str | Path) -> dict[str, Any]:
    """The dataset's ``train_args.yaml`` (empty when it has none)."""
    path = Path(root)
    path = path / "train_args.yaml" if path.is_dir() else path.with_name("train_args.yaml")
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise DetectorInputError(f"malformed {path}: expected a mapping of ultralytics training arguments")
    return data


def _random_origin(rng: np.random.Generator, low: float, high: float, size: int, limit: int) -> int:
    """A crop start in [high - size, low] (box fully inside when it fits), kept in the image."""
    start_min = max(0, int(np.ceil(high)) - size)
    start_max = min(limit - size, int(np.floor(low)))
    if start_max < start_min:  # box larger than the crop: centre it
        return int(np.clip((low + high) / 2 - size / 2, 0, limit - size))
    return int(rng.integers(start_min, start_max + 1))


def _crop(image: np.ndarray, boxes: pd.DataFrame, xyxy: np.ndarray, x0: int, y0: int,
          size_x: int, size_y: int, min_visible: float) -> tuple[np.ndarray, pd.DataFrame]:
    crop = np.ascontiguousarray(image[y0:y0 + size_y, x0:x0 + size_x])
    if not len(xyxy):
        return crop, empty_boxes()
    shifted = xyxy - [x0, y0, x0, y0]
    clipped = np.clip(shifted, 0, [size_x, size_y, size_x, size_y])
    area = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    inside = (clipped[:, 2] - clipped[:, 0]).clip(0) * (clipped[:, 3] - clipped[:, 1]).clip(0)
    keep = inside >= min_visible * np.maximum(area, 1e-9)
    out = pd.DataFrame(clipped[keep], columns=["x1", "y1", "x2", "y2"])
    out.insert(0, "class_name", boxes["class_name"].to_numpy()[keep])
    return crop, out


# ----------------------------------------------------------------------------- reading and checking

@dataclass
class DatasetSpec:
    """A parsed ``data.yaml``: the dataset root, class names and each split's image files."""

    yaml_path: Path
    root: Path
    names: list[str]
    splits: dict[str, list[Path]]


def read_data_yaml(path: str | Path) -> DatasetSpec:
    """Parse a ``data.yaml`` (or a folder holding one); ``DetectorInputError`` when malformed."""
    path = Path(path)
    if path.is_dir():
        path = path / "data.yaml"
    if not path.is_file():
        raise DetectorInputError(f"dataset description not found: {path} (expected a data.yaml)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DetectorInputError(f"malformed {path}: {error}") from None
    if not isinstance(data, dict):
        raise DetectorInputError(f"malformed {path}: expected a mapping with train, val and names")
    names = data.get("names")
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise DetectorInputError(f"malformed {path}: names keys must be class ids 0..n-1") from None
        if keys != list(range(len(keys))):
            raise DetectorInputError(f"malformed {path}: names keys must be class ids 0..n-1, got {keys}")
        names = [str(names.get(k, names.get(str(k)))) for k in keys]
    if not isinstance(names, list) or not names:
        raise DetectorInputError(f"malformed {path}: 'names' (the class names) is missing or empty")
    base = Path(data.get("path") or ".")
    root = base if base.is_absolute() else (path.parent / base)
    splits: dict[str, list[Path]] = {}
    for split in ("train", "val", "test"):
        if data.get(split) is None:
            if split in ("train", "val"):
                raise DetectorInputError(f"malformed {path}: no '{split}' entry")
            continue
        splits[split] = _images_of(root, data[split], path)
    return DatasetSpec(yaml_path=path, root=root, names=names, splits=splits)


def _images_of(root: Path, entry: Any, yaml_path: Path) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    images: list[Path] = []
    for item in entries:
        where = Path(str(item))
        where = where if where.is_absolute() else root / where
        if where.is_dir():
            images += sorted(p for p in where.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif where.is_file() and where.suffix == ".txt":
            for line in where.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    p = Path(line.strip())
                    images.append(p if p.is_absolute() else root / p)
        else:
            raise DetectorInputError(f"{yaml_path}: split folder not found: {where}")
    return images


def label_path_of(image_path: Path) -> Path:
    """The label file of an image: the last ``images`` folder swapped for ``labels``, ``.txt``."""
    parts = list(image_path.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) in px, read from the file header only."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size


@dataclass
class SplitReport:
    images: int = 0
    with_boxes: int = 0
    empty: int = 0  # label file present but empty: background image
    no_label: int = 0  # no label file: ultralytics treats it as background
    boxes: dict[str, int] = field(default_factory=dict)


@dataclass
class DatasetReport:
    """What ``check_dataset`` found. ``size_hist`` bins boxes by ``sqrt(w*h)`` in pixels."""

    yaml_path: Path
    names: list[str]
    splits: dict[str, SplitReport]
    size_hist: dict[str, int]
    broken: list[str]  # "path: reason" for unreadable images and malformed label files
    orphan_labels: int = 0  # label files without an image

    @property
    def ok(self) -> bool:
        return not self.broken

    def to_dict(self) -> dict[str, Any]:
        return {"data": str(self.yaml_path), "names": self.names,
                "splits": {k: vars(v) for k, v in self.splits.items()},
                "size_hist": self.size_hist, "broken": self.broken, "orphan_labels": self.orphan_labels}

    def summary(self) -> str:
        lines = [f"dataset {self.yaml_path}  classes: {', '.join(self.names)}"]
        for split, r in self.splits.items():
            balance = ", ".join(f"{k} {v}" for k, v in r.boxes.items())
            lines.append(f"  {split}: {r.images} images ({r.with_boxes} with boxes, {r.empty} empty labels, "
                         f"{r.no_label} without label file); boxes: {balance}")
        lines.append("  box size sqrt(w*h) px: " + ", ".join(f"{k}: {v}" for k, v in self.size_hist.items()))
        if self.orphan_labels:
            lines.append(f"  {self.orphan_labels} label files have no image")
        lines.append(f"  broken: {len(self.broken)}" + "".join(f"\n    {b}" for b in self.broken[:20]))
        return "\n".join(lines)


def check_dataset(path: str | Path) -> DatasetReport:
    """Count images and boxes per split and class, bin box sizes, and list broken files.

    Raises ``DetectorInputError`` when the dataset itself is malformed (no data.yaml, no names,
    missing split folders, no images at all); broken individual files are listed in the report."""
    spec = read_data_yaml(path)
    if not any(spec.splits.values()):
        raise DetectorInputError(f"dataset {spec.yaml_path} has no images in any split")
    size_hist = {label: 0 for label, _, _ in SIZE_BINS}
    broken: list[str] = []
    splits: dict[str, SplitReport] = {}
    seen_labels: set[Path] = set()
    label_dirs: set[Path] = set()
    for split, images in spec.splits.items():
        report = SplitReport(boxes={name: 0 for name in spec.names})
        for image_path in images:
            report.images += 1
            label = label_path_of(image_path)
            seen_labels.add(label)
            label_dirs.add(label.parent)
            try:
                width, height = image_size(image_path)
            except Exception as error:  # PIL raises many kinds for a broken file
                broken.append(f"{image_path}: unreadable image ({type(error).__name__})")
                continue
            if not label.exists():
                report.no_label += 1
                continue
            try:
                boxes = boxes_from_label_file(label, width, height, names=spec.names)
            except DetectorInputError as error:
                broken.append(str(error))
                continue
            if boxes.empty:
                report.empty += 1
                continue
            report.with_boxes += 1
            for name, count in Counter(boxes["class_name"]).items():
                report.boxes[name] += count
            sides = np.sqrt((boxes.x2 - boxes.x1) * (boxes.y2 - boxes.y1))
            for side in sides:
                size_hist[size_bin(side)] += 1
        splits[split] = report
    orphans = sum(1 for d in label_dirs if d.is_dir() for p in d.glob("*.txt") if p not in seen_labels)
    return DatasetReport(yaml_path=spec.yaml_path, names=spec.names, splits=splits, size_hist=size_hist,
                         broken=broken, orphan_labels=orphans)


# ----------------------------------------------------------------------------- small-camera augmentation

def zoom_out_crop(image: np.ndarray, boxes: pd.DataFrame, target: tuple[float, float, float, float], *,
                  size: int, factor: float, rng: np.random.Generator, min_side_px: float = 3.0,
                  ) -> tuple[np.ndarray, pd.DataFrame] | None:
    """A ``size`` px crop that shows ``target`` (x1, y1, x2, y2 px) ``factor`` (> 1) times smaller:
    a ``size * factor`` px window holding it at a random place, area-resampled to ``size`` px.

    This is scale augmentation done where the labels are exact: a 16 px camera with ``factor`` 2
    becomes an 8 px one, with its box scaled in floating point (no rounding to whole pixels).
    Boxes whose smaller side falls under ``min_side_px`` (the renderer's own floor) are dropped.
    None when the window does not fit in the image."""
    import cv2

    if factor <= 1:
        raise ValueError(f"factor must be > 1, got {factor}")
    height, width = image.shape[:2]
    window = int(round(size * factor))
    if window > min(width, height):
        return None
    xyxy = boxes[["x1", "y1", "x2", "y2"]].to_numpy(float) if len(boxes) else np.zeros((0, 4))
    x1, y1, x2, y2 = (float(v) for v in target)
    x0 = _random_origin(rng, x1, x2, window, width)
    y0 = _random_origin(rng, y1, y2, window, height)
    _, inside = _crop(image, boxes, xyxy, x0, y0, window, window, 0.5)
    crop = cv2.resize(image[y0:y0 + window, x0:x0 + window], (size, size), interpolation=cv2.INTER_AREA)
    scale = size / window
    inside[["x1", "y1", "x2", "y2"]] = inside[["x1", "y1", "x2", "y2"]].to_numpy(float) * scale
    sides = np.minimum(inside.x2 - inside.x1, inside.y2 - inside.y1)
    return np.ascontiguousarray(crop), inside[sides >= min_side_px].reset_index(drop=True)


def photometric_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photometrically randomized copy of a BGR uint8 image, beyond ultralytics' HSV jitter
    (training only; the evaluation's corruptions are ``geo.sim.corruptions``, never used here):
    each with its own probability, haze (p 0.3: blend 0.1-0.45 towards a light colour, stronger
    towards the top), a colour cast (p 0.5: per-channel gain 0.8-1.2, contrast 0.75-1.05), gamma
    (p 0.5: 0.7-1.4), lower resolution (p 0.25: down by 1.3-2.6x with a random interpolation and
    back up), Gaussian blur (p 0.4: sigma 0.4-1.5 px), sensor noise (p 0.5: sigma 2-12 grey
    levels, partly per channel) and a JPEG round trip (p 0.5: quality 25-85). Geometry (and so the
    labels) is unchanged."""
    import cv2

    out = image.astype(np.float32)
    h, w = out.shape[:2]
    if rng.random() < 0.3:
        amount = float(rng.uniform(0.1, 0.45))
        ramp = np.linspace(1.0, float(rng.uniform(0.3, 1.0)), h, dtype=np.float32)[:, None, None]
        air = rng.uniform(170, 245, size=3).astype(np.float32)
        out = out * (1 - amount * ramp) + air * (amount * ramp)
    if rng.random() < 0.5:
        out *= rng.uniform(0.8, 1.2, size=3).astype(np.float32)
        out = (out - 128) * np.float32(rng.uniform(0.75, 1.05)) + 128
    if rng.random() < 0.5:
        out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** np.float32(rng.uniform(0.7, 1.4))
    if rng.random() < 0.25:
        factor = float(rng.uniform(1.3, 2.6))
        down = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_NEAREST)[int(rng.integers(0, 3))]
        small = cv2.resize(out, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=down)
        out = cv2.resize(small, (w, h), interpolation=(cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(0, 2))])
    if rng.random() < 0.4:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.5)))
    if rng.random() < 0.5:
        sigma = float(rng.uniform(2, 12))
        grey = rng.normal(0, sigma, size=(h, w, 1)).astype(np.float32)
        out += grey + rng.normal(0, 0.5 * sigma, size=out.shape).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 86))])
        if ok:
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out
