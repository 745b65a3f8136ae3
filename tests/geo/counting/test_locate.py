"""geo.counting.locate: rays from boxes, facade hits, size ranges, merging views of one camera."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import GeoInputError
from geo.counting.locate import (CAMERA_SIZE_M, cameras_from_detections, locate_survey, rays_from_detections, read_cameras,
                        visible_counts)
from tests.geo.sim.scene import UTM, block_buildings, facade_cameras, make_survey, truth_boxes_from_scene

X0, Y0 = 385_000.0, 6_672_000.0


def _lonlat(x, y):
    p = gpd.GeoSeries(gpd.points_from_xy(np.atleast_1d(x), np.atleast_1d(y)), crs=UTM).to_crs(4326)
    return p.x.to_numpy(), p.y.to_numpy()


def _images(xs, ys, headings, fov=90.0):
    lon, lat = _lonlat(np.asarray(xs, float), np.asarray(ys, float))
    return pd.DataFrame({"image_id": [f"i{k}" for k in range(len(lon))], "lon": lon, "lat": lat,
                         "heading": headings, "fov": fov, "pitch": 0.0, "width": 640, "height": 640,
                         "status": "ok", "point_id": np.arange(len(lon))})


def _grid_north(images):
    from pyproj import CRS

    from geo.streets.sampling import true_north_correction

    return true_north_correction(images["lon"].to_numpy(), images["lat"].to_numpy(), CRS(UTM)) % 360.0


def _box(image_id, cx, cy, size, cls="dome"):
    return {"image_id": image_id, "x1": cx - size / 2, "y1": cy - size / 2, "x2": cx + size / 2,
            "y2": cy + size / 2, "conf": 0.8, "class_name": cls}


def test_ray_bearing_and_elevation_follow_the_pinhole_model():
    images = _images([X0], [Y0], [90.0])
    det = pd.DataFrame([_box("i0", 320, 320, 10), _box("i0", 640, 320, 10), _box("i0", 320, 0, 10)])
    rays = rays_from_detections(det, images, crs=UTM, camera_size_m=0.25)
    assert rays["bearing_deg"].to_numpy() == pytest.approx([90.0, 135.0, 90.0], abs=1e-6)
    assert rays["elev_deg"].to_numpy() == pytest.approx([0.0, 0.0, 45.0], abs=1e-6)
    # 0.25 m camera at 10 px with focal 320 px: 8 m away
    assert rays["range_size_m"].iloc[0] == pytest.approx(8.0)


def test_facade_hit_places_camera_on_the_wall_and_size_range_without_buildings():
    wall = gpd.GeoDataFrame({"height_m": [10.0]}, geometry=[shapely.box(X0 + 12, Y0 - 20, X0 + 30, Y0 + 20)],
                            crs=UTM).to_crs(4326)
    images = _images([X0], [Y0], [90.0])
    det = pd.DataFrame([_box("i0", 320, 250, 5)])  # size range 16 m, the wall is at 12 m
    with_wall = cameras_from_detections(det, images, buildings=wall, crs=UTM, camera_size_m=0.25).to_crs(UTM)
    assert with_wall["method"].iloc[0] == "facade"
    assert with_wall.geometry.x.iloc[0] - X0 == pytest.approx(12.0, abs=0.05)
    assert abs(with_wall.geometry.y.iloc[0] - Y0) > 0.1  # true east is not grid east here
    assert with_wall["uncertainty_m"].iloc[0] < 2.0
    bare = cameras_from_detections(det, images, crs=UTM, camera_size_m=0.25).to_crs(UTM)
    assert bare["method"].iloc[0] == "size"
    horizontal = 16.0 * np.cos(np.arctan2(70.0, 320.0))  # the box is 70 px above the horizon
    offset = bare.geometry.to_numpy()[0]
    assert np.hypot(offset.x - X0, offset.y - Y0) == pytest.approx(horizontal, abs=0.05)


def test_uncertainty_states_the_error_of_cameras_placed_by_box_size():
    # One view per camera, straight ahead at 4-25 m, box-equivalent sizes spread as the
    # simulator's directed cameras' (log SD 0.22 about CAMERA_SIZE_M, validate_estimator
    # --measure-sizes): uncertainty_m must state the RMS error it achieves (the rays' merge
    # sigma, 0.4 x range, is about twice it).
    rng = np.random.default_rng(4)
    n = 300
    xs, ys = X0 + 200.0 * np.arange(n), np.full(n, Y0)
    images = _images(xs, ys, np.zeros(n))
    images["heading"] = _grid_north(images)  # look along grid north
    rng_m = rng.uniform(4.0, 25.0, n)
    size_m = CAMERA_SIZE_M["directed"] * np.exp(rng.normal(0.0, 0.22, n))
    det = pd.DataFrame([_box(f"i{k}", 320.0, 320.0, size_m[k] * 320.0 / rng_m[k], cls="directed") for k in range(n)])
    cams = cameras_from_detections(det, images, crs=UTM).to_crs(UTM)
    assert (cams["method"] == "size").all() and len(cams) == n
    order = np.argsort(cams.geometry.x.to_numpy())
    err = np.hypot(cams.geometry.x.to_numpy()[order] - xs, cams.geometry.y.to_numpy()[order] - (ys + rng_m))
    ratio = np.sqrt(np.mean(err ** 2)) / np.sqrt(np.mean(cams["uncertainty_m"].to_numpy() ** 2))
    assert 0.8 < ratio < 1.25, ratio


def test_two_views_triangulate_one_camera_and_classes_merge_unless_respected():
    cam = np.array([X0 + 10.0, Y0 + 10.0])
    images = _images([X0, X0 + 20.0], [Y0, Y0], [0.0, 0.0])
    images["heading"] = _grid_north(images)  # look along grid north, so the geometry below holds
    focal = 320.0
    rows = []
    for k, ex in enumerate([X0, X0 + 20.0]):
        dx = focal * (cam[0] - ex) / (cam[1] - Y0)
        size = CAMERA_SIZE_M["dome"] * np.hypot(focal, dx) / np.hypot(cam[0] - ex, cam[1] - Y0)  # ~10.6 px
        rows.append(_box(f"i{k}", 320 + dx, 300, size))
    cams = cameras_from_detections(pd.DataFrame(rows), images, crs=UTM).to_crs(UTM)
    assert len(cams) == 1 and cams["method"].iloc[0] == "triangulated"
    assert cams["n_views"].iloc[0] == 2 and sorted(cams["image_ids"].iloc[0]) == ["i0", "i1"]
    assert np.hypot(cams.geometry.x.iloc[0] - cam[0], cams.geometry.y.iloc[0] - cam[1]) < 0.2
    rows[1]["class_name"] = "directed"  # the detector's class changes between views (issue 26: split cameras)
    assert len(cameras_from_detections(pd.DataFrame(rows), images, crs=UTM)) == 1
    assert len(cameras_from_detections(pd.DataFrame(rows), images, crs=UTM, respect_class=True)) == 2


def test_two_boxes_in_one_image_are_never_one_camera():
    images = _images([X0], [Y0], [0.0])
    det = pd.DataFrame([_box("i0", 318, 300, 6), _box("i0", 322, 300, 6)])
    assert len(cameras_from_detections(det, images, crs=UTM)) == 2


def test_generated_scene_cameras_are_found_once_and_in_place():
    scene_images = None
    errors, counts = [], []
    for seed in (0, 1):
        buildings = block_buildings(n=4)
        truth = facade_cameras(buildings, n=30, seed=seed)
        from geo.streets.sampling import views_from_graph
        from tests.geo.sim.scene import grid_graph

        _, views = views_from_graph(grid_graph(n=4), spacing=10.0, seed=seed)
        scene_images = views.assign(image_id=views["view_id"], width=640, height=640, status="ok")
        boxes = truth_boxes_from_scene(truth, scene_images, buildings, seed=seed)
        cams = cameras_from_detections(boxes.assign(conf=0.9), scene_images, buildings=buildings)
        seen = truth[truth["camera_id"].isin(boxes["camera_id"])].to_crs(UTM)
        counts.append((len(cams), len(seen)))
        located = cams.to_crs(UTM)
        dist = shapely.STRtree(located.geometry.to_numpy()).query_nearest(
            seen.geometry.to_numpy(), return_distance=True)[1]
        errors.extend(dist)
        assert (cams["n_visible"] >= cams["n_views"]).all()
    for found, seen in counts:
        assert abs(found - seen) <= 0.1 * seen + 1, counts
    assert np.median(errors) < 1.0 and np.quantile(errors, 0.9) < 3.0


def test_visible_counts_respect_field_of_view_range_and_walls():
    images = _images([X0, X0, X0, X0 + 100], [Y0, Y0, Y0 - 30, Y0], [0.0, 180.0, 0.0, 0.0])
    wall = gpd.GeoDataFrame(geometry=[shapely.box(X0 - 5, Y0 - 20, X0 + 5, Y0 - 15)], crs=UTM)
    k = visible_counts(np.array([X0]), np.array([Y0 + 10.0]), images, UTM, buildings=wall, visible_range_m=50)
    assert k.tolist() == [1]  # i0 sees it; i1 looks away; the wall hides it from i2; i3 is too far
    k_open = visible_counts(np.array([X0]), np.array([Y0 + 10.0]), images, UTM, visible_range_m=50)
    assert k_open.tolist() == [2]  # without the wall i2 sees it too
    k_near = visible_counts(np.array([X0]), np.array([Y0 + 10.0]), images, UTM, visible_range_m=20)
    assert k_near.tolist() == [1]  # i2 is 40 m away


def test_empty_and_bad_inputs():
    images = _images([X0], [Y0], [0.0])
    empty = cameras_from_detections(pd.DataFrame(columns=["image_id", "x1", "y1", "x2", "y2"]), images)
    assert len(empty) == 0 and "uncertainty_m" in empty.columns and empty.crs.to_epsg() == 4326
    with pytest.raises(GeoInputError, match="lacks column"):
        cameras_from_detections(pd.DataFrame({"image_id": ["i0"]}), images)
    unknown = pd.DataFrame([_box("nope", 320, 300, 6)])
    assert len(cameras_from_detections(unknown, images)) == 0


def test_locate_survey_writes_and_reuses_cameras(tmp_path):
    scene = make_survey(tmp_path / "s", n_cameras=15, seed=3, recall=1.0, precision=1.0, grid=3)
    cams = locate_survey(tmp_path / "s", buildings=scene["buildings"])
    path = tmp_path / "s" / "cameras.parquet"
    assert path.exists() and len(cams) > 0
    again = read_cameras(path)
    assert again["camera_id"].tolist() == cams["camera_id"].tolist()
    assert again.attrs["visible_range_m"] == pytest.approx(cams.attrs["visible_range_m"])
    stamp = path.stat().st_mtime_ns
    locate_survey(tmp_path / "s", buildings=scene["buildings"])
    assert path.stat().st_mtime_ns == stamp  # up to date: not rewritten


def test_components_merged_in_a_forked_process_give_the_same_groups(monkeypatch):
    """The constrained merge of the second half of the components runs in a forked process above
    MERGE_FORK_PAIRS pairs (speed at 1M detections): the same groups, in the same order; if that
    process fails, its half is merged here."""
    import geo.counting.locate as locate

    rng = np.random.default_rng(3)
    sizes = rng.integers(3, 12, 40)
    order = np.arange(int(sizes.sum()))
    image = rng.integers(0, 6, len(order))  # few images: many merges refused
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    tasks, pi, pj = [], [], []
    for a, n in zip(starts.tolist(), sizes.tolist()):
        i, j = np.triu_indices(n, 1)
        p0 = len(pi)
        pi += (a + i).tolist()
        pj += (a + j).tolist()
        tasks.append((a, a + n, p0, len(pi)))
    pi, pj = np.asarray(pi), np.asarray(pj)
    serial = locate._merged_components(tasks, order, pi, pj, image)
    assert any(len(sub) > 1 for sub in serial)  # some components split
    monkeypatch.setattr(locate, "MERGE_FORK_PAIRS", 0)
    assert locate._merged_components(tasks, order, pi, pj, image) == serial
    monkeypatch.setattr(locate, "_send_merged", lambda send, merge, part: 1 / 0)  # the child fails
    assert locate._merged_components(tasks, order, pi, pj, image) == serial



def test_cameras_written_beside_the_caller_are_the_same_file(tmp_path, monkeypatch):
    """locate_survey(write_beside=True) writes cameras.parquet in a forked process while the caller
    goes on (speed at 1M detections); finish_writes waits for it: the same table as written in
    process; if that process fails, finish_writes writes it."""
    import os

    import pyarrow.parquet as pq

    import geo.counting.locate as locate

    scene = make_survey(tmp_path / "s", n_cameras=15, seed=3, recall=1.0, precision=1.0, grid=3)
    cams = locate_survey(tmp_path / "s", buildings=scene["buildings"], write_beside=True)
    locate.finish_writes()
    path = tmp_path / "s" / "cameras.parquet"
    locate.write_cameras(cams, tmp_path / "here.parquet")
    assert len(cams) > 0 and pq.read_table(path).equals(pq.read_table(tmp_path / "here.parquet"))
    path.unlink()
    parent, write = os.getpid(), locate.write_cameras

    def fails_in_the_child(cameras, out):
        if os.getpid() != parent:
            raise RuntimeError("the forked write failed")
        return write(cameras, out)

    monkeypatch.setattr(locate, "write_cameras", fails_in_the_child)
    locate.write_cameras_beside(cams, path)
    locate.finish_writes()
    assert pq.read_table(path).equals(pq.read_table(tmp_path / "here.parquet"))
