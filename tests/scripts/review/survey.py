"""Small generated surveys for the review tests: the grid survey of tests.geo.sim.scene (truth
boxes and detections made from them at a known precision and recall), with real JPEG images
(a camera drawn as a dark blob at each truth box) and located cameras."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from tests.geo.sim.scene import make_survey


def write_images(survey_dir: Path, images: pd.DataFrame, boxes: pd.DataFrame, *, seed: int = 0) -> None:
    """One 640 px JPEG per image: a sky/ground gradient with noise and a blob per truth box."""
    import cv2

    rng = np.random.default_rng(seed)
    (survey_dir / "images").mkdir(exist_ok=True)
    base = np.zeros((640, 640, 3), np.uint8)
    base[:320] = (200, 170, 140)
    base[320:] = (90, 100, 100)
    by_image = {k: g for k, g in boxes.groupby("image_id")}
    for image_id, path in zip(images["image_id"], images["path"]):
        frame = base.copy()
        frame += rng.integers(0, 12, frame.shape, dtype=np.uint8)
        for b in by_image.get(image_id, pd.DataFrame()).itertuples(index=False):
            cv2.rectangle(frame, (int(b.x1), int(b.y1)), (int(np.ceil(b.x2)), int(np.ceil(b.y2))), (30, 30, 30), -1)
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        (survey_dir / path).write_bytes(data.tobytes())


def detections_from_boxes(boxes: pd.DataFrame, images: pd.DataFrame, *, recall: float, precision: float,
                          seed: int = 0) -> pd.DataFrame:
    """Detections (the detections contract): each truth box kept, exactly, with probability
    ``recall``; then false 5-20 px boxes above the horizon in random images so that ``precision``
    of them are true. Confidences uniform in [0.3, 0.95] (true) and [0.25, 0.6] (false)."""
    rng = np.random.default_rng([seed, 14])
    kept = boxes[rng.random(len(boxes)) < recall].reset_index(drop=True)
    n_false = int(round(len(kept) * (1.0 - precision) / precision))
    pick = images.iloc[rng.integers(0, len(images), n_false)]
    size = rng.uniform(5, 20, n_false)
    cx, cy = rng.uniform(32, 608, n_false), rng.uniform(64, 320, n_false)
    out = pd.concat([
        pd.DataFrame({"image_id": kept["image_id"].astype(str), "x1": kept["x1"], "y1": kept["y1"], "x2": kept["x2"],
                      "y2": kept["y2"], "class_name": kept["class_name"].astype(str),
                      "conf": rng.uniform(0.3, 0.95, len(kept))}),
        pd.DataFrame({"image_id": pick["image_id"].astype(str).to_numpy(), "x1": cx - size / 2, "y1": cy - size / 2,
                      "x2": cx + size / 2, "y2": cy + size / 2,
                      "class_name": np.where(rng.random(n_false) < 0.5, "dome", "directed"),
                      "conf": rng.uniform(0.25, 0.6, n_false)})], ignore_index=True)
    out["class_id"] = np.where(out["class_name"] == "dome", 1, 0).astype(np.int32)
    out["model_id"] = "truth-degraded"
    return out


def make_review_survey(survey_dir: str | Path, *, n_cameras: int = 20, seed: int = 3, precision: float = 0.8,
                       recall: float = 0.7, with_detections: bool = True, locate: bool = True) -> dict:
    """A complete small survey (about 144 images, 30 detections) ready to review."""
    survey_dir = Path(survey_dir)
    parts = make_survey(survey_dir, n_cameras=n_cameras, seed=seed, grid=3, spacing=20.0, with_detections=False)
    write_images(survey_dir, parts["images"], parts["boxes"], seed=seed)
    if with_detections:
        from detector.schemas import DETECTIONS, table_from_frame
        import pyarrow.parquet as pq

        detections = detections_from_boxes(parts["boxes"], parts["images"], recall=recall, precision=precision,
                                           seed=seed)
        (survey_dir / "detections").mkdir(exist_ok=True)
        pq.write_table(table_from_frame(detections, DETECTIONS), survey_dir / "detections" / "part-000000.parquet")
        parts["detections"] = detections
    if with_detections and locate:
        from geo.counting.locate import locate_survey

        locate_survey(survey_dir, buildings=None)
    return parts


@contextmanager
def serving(app):
    """The app on a real threaded server at 127.0.0.1 and a free port; yields the base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
