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


def make_review_survey(survey_dir: str | Path, *, n_cameras: int = 20, seed: int = 3, precision: float = 0.8,
                       recall: float = 0.7, with_detections: bool = True, locate: bool = True) -> dict:
    """A complete small survey (about 144 images, 30 detections) ready to review."""
    survey_dir = Path(survey_dir)
    parts = make_survey(survey_dir, n_cameras=n_cameras, seed=seed, grid=3, spacing=20.0, precision=precision,
                        recall=recall, with_detections=with_detections)
    write_images(survey_dir, parts["images"], parts["boxes"], seed=seed)
    if with_detections and locate:
        from geo.locate import locate_survey

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
