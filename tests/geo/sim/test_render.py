"""The renderer: pinhole projection, occlusion by buildings, pitch, determinism."""

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.sim.render import EYE_HEIGHT_M, boxes_for_view, focal_px, render_view
from geo.sim.scene import scene_from_frames

UTM = "EPSG:32635"
X0, Y0 = 385_000.0, 6_672_000.0  # central Helsinki, metres


def _scene(buildings=(), cameras=(), size=0.2):
    frame = gpd.GeoDataFrame(
        {"height_m": [h for _, h in buildings]},
        geometry=[box(X0 + a, Y0 + b, X0 + c, Y0 + d) for (a, b, c, d), _ in buildings],
        crs=UTM,
    )
    cams = pd.DataFrame(
        [
            {
                "camera_id": cid,
                "class_name": cls,
                "x": X0 + x,
                "y": Y0 + y,
                "z": z,
                "mount": "ceiling",
                "size_m": size,
            }
            for cid, cls, x, y, z in cameras
        ]
    )
    return scene_from_frames(frame, crs=UTM, cameras=cams)


@pytest.mark.parametrize(
    "heading, offset", [(0.0, (2.0, 10.0)), (90.0, (10.0, -2.0)), (200.0, (-5.0, -12.0))]
)
def test_camera_at_known_offset_lands_on_the_expected_pixel(heading, offset):
    dx, dy, z = offset[0], offset[1], EYE_HEIGHT_M + 1.0
    scene = _scene(cameras=[("c", "dome", dx, dy, z)])
    _, boxes = render_view(
        scene, x=X0, y=Y0, heading=heading, width=640, height=640, fov=90, seed=3
    )
    h = math.radians(heading)
    depth = dx * math.sin(h) + dy * math.cos(h)
    side = dx * math.cos(h) - dy * math.sin(h)
    f = focal_px(90, 640)
    u = 320 + f * side / depth
    v = 320 - f * (z - EYE_HEIGHT_M) / depth
    assert len(boxes) == 1
    b = boxes.iloc[0]
    # A ceiling dome is symmetric left-right; its housing top is 0.32 radius above the anchor.
    assert abs((b.x1 + b.x2) / 2 - u) <= 1.0
    assert abs(b.y1 - (v - 0.32 * 0.1 * f / depth)) <= 1.0
    assert (
        abs((b.x2 - b.x1) - 0.2 * f / depth) <= 1.5
    )  # the dome's width in px follows its distance


def test_camera_behind_a_building_is_not_labelled_but_one_above_a_low_roof_is():
    hidden = _scene(
        buildings=[((-5, 6, 5, 10), 20.0)], cameras=[("behind", "dome", 0.0, 13.0, 4.0)]
    )
    assert len(render_view(hidden, x=X0, y=Y0, heading=0, seed=1)[1]) == 0
    open_view = _scene(cameras=[("behind", "dome", 0.0, 13.0, 4.0)])
    assert list(render_view(open_view, x=X0, y=Y0, heading=0, seed=1)[1].camera_id) == ["behind"]
    over_roof = _scene(
        buildings=[((-5, 6, 5, 10), 3.0)], cameras=[("high", "dome", 0.0, 13.0, 9.0)]
    )
    assert list(render_view(over_roof, x=X0, y=Y0, heading=0, seed=1)[1].camera_id) == ["high"]


def test_out_of_frame_behind_and_tiny_cameras_are_not_labelled():
    scene = _scene(
        cameras=[
            ("behind_eye", "dome", 0.0, -10.0, 4.0),
            ("outside", "dome", 30.0, 5.0, 4.0),
            ("tiny", "dome", 0.0, 80.0, 4.0),
            ("ok", "directed", 1.0, 8.0, 4.0),
        ]
    )
    _, boxes = render_view(scene, x=X0, y=Y0, heading=0, seed=2)
    assert list(boxes.camera_id) == ["ok"]
    assert (boxes[["x1", "y1"]] >= 0).all().all() and (boxes[["x2", "y2"]] <= 640).all().all()


def test_pitch_moves_the_camera_down_by_the_rotation():
    scene = _scene(cameras=[("c", "dome", 0.0, 10.0, EYE_HEIGHT_M)])
    level = render_view(scene, x=X0, y=Y0, heading=0, pitch=0, seed=1)[1].iloc[0]
    up = render_view(scene, x=X0, y=Y0, heading=0, pitch=10, seed=1)[1].iloc[0]
    f = focal_px(90, 640)
    assert abs((up.y1 - level.y1) - f * math.tan(math.radians(10))) <= 2.0
    assert abs((up.x1 + up.x2) / 2 - (level.x1 + level.x2) / 2) <= 1.0


def test_render_is_deterministic_and_boxes_match_the_drawing_free_path():
    scene = _scene(
        buildings=[((-20, 5, -8, 40), 15.0), ((8, 5, 20, 30), 9.0)],
        cameras=[("a", "dome", -7.5, 14.0, 4.0), ("b", "directed", 7.5, 8.0, 5.0)],
        size=0.3,
    )
    image1, boxes1 = render_view(scene, x=X0, y=Y0, heading=10, width=480, height=360, seed=7)
    image2, boxes2 = render_view(scene, x=X0, y=Y0, heading=10, width=480, height=360, seed=7)
    image3, _ = render_view(scene, x=X0, y=Y0, heading=10, width=480, height=360, seed=8)
    assert image1.shape == (360, 480, 3) and image1.dtype == np.uint8
    assert np.array_equal(image1, image2) and boxes1.equals(boxes2)
    assert not np.array_equal(image1, image3)  # the seed varies light, noise and blur
    assert len(boxes1) == 2
    pd.testing.assert_frame_equal(
        boxes1, boxes_for_view(scene, x=X0, y=Y0, heading=10, width=480, height=360)
    )


def test_facades_are_drawn_where_buildings_stand():
    scene = _scene(buildings=[((-30, 10, 30, 20), 30.0)])
    image, _ = render_view(scene, x=X0, y=Y0, heading=0, width=200, height=200, seed=0)
    sky_free = _scene()
    empty, _ = render_view(sky_free, x=X0, y=Y0, heading=0, width=200, height=200, seed=0)
    # The top middle of the image is wall with a building ahead, sky without.
    assert np.abs(image[20:60, 80:120].astype(int) - empty[20:60, 80:120].astype(int)).mean() > 10
