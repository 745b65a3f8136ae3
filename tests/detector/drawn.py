"""Tiny generated YOLO datasets for detector tests: grey domes and dark boxes drawn on noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from detector.yolo_dataset import BOX_COLUMNS, write_data_yaml, write_example


def drawn_image(rng: np.random.Generator, size: int = 96, n_objects: int = 2,
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """A BGR image with ``n_objects`` drawn cameras (dome = filled circle, directed = rectangle)."""
    import cv2

    image = rng.integers(90, 160, (size, size, 3), dtype=np.uint8)
    rows = []
    for _ in range(n_objects):
        side = int(rng.integers(size // 8, size // 4))
        x1, y1 = (int(v) for v in rng.integers(0, size - side, 2))
        if rng.random() < 0.5:
            cv2.circle(image, (x1 + side // 2, y1 + side // 2), side // 2, (235, 235, 235), -1)
            rows.append(("dome", x1, y1, x1 + 2 * (side // 2), y1 + 2 * (side // 2)))
        else:
            cv2.rectangle(image, (x1, y1), (x1 + side - 1, y1 + side // 2 - 1), (20, 20, 20), -1)
            rows.append(("directed", x1, y1, x1 + side, y1 + side // 2))
    return image, pd.DataFrame(rows, columns=BOX_COLUMNS)


def drawn_dataset(root: Path, *, n_train: int = 8, n_val: int = 4, size: int = 96, seed: int = 0) -> Path:
    """Write a tiny YOLO dataset of drawn images; returns its data.yaml."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            image, boxes = drawn_image(rng, size, n_objects=int(rng.integers(0, 3)) if i else 2)
            write_example(root, split, f"{split}{i:03d}", image, boxes)
    return write_data_yaml(root)
