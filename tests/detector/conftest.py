"""Detector test fixtures: generated images with known objects and a tiny, really trained YOLO.

``tiny_model`` is a ``yolo11n.yaml`` model (classes 0 = dome, 1 = directed) trained for a few
seconds on :func:`object_dataset` images: plain light backgrounds with dark, filled objects
(dome = disc, directed = 2:1 rectangle) whose side is 15-35 % of the image. At
``TINY_IMGSZ`` it finds such objects with confidence well above 0.25.

Helpers for other tests: :func:`object_image` draws given objects at given pixels,
:func:`object_dataset` writes a YOLO dataset of random ones.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import detector  # noqa: F401  (offline ultralytics before anything imports it)

TINY_IMGSZ = 128  # pixels; the tiny model was trained at this size
TINY_NAMES = {0: "dome", 1: "directed"}
_RECIPE = "v1"  # bump when the data or the training recipe changes (invalidates the pytest cache)


@dataclass(frozen=True)
class DrawnObject:
    """One drawn object: class id (0 dome disc, 1 directed rectangle), centre and side in pixels."""

    class_id: int
    cx: float
    cy: float
    side: float

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        half_w = self.side / 2
        half_h = self.side / 2 if self.class_id == 0 else self.side / 4
        return (self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h)


def object_image(
    width: int,
    height: int,
    objects: list[DrawnObject],
    *,
    background: int = 205,
    noise: int = 0,
    seed: int = 0,
    color: tuple[int, int, int] = (25, 25, 25),
) -> np.ndarray:
    """A BGR uint8 image of ``width`` x ``height`` pixels with ``objects`` drawn dark on a light
    plain background (``noise``: +- grey levels of uniform pixel noise)."""
    import cv2

    image = np.full((height, width, 3), background, np.int16)
    if noise:
        image += np.random.default_rng(seed).integers(
            -noise, noise + 1, (height, width, 1), dtype=np.int16
        )
    image = np.clip(image, 0, 255).astype(np.uint8)
    for obj in objects:
        if obj.class_id == 0:
            cv2.circle(image, (round(obj.cx), round(obj.cy)), round(obj.side / 2), color, -1)
        else:
            x1, y1, x2, y2 = (round(v) for v in obj.xyxy)
            cv2.rectangle(image, (x1, y1), (x2, y2), color, -1)
    return image


def random_objects(
    rng: np.random.Generator,
    size: int,
    *,
    n_max: int = 2,
    min_frac: float = 0.15,
    max_frac: float = 0.35,
) -> list[DrawnObject]:
    """1..n_max random objects with a side of ``min_frac``-``max_frac`` of ``size`` pixels."""
    objects = []
    for _ in range(int(rng.integers(1, n_max + 1))):
        side = int(rng.integers(int(min_frac * size), int(max_frac * size)))
        cx, cy = (int(v) for v in rng.integers(side, size - side, 2))
        objects.append(DrawnObject(int(rng.integers(0, 2)), cx, cy, side))
    return objects


def object_dataset(
    root: str | Path, *, n_train: int = 80, n_val: int = 8, size: int = TINY_IMGSZ, seed: int = 0
) -> Path:
    """Write a YOLO dataset (PNG images, labels, ``data.yaml`` with names dome/directed) of
    random drawn objects under ``root``; return the data.yaml path."""
    import cv2

    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            objects = random_objects(rng, size)
            color = tuple(int(c) for c in rng.integers(0, 60, 3))
            image = object_image(
                size,
                size,
                objects,
                background=int(rng.integers(170, 240)),
                noise=8,
                seed=int(rng.integers(1 << 31)),
                color=color,
            )
            cv2.imwrite(str(root / "images" / split / f"{i:04d}.png"), image)
            lines = []
            for obj in objects:
                x1, y1, x2, y2 = obj.xyxy
                lines.append(
                    f"{obj.class_id} {(x1 + x2) / 2 / size:.6f} {(y1 + y2) / 2 / size:.6f} "
                    f"{(x2 - x1) / size:.6f} {(y2 - y1) / size:.6f}"
                )
            (root / "labels" / split / f"{i:04d}.txt").write_text("\n".join(lines) + "\n")
    data = root / "data.yaml"
    data.write_text(
        f"path: {root.resolve()}\ntrain: images/train\nval: images/val\n"
        "names:\n  0: dome\n  1: directed\n"
    )
    return data


def train_tiny_model(workdir: Path, *, epochs: int = 14, seed: int = 0) -> Path:
    """Build ``yolo11n.yaml`` and train it for ~25 s on CPU on drawn objects; return best weights."""
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(2)
    data = object_dataset(workdir / "data", seed=seed)
    model = YOLO("yolo11n.yaml")
    model.train(
        data=str(data),
        epochs=epochs,
        imgsz=TINY_IMGSZ,
        batch=8,
        nbs=8,
        optimizer="SGD",
        lr0=0.03,
        warmup_epochs=0,
        mosaic=0.0,
        close_mosaic=0,
        hsv_h=0.0,
        hsv_s=0.0,
        hsv_v=0.0,
        amp=False,
        workers=0,
        plots=False,
        val=False,
        device="cpu",
        project=str(workdir / "runs"),
        name="tiny",
        exist_ok=True,
        seed=seed,
        verbose=False,
    )
    return workdir / "runs" / "tiny" / "weights" / "last.pt"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, request) -> Path:
    """Path to a ``.pt`` of yolo11n trained briefly on drawn objects (names dome/directed).

    Trained once per session (about 25 s on 2 CPU cores); the weights are also kept in the
    pytest cache (``.pytest_cache``) keyed by the recipe version, so later sessions reuse them."""
    out = tmp_path_factory.mktemp("tiny_model") / "tiny.pt"
    cache = getattr(request.config, "cache", None)
    cached = Path(cache.mkdir(f"camcensus_tiny_model_{_RECIPE}")) / "tiny.pt" if cache else None
    if cached is not None and cached.is_file():
        shutil.copyfile(cached, out)
        return out
    weights = train_tiny_model(out.parent / "work")
    shutil.copyfile(weights, out)
    if cached is not None:
        tmp = cached.with_suffix(".tmp")
        shutil.copyfile(weights, tmp)
        tmp.replace(cached)
    return out
