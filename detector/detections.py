"""``Detections``: the one box container of camcensus (supervision style).

Boxes are ``xyxy`` pixels of one image (float32, shape (N, 4)), with ``confidence`` (N,) in [0, 1]
and integer ``class_id`` (N,). Constructors turn model outputs into it (``from_ultralytics``,
``from_yolo_output`` / ``from_onnx_output`` for raw YOLO head tensors); ``to_frame`` writes the
rows of the detections table (image_id, x1, y1, x2, y2, conf, class_id, class_name, model_id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from detector import schemas
from detector.schemas import DETECTIONS

FRAME_COLUMNS = DETECTIONS.names


def empty_frame() -> pd.DataFrame:
    """An empty detections table with the contract's columns and dtypes."""
    return schemas.empty_frame(DETECTIONS)


@dataclass
class Detections:
    """Boxes of one image in pixels (``xyxy``), their ``confidence`` and ``class_id``."""

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        self.class_id = np.asarray(self.class_id, dtype=np.int32).reshape(-1)

    def __len__(self) -> int:
        return len(self.confidence)

    def __getitem__(self, index: Any) -> Detections:
        return Detections(self.xyxy[index], self.confidence[index], self.class_id[index])

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        """Concatenate detections of the same image."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
        )

    @classmethod
    def from_ultralytics(cls, result: Any) -> Detections:
        """From one ``ultralytics.engine.results.Results`` (boxes already in original pixels)."""
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return cls.empty()
        return cls(boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy())

    @classmethod
    def from_yolo_output(
        cls, prediction: Any, *, conf: float = 0.25, iou: float = 0.7, max_det: int = 300
    ) -> list[Detections]:
        """Per image of a raw YOLO detect-head batch: confidence filter and per-class NMS.

        ``prediction`` is (B, 4 + nc, A) with boxes as centre x, centre y, width, height in input
        pixels and per-class scores (YOLOv8/11 head), or (B, N, 6) x1, y1, x2, y2, score, class
        of an end-to-end head. A torch tensor or numpy array; boxes stay in input pixels."""
        import torch
        from torchvision.ops import batched_nms

        pred = torch.as_tensor(prediction).float()
        out = []
        if pred.ndim == 3 and pred.shape[2] == 6 and pred.shape[1] > 6:  # end-to-end head (B, N, 6)
            for p in pred:
                p = p[p[:, 4] >= conf][:max_det]
                out.append(
                    cls(p[:, :4].cpu().numpy(), p[:, 4].cpu().numpy(), p[:, 5].cpu().numpy())
                )
            return out
        pred = pred.transpose(1, 2)  # (B, A, 4 + nc)
        for p in pred:
            scores, classes = p[:, 4:].max(1)
            keep = scores >= conf
            if not bool(keep.any()):
                out.append(cls.empty())
                continue
            boxes, scores, classes = p[keep, :4], scores[keep], classes[keep]
            xy, half = boxes[:, :2], boxes[:, 2:] / 2
            boxes = torch.cat([xy - half, xy + half], 1)
            idx = batched_nms(boxes, scores, classes, iou)[:max_det]
            out.append(
                cls(boxes[idx].cpu().numpy(), scores[idx].cpu().numpy(), classes[idx].cpu().numpy())
            )
        return out

    from_onnx_output = from_yolo_output  # ONNX Runtime / OpenVINO give the same head tensor (numpy)

    def unletterbox(
        self,
        *,
        ratio: float,
        pad: tuple[float, float],
        shape: tuple[int, int],
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> Detections:
        """Map boxes from a letterboxed input back to image pixels.

        ``ratio`` input px per image px, ``pad`` (left, top) px, ``shape`` (height, width) of the
        crop that was letterboxed, ``offset`` (x, y) of that crop in the full image."""
        if not len(self):
            return self
        xyxy = self.xyxy.copy()
        xyxy[:, [0, 2]] = ((xyxy[:, [0, 2]] - pad[0]) / ratio).clip(0, shape[1]) + offset[0]
        xyxy[:, [1, 3]] = ((xyxy[:, [1, 3]] - pad[1]) / ratio).clip(0, shape[0]) + offset[1]
        return Detections(xyxy, self.confidence, self.class_id)

    def with_merged_duplicates(
        self, *, iou: float = 0.5, ios: float = 0.6, class_agnostic: bool = True
    ) -> Detections:
        """Greedy non-maximum merging for tiles (SAHI's greedy NMM): the most confident box
        absorbs every box overlapping it by IoU >= ``iou`` or by intersection over the smaller
        box >= ``ios`` (a part cut at a tile border), and grows to their union; confidence and
        class stay those of the most confident box. ``class_agnostic``: merge across classes
        too (default, since a part cut at a border often gets the other class)."""
        if len(self) < 2:
            return self
        order = np.argsort(-self.confidence, kind="stable")
        xyxy, conf, cls_ = self.xyxy[order], self.confidence[order], self.class_id[order]
        area = (xyxy[:, 2] - xyxy[:, 0]).clip(0) * (xyxy[:, 3] - xyxy[:, 1]).clip(0)
        alive = np.ones(len(conf), bool)
        kept_boxes, kept_conf, kept_cls = [], [], []
        for i in range(len(conf)):
            if not alive[i]:
                continue
            alive[i] = False
            rest = np.flatnonzero(alive if class_agnostic else alive & (cls_ == cls_[i]))
            box = xyxy[i].copy()
            if len(rest):
                lt = np.maximum(xyxy[rest, :2], xyxy[i, :2])
                rb = np.minimum(xyxy[rest, 2:], xyxy[i, 2:])
                inter = (rb - lt).clip(0).prod(1)
                union = area[rest] + area[i] - inter
                smaller = np.minimum(area[rest], area[i])
                match = (inter / np.maximum(union, 1e-9) >= iou) | (
                    inter / np.maximum(smaller, 1e-9) >= ios
                )
                matched = rest[match]
                if len(matched):
                    box[:2] = np.minimum(box[:2], xyxy[matched, :2].min(0))
                    box[2:] = np.maximum(box[2:], xyxy[matched, 2:].max(0))
                    alive[matched] = False
            kept_boxes.append(box)
            kept_conf.append(conf[i])
            kept_cls.append(cls_[i])
        return Detections(np.array(kept_boxes), np.array(kept_conf), np.array(kept_cls))

    def to_frame(
        self, *, image_id: str, class_names: dict[int, str] | list[str], model_id: str
    ) -> pd.DataFrame:
        """Rows of the detections table for this image (see ``FRAME_COLUMNS``)."""
        if not len(self):
            return empty_frame()
        names = dict(enumerate(class_names)) if isinstance(class_names, list) else class_names
        return pd.DataFrame(
            {
                "image_id": [image_id] * len(self),
                "x1": self.xyxy[:, 0],
                "y1": self.xyxy[:, 1],
                "x2": self.xyxy[:, 2],
                "y2": self.xyxy[:, 3],
                "conf": self.confidence,
                "class_id": self.class_id,
                "class_name": [names.get(int(c), str(int(c))) for c in self.class_id],
                "model_id": [model_id] * len(self),
            }
        )
