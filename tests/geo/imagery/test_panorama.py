"""Perspective crops from a synthetic equirectangular panorama with marks at known bearings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.imagery.panorama import perspective_from_equirect, rays_from_perspective

W, H = 1440, 720  # 4 px per degree


def _pano_with_marks(marks: dict[tuple[float, float], tuple[int, int, int]],
                     pano_heading: float = 0.0) -> np.ndarray:
    """A dark panorama with a bright 3x3-degree square per (bearing, elevation) mark."""
    pano = np.zeros((H, W, 3), np.uint8)
    for (bearing, elevation), color in marks.items():
        x = round(((bearing - pano_heading) / 360.0 + 0.5) % 1.0 * W)
        y = round((90.0 - elevation) / 180.0 * H)
        for dx in range(-6, 6):
            pano[y - 6:y + 6, (x + dx) % W] = color
    return pano


def _centroid(image: np.ndarray, color: tuple[int, int, int]) -> tuple[float, float]:
    close = np.all(np.abs(image.astype(int) - color) < 60, axis=2)
    assert close.any(), f"mark {color} not in the crop"
    ys, xs = np.nonzero(close)
    return xs.mean(), ys.mean()


def _expected(bearing: float, elevation: float, *, heading: float, fov: float, size: int
              ) -> tuple[float, float]:
    """Pixel of a direction in a pitch-0 pinhole image (pixel centres at i + 0.5)."""
    f = size / 2 / math.tan(math.radians(fov / 2))
    yaw = math.radians((bearing - heading + 180) % 360 - 180)
    x = f * math.tan(yaw)
    y = -f * math.tan(math.radians(elevation)) / math.cos(yaw)
    return size / 2 + x - 0.5, size / 2 + y - 0.5


@pytest.mark.parametrize("pano_heading", [0.0, 137.0])
def test_marks_land_at_the_expected_pixels(pano_heading):
    red, green, blue, white = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
    marks = {(90.0, 0.0): red, (110.0, 10.0): green, (70.0, -15.0): blue, (270.0, 0.0): white}
    pano = _pano_with_marks(marks, pano_heading)
    crop = perspective_from_equirect(pano, heading=90.0, fov=90.0, width=256,
                                     pano_heading=pano_heading)
    assert crop.shape == (256, 256, 3)
    for (bearing, elevation), color in list(marks.items())[:3]:
        got = _centroid(crop, color)
        want = _expected(bearing, elevation, heading=90.0, fov=90.0, size=256)
        assert np.allclose(got, want, atol=1.5), (color, got, want)
    assert not np.all(np.abs(crop.astype(int) - white) < 60, axis=2).any()  # behind the camera
    assert np.allclose(_centroid(crop, red), (127.5, 127.5), atol=1.0)  # heading at the centre


def test_crop_wraps_around_north():
    pano = _pano_with_marks({(350.0, 0.0): (255, 0, 0), (10.0, 0.0): (0, 255, 0)})
    crop = perspective_from_equirect(pano, heading=0.0, fov=60.0, width=200, height=100)
    assert crop.shape == (100, 200, 3)
    left, right = _centroid(crop, (255, 0, 0)), _centroid(crop, (0, 255, 0))
    assert math.isclose(left[0], _expected(350, 0, heading=0, fov=60, size=200)[0], abs_tol=1.5)
    assert math.isclose(right[0], _expected(10, 0, heading=0, fov=60, size=200)[0], abs_tol=1.5)
    assert math.isclose(left[1], 49.5, abs_tol=1.0) and math.isclose(right[1], 49.5, abs_tol=1.0)


def test_pitch_moves_the_horizon_down():
    bearing, elevation = rays_from_perspective(heading=0, fov=90, pitch=20, width=101, height=101)
    assert math.isclose(elevation[50, 50], 20.0, abs_tol=1e-9)  # the centre looks 20 deg up
    assert math.isclose(bearing[50, 50], 0.0, abs_tol=1e-9)
    pano = _pano_with_marks({(0.0, 0.0): (255, 0, 0)})
    crop = perspective_from_equirect(pano, heading=0.0, fov=90.0, pitch=20.0, width=200)
    x, y = _centroid(crop, (255, 0, 0))
    f = 100 / math.tan(math.radians(45))
    assert math.isclose(y, 100 + f * math.tan(math.radians(20)) - 0.5, abs_tol=1.5)
    assert math.isclose(x, 99.5, abs_tol=1.0)
