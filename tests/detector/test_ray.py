"""The Ray Data engine on a local Ray instance gives the rows of the local engine."""

import cv2
import numpy as np
import pandas as pd
import pytest

from detector.detect import detect_images
from detector.engine import read_detections
from tests.detector.conftest import TINY_IMGSZ, DrawnObject, object_image


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_engine_gives_the_same_rows_as_the_local_engine(tiny_model, tmp_path, local_ray):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(5)
    for i in range(10):
        objects = (
            [] if i == 4 else [DrawnObject(int(rng.integers(2)), *rng.integers(40, 110, 2), 36)]
        )
        cv2.imwrite(str(images / f"{i:02d}.jpg"), object_image(150, 150, objects, noise=5, seed=i))
    (images / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    local = detect_images(
        images,
        model=tiny_model,
        out=tmp_path / "local",
        batch=3,
        imgsz=TINY_IMGSZ,
        workers=1,
        progress=False,
    )
    on_ray = detect_images(
        images,
        model=tiny_model,
        out=tmp_path / "ray",
        batch=3,
        imgsz=TINY_IMGSZ,
        workers=1,
        engine="ray",
        progress=False,
    )
    assert on_ray["engine"] == "ray" and on_ray["device"] == "cpu"
    for key in ("images", "ok", "failed", "detections"):
        assert on_ray[key] == local[key], key
    assert (
        on_ray["ok"] == 10
        and on_ray["failed"] == 1
        and on_ray["failures"][0]["image_id"] == "broken.jpg"
    )
    order = ["image_id", "conf", "x1"]
    a = read_detections(tmp_path / "local").sort_values(order).reset_index(drop=True)
    b = read_detections(tmp_path / "ray").sort_values(order).reset_index(drop=True)
    assert len(a) >= 8
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-4)
    again = detect_images(
        images, model=tiny_model, out=tmp_path / "ray", batch=3, engine="ray", progress=False
    )
    assert again["processed_this_run"] == 0
