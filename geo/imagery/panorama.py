"""Perspective crops from equirectangular (360 x 180 degree) panoramas.

Column ``x`` of a ``W``-wide panorama looks at compass bearing
``pano_heading + (x + 0.5) / W * 360 - 180`` degrees (its centre column faces ``pano_heading``,
Mapillary's ``computed_compass_angle``); row ``y`` of an ``H``-high one at elevation
``90 - (y + 0.5) / H * 180`` degrees. The crop is a pinhole camera with square pixels.
"""

from __future__ import annotations

import numpy as np


def rays_from_perspective(*, heading: float, fov: float, pitch: float = 0.0, width: int,
                          height: int) -> tuple[np.ndarray, np.ndarray]:
    """Bearing and elevation (degrees) seen by every pixel centre of a pinhole image.

    ``heading`` clockwise from north, ``fov`` horizontal, ``pitch`` up-positive, all degrees.
    Returns two ``(height, width)`` arrays.
    """
    if not 0 < fov < 180:
        raise ValueError(f"fov must be between 0 and 180 degrees, got {fov}")
    focal = (width / 2.0) / np.tan(np.radians(fov) / 2.0)
    x = np.arange(width, dtype=np.float64) + 0.5 - width / 2.0
    y = np.arange(height, dtype=np.float64) + 0.5 - height / 2.0
    right, up = np.meshgrid(x, -y)
    p = np.radians(pitch)
    forward = focal * np.cos(p) - up * np.sin(p)
    up = focal * np.sin(p) + up * np.cos(p)
    bearing = np.mod(heading + np.degrees(np.arctan2(right, forward)), 360.0)
    elevation = np.degrees(np.arctan2(up, np.hypot(right, forward)))
    return bearing, elevation


def perspective_from_equirect(pano: np.ndarray, *, heading: float, fov: float,
                              pitch: float = 0.0, width: int = 640, height: int | None = None,
                              pano_heading: float = 0.0) -> np.ndarray:
    """A ``height x width`` perspective image cut from an equirectangular panorama.

    Bilinear sampling; the panorama wraps around horizontally. Angles in degrees.
    """
    import cv2

    height = width if height is None else height
    pano_h, pano_w = pano.shape[:2]
    bearing, elevation = rays_from_perspective(heading=heading, fov=fov, pitch=pitch,
                                               width=width, height=height)
    map_x = np.mod((bearing - pano_heading) / 360.0 + 0.5, 1.0) * pano_w - 0.5
    map_y = np.clip((90.0 - elevation) / 180.0 * pano_h - 0.5, 0, pano_h - 1)
    return cv2.remap(pano, map_x.astype(np.float32), map_y.astype(np.float32),
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
