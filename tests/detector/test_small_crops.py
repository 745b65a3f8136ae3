"""Small-camera augmentation (issue 21): zoom-out crops with exact labels, photometric randomization."""

import numpy as np
import pandas as pd
import pytest

from detector.yolo_dataset import photometric_jitter, zoom_out_crop


def _image_with_box():
    image = np.full((640, 640, 3), 128, np.uint8)
    image[300:320, 400:420] = 20  # a 20 px dark square: the "camera"
    boxes = pd.DataFrame({"class_name": ["dome", "directed"], "x1": [400.0, 10.0], "y1": [300.0, 10.0],
                          "x2": [420.0, 13.0], "y2": [320.0, 14.0]})
    return image, boxes


def test_zoom_out_crop_shrinks_the_camera_and_its_box_by_the_factor():
    image, boxes = _image_with_box()
    crop, out = zoom_out_crop(image, boxes, (400, 300, 420, 320), size=320, factor=2.5 * 1.0 / 1.25,
                              rng=np.random.default_rng(0))
    assert crop.shape == (320, 320, 3)
    dome = out[out.class_name == "dome"].iloc[0]
    assert dome.x2 - dome.x1 == pytest.approx(10.0) and dome.y2 - dome.y1 == pytest.approx(10.0)
    # the label sits on the drawn square: its inside is dark, its surroundings are not
    x1, y1 = int(np.ceil(dome.x1)), int(np.ceil(dome.y1))
    assert crop[y1 + 2:y1 + 8, x1 + 2:x1 + 8].mean() < 40
    assert crop[max(y1 - 6, 0):max(y1 - 3, 1), x1:x1 + 8].mean() > 110


def test_zoom_out_crop_drops_boxes_under_the_floor_and_refuses_too_large_windows():
    image, boxes = _image_with_box()
    rng = np.random.default_rng(1)
    crop, out = zoom_out_crop(image, boxes, (10, 10, 13, 14), size=320, factor=2.0, rng=rng)
    assert "directed" not in set(out.class_name)  # 3 x 4 px becomes 1.5 x 2 px: under 3 px, dropped
    assert zoom_out_crop(image, boxes, (400, 300, 420, 320), size=320, factor=2.5, rng=rng) is None
    with pytest.raises(ValueError):
        zoom_out_crop(image, boxes, (400, 300, 420, 320), size=320, factor=1.0, rng=rng)


def test_photometric_jitter_keeps_geometry_changes_pixels_and_is_seeded():
    image = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    a = photometric_jitter(image, np.random.default_rng(5))
    b = photometric_jitter(image, np.random.default_rng(5))
    assert a.shape == image.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    changed = [not np.array_equal(photometric_jitter(image, np.random.default_rng(s)), image) for s in range(8)]
    assert sum(changed) >= 7
