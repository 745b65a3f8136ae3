"""The survey tables a review reads: images, detections (with a stable id each), the located
cameras each detection belongs to, and the simulator's truth boxes.

A detection has no id in the detections table, so the review gives it one: a hash of its image
id, box (pixels, to 0.1 px) and class, which stays the same when the table is read again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from detector.schemas import DETECTIONS
from geo.errors import GeoInputError
from geo.counting.locate import read_detections, read_images
from geo.schemas import TRUTH_BOXES, columns
from scripts import survey_dir
DEFAULT_CONF = 0.25  # when neither the option nor the model card gives a threshold


def detection_ids(detections: pd.DataFrame) -> pd.Series:
    """A stable 16-hex-digit id per detection row (image id, box to 0.1 px, class)."""
    keys = (detections["image_id"].astype(str) + "|"
            + detections[["x1", "y1", "x2", "y2"]].astype(float).round(1).astype(str).agg("|".join, axis=1)
            + "|" + detections["class_name"].astype(str))
    return keys.map(lambda k: hashlib.sha1(k.encode("utf-8")).hexdigest()[:16])


def box_size_px(frame: pd.DataFrame) -> np.ndarray:
    """sqrt(box area) in pixels of each row's x1, y1, x2, y2."""
    w = (frame["x2"].to_numpy(float) - frame["x1"].to_numpy(float)).clip(min=0)
    h = (frame["y2"].to_numpy(float) - frame["y1"].to_numpy(float)).clip(min=0)
    return np.sqrt(w * h)


def camera_of_detections(detections: pd.DataFrame, images: pd.DataFrame, cameras: pd.DataFrame) -> np.ndarray:
    """The located camera (camera_id, -1 for none) of each detection: among the cameras whose
    ``image_ids`` hold the detection's image, the one whose bearing from the image's position
    is closest to the detection's bearing (heading plus the box centre's angle, degrees)."""
    out = np.full(len(detections), -1, dtype=np.int64)
    if not len(detections) or not len(cameras):
        return out
    pose = images.drop_duplicates("image_id").set_index("image_id")
    seen = cameras[["camera_id", "lon", "lat", "image_ids"]].explode("image_ids").dropna(subset=["image_ids"])
    by_image = {k: g for k, g in seen.groupby("image_ids")}
    for i, det in enumerate(detections.itertuples(index=False)):
        group = by_image.get(det.image_id)
        if group is None or det.image_id not in pose.index:
            continue
        img = pose.loc[det.image_id]
        width = float(img["width"]) if pd.notna(img.get("width")) else 640.0
        fov = float(img["fov"]) if pd.notna(img.get("fov")) else 90.0
        focal = width / 2 / np.tan(np.radians(fov) / 2)
        bearing = float(img["heading"]) + np.degrees(np.arctan(((det.x1 + det.x2) / 2 - width / 2) / focal))
        dx = (group["lon"].to_numpy(float) - float(img["lon"])) * np.cos(np.radians(float(img["lat"]))) * 111_320
        dy = (group["lat"].to_numpy(float) - float(img["lat"])) * 110_540
        diff = np.abs((np.degrees(np.arctan2(dx, dy)) - bearing + 180) % 360 - 180)
        out[i] = int(group["camera_id"].to_numpy()[int(np.argmin(diff))])
    return out


@dataclass
class SurveyTables:
    """The tables of one survey directory that the review needs, read once and kept."""

    survey_dir: Path
    conf_threshold: float

    @classmethod
    def open(cls, survey_dir: str | Path, *, conf: float | None = None) -> SurveyTables:
        """Read ``survey_dir``; ``conf`` (0-1) defaults to the model card's threshold, else 0.25."""
        survey_dir = Path(survey_dir)
        if not survey_dir.is_dir():
            raise GeoInputError(f"survey directory not found: {survey_dir}")
        if conf is not None and not 0.0 <= conf < 1.0:
            raise GeoInputError(f"--conf must be in [0, 1), got {conf}")
        tables = cls(survey_dir=survey_dir, conf_threshold=DEFAULT_CONF)
        tables.images  # noqa: B018  (fails early, with the fetch hint, when images.parquet is missing)
        tables.conf_threshold = float(conf) if conf is not None else tables.card_conf()
        return tables

    def card(self):
        """The card of the model that made the detections, or None (no model recorded, no card,
        or a bad one: a bad card must not stop a review)."""
        from detector.card import read_card
        from detector.errors import DetectorInputError
        from detector.registry import default_models_dir, resolve_model

        model_id = self.model_id()
        if not model_id:
            return None
        try:
            try:
                return resolve_model(model_id).card
            except DetectorInputError:
                path = default_models_dir() / f"{model_id}.md"
                return read_card(path) if path.is_file() else None
        except (DetectorInputError, OSError, ValueError):
            return None

    def card_conf(self) -> float:
        """The operating threshold of the model that made the detections (its card), else 0.25."""
        card = self.card()
        conf = getattr(card, "conf", None)
        return float(conf) if isinstance(conf, int | float) else DEFAULT_CONF

    def model_id(self) -> str | None:
        """The model id detect recorded (``survey_dir.recorded_model_id``)."""
        return survey_dir.recorded_model_id(self.survey_dir)

    @cached_property
    def images(self) -> pd.DataFrame:
        """images.parquet rows with status ok, indexed by image_id."""
        images = read_images(self.survey_dir)
        if "status" in images.columns:
            images = images[images["status"].fillna("ok") == "ok"]
        images = images.drop_duplicates("image_id").copy()
        for name, default in (("width", 640), ("height", 640)):
            images[name] = images[name].fillna(default).astype(int) if name in images else default
        return images.set_index("image_id", drop=False)

    @cached_property
    def has_detections(self) -> bool:
        """Whether the detect stage has written any part file."""
        return any((self.survey_dir / survey_dir.DETECTIONS_DIR).glob("part-*.parquet"))

    @cached_property
    def all_detections(self) -> pd.DataFrame:
        """Every detection of an ok image, with ``detection_id``, ``size_px`` and ``camera_id``."""
        names = DETECTIONS.names
        det = read_detections(self.survey_dir)
        det = det[[c for c in names if c in det.columns]].copy()
        det = det[det["image_id"].isin(self.images.index)].reset_index(drop=True)
        det["conf"] = det["conf"].astype(float) if "conf" in det else 1.0
        det["class_name"] = det["class_name"].fillna("camera").astype(str)
        det["detection_id"] = detection_ids(det) if len(det) else pd.Series(dtype=str)
        det = det.drop_duplicates("detection_id").reset_index(drop=True)
        det["size_px"] = box_size_px(det)
        det["camera_id"] = camera_of_detections(det, self.images.reset_index(drop=True), self.cameras)
        return det.set_index("detection_id", drop=False)

    @cached_property
    def detections(self) -> pd.DataFrame:
        """The detections at or above the confidence threshold: those the estimate uses."""
        det = self.all_detections
        return det[det["conf"] >= self.conf_threshold]

    @cached_property
    def cameras(self) -> pd.DataFrame:
        """cameras.parquet (camera_id, lon, lat, image_ids) or an empty frame before locate."""
        path = self.survey_dir / survey_dir.CAMERAS
        if not path.exists():
            return pd.DataFrame({"camera_id": pd.Series(dtype="int64"), "lon": pd.Series(dtype=float),
                                 "lat": pd.Series(dtype=float), "image_ids": pd.Series(dtype=object)})
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        frame = pq.read_table(path, columns=[c for c in ("camera_id", "lon", "lat", "image_ids", "conf_max")
                                             if c in names]).to_pandas()
        frame["image_ids"] = frame["image_ids"].map(lambda ids: [str(i) for i in ids] if ids is not None else [])
        return frame

    @cached_property
    def truth_boxes(self) -> pd.DataFrame | None:
        """truth_boxes.parquet (simulated surveys only), or None."""
        path = self.survey_dir / survey_dir.TRUTH_BOXES
        if not path.exists():
            return None
        frame = pd.read_parquet(path, columns=columns(TRUTH_BOXES))
        frame["image_id"] = frame["image_id"].astype(str)
        return frame[frame["image_id"].isin(self.images.index)].reset_index(drop=True)

    def detections_in(self, image_id: str) -> pd.DataFrame:
        """The used detections (at or above the threshold) of one image."""
        det = self.detections
        return det[det["image_id"] == image_id]

    def image_file(self, image_id: str) -> Path | None:
        """The image's file when it lies inside the survey directory, else None (never serve
        a path outside the survey, whatever images.parquet says)."""
        if image_id not in self.images.index:
            return None
        relative = self.images.at[image_id, "path"]
        if not isinstance(relative, str) or not relative:
            return None
        root = self.survey_dir.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path
