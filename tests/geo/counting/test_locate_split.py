"""geo.counting.locate: one camera is located once when the detector's class changes between views or
it draws two boxes on the camera in one image (split cameras, issue 26)."""

import numpy as np
import pandas as pd
import shapely

from geo.counting.locate import CAMERA_SIZE_M, TWIN_OVERLAP, cameras_from_detections, located_rays
from tests.geo.counting.test_locate import UTM, X0, Y0, _box, _grid_north, _images
from tests.geo.sim.scene import block_buildings, facade_cameras, truth_boxes_from_scene


def _views_of(cam, eyes_x, classes):
    """Images at (eyes_x, Y0) looking grid north, each with the pinhole box of a camera at ``cam``."""
    images = _images(eyes_x, [Y0] * len(eyes_x), [0.0] * len(eyes_x))
    images["heading"] = _grid_north(images)
    rows = []
    for k, (ex, cls) in enumerate(zip(eyes_x, classes)):
        dx = 320.0 * (cam[0] - ex) / (cam[1] - Y0)
        size = CAMERA_SIZE_M[cls] * np.hypot(320.0, dx) / np.hypot(cam[0] - ex, cam[1] - Y0)
        rows.append(_box(f"i{k}", 320 + dx, 300, size, cls=cls))
    return images, rows


def test_a_camera_whose_class_changes_between_views_is_one_camera():
    cam = (X0 + 10.0, Y0 + 10.0)
    images, rows = _views_of(cam, [X0, X0 + 10.0, X0 + 20.0], ["dome", "directed", "dome"])
    rows[0]["conf"], rows[2]["conf"] = 0.6, 0.6  # directed 0.8 < dome 1.2 in all
    cams = cameras_from_detections(pd.DataFrame(rows), images, crs=UTM)
    assert len(cams) == 1 and cams["n_views"].iloc[0] == 3
    assert cams["class_name"].iloc[0] == "dome"  # the class its views give most confidence
    assert len(cameras_from_detections(pd.DataFrame(rows), images, crs=UTM, respect_class=True)) == 2


def test_two_overlapping_boxes_of_one_image_are_one_camera_two_apart_are_two():
    cam = (X0 + 10.0, Y0 + 10.0)
    images, rows = _views_of(cam, [X0, X0 + 20.0], ["dome", "dome"])
    twin = dict(rows[0], class_name="directed", conf=0.55, x1=rows[0]["x1"] - 1.0, x2=rows[0]["x2"] + 1.0)
    det = pd.DataFrame(rows + [twin])
    cams = cameras_from_detections(det, images, crs=UTM)
    assert len(cams) == 1
    assert cams["n_detections"].iloc[0] == 3 and cams["n_views"].iloc[0] == 2
    assert cams["method"].iloc[0] == "triangulated"
    assert len(cameras_from_detections(det, images, crs=UTM, twin_overlap=0)) == 2  # off: never two of one image
    rays = located_rays(det, images, crs=UTM)
    assert rays["camera"].nunique() == 1 and len(rays) == 3
    # boxes that overlap less than TWIN_OVERLAP of the smaller one stay two cameras
    shift = (rows[0]["x2"] - rows[0]["x1"]) * (1 - TWIN_OVERLAP + 0.2)  # overlap 0.3 of the box
    apart = dict(rows[0], x1=rows[0]["x1"] + shift, x2=rows[0]["x2"] + shift)
    assert len(cameras_from_detections(pd.DataFrame([rows[0], apart]), images, crs=UTM)) == 2


def _scene_detections(seed, *, flip=0.3, twins=0.2):
    """A generated scene's true boxes as detections, the class flipped on ``flip`` of them and a second
    box of the other class (overlapping, a little larger) added on ``twins`` of them."""
    from geo.streets.sampling import views_from_graph
    from tests.geo.sim.scene import grid_graph

    rng = np.random.default_rng(seed)
    buildings = block_buildings(n=4)
    truth = facade_cameras(buildings, n=30, seed=seed)
    _, views = views_from_graph(grid_graph(n=4), spacing=5.0, seed=seed)
    images = views.assign(image_id=views["view_id"], width=640, height=640, status="ok")
    boxes = truth_boxes_from_scene(truth, images, buildings, seed=seed)
    other = {"dome": "directed", "directed": "dome"}
    det = boxes.assign(conf=rng.uniform(0.5, 0.9, len(boxes)))
    flipped = rng.random(len(det)) < flip
    det.loc[flipped, "class_name"] = det.loc[flipped, "class_name"].map(other)
    extra = det[rng.random(len(det)) < twins].copy()
    extra["class_name"] = extra["class_name"].map(other)
    extra[["x1", "y1"]] -= 1.0
    extra[["x2", "y2"]] += 1.0
    extra["conf"] = extra["conf"] - 0.1
    return pd.concat([det, extra], ignore_index=True), images, buildings, truth, boxes


def test_a_generated_scene_with_class_noise_and_two_boxes_is_located_once_per_camera():
    for seed in (2, 3):
        det, images, buildings, truth, boxes = _scene_detections(seed)
        seen = truth[truth["camera_id"].isin(boxes["camera_id"])].to_crs(UTM)
        cams = cameras_from_detections(det, images, buildings=buildings)
        old = cameras_from_detections(det, images, buildings=buildings, respect_class=True, twin_overlap=0)
        assert abs(len(cams) - len(seen)) <= 0.1 * len(seen) + 1, (len(cams), len(seen))
        assert len(old) > len(cams) + 0.2 * len(seen)  # the splits the old rules made
        dist = shapely.STRtree(cams.to_crs(UTM).geometry.to_numpy()).query_nearest(
            seen.geometry.to_numpy(), return_distance=True)[1]
        assert np.median(dist) < 1.0  # every true camera still has a located one at its place
