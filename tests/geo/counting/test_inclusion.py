"""geo.counting.inclusion: views that could show a camera, building occlusion, p* and its floor, the
surveyed street pieces."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.counting.inclusion import (DEFAULT_STRIP_M, MIN_INCLUSION, RISE_M, box_size_m, sight_blocked,
                           street_distance, surveyed_streets, view_pairs, views_for_inclusion, visibility_by_range,
                           wall_normals)
from geo.counting.locate import CAMERA_SIZE_M

UTM = "EPSG:32635"


def views(*rows):
    """Views (x, y, heading_grid) with 640 px, 90 deg."""
    frame = pd.DataFrame(rows, columns=["x", "y", "heading_grid"], dtype=float)
    return frame.assign(fov=90.0, width=640.0, height=640.0)


def flat(value):
    return lambda size: np.full(np.shape(size), value)


def test_box_size_and_pair_scale_follow_the_pinhole_model():
    cam = np.array([[10.0, 0.0]])  # 10 m east of the eye, straight ahead of a view heading 90
    pairs = view_pairs(cam, np.array([[0.0, 1.0]]), views((0, 0, 90)), spacing_m=20, n_shifts=1)
    assert pairs.cam.tolist() == [0]
    assert pairs.scale[0] == pytest.approx(320.0 / np.hypot(10.0, RISE_M))  # focal 320 px, slant range
    size = box_size_m(np.array(["dome"]))[0] * pairs.scale[0]
    assert size == pytest.approx(0.33 * 320 / np.hypot(10, 2))
    assert box_size_m(np.array(["directed", "other"])).tolist() == [CAMERA_SIZE_M["directed"], CAMERA_SIZE_M["default"]]


def test_p_star_combines_views_and_is_floored():
    cam = np.array([[10.0, 0.0], [-10.0, 0.0]])  # the second is behind both views
    v = views((0, 0, 90), (0, 2, 100))
    pairs = view_pairs(cam, np.tile([0.0, 1.0], (2, 1)), v, spacing_m=20, n_shifts=1, camera_sd=0.0)
    pi, raw = pairs.inclusion(np.full(2, 0.45), flat(0.5), visibility=None)
    assert raw == pytest.approx([0.75, 0.0])  # 1 - (1 - 0.5)^2 ; no view
    mixed = view_pairs(cam, np.tile([0.0, 1.0], (2, 1)), v, spacing_m=20, n_shifts=1)  # the camera effect
    _, raw_mixed = mixed.inclusion(np.full(2, 0.45), flat(0.5), visibility=None)
    assert 0.5 < raw_mixed[0] < 0.72 and raw_mixed[1] == 0.0  # one camera's views are not independent
    assert pi == pytest.approx([0.75, MIN_INCLUSION])  # the small-p* rule: at most 1 / 0.1 = 10
    assert (1 / pi).max() <= 1 / MIN_INCLUSION
    pi_low, raw_low = pairs.inclusion(np.full(2, 0.45), flat(0.01), visibility=None)
    assert raw_low[0] == pytest.approx(1 - 0.99 ** 2) and pi_low[0] == MIN_INCLUSION


def test_field_of_view_and_range_limit_the_views():
    cam = np.array([[10.0, 0.0]])
    side = view_pairs(cam, np.array([[0.0, 1.0]]), views((0, 0, 0)), spacing_m=20, n_shifts=1)  # looks north
    assert len(side.cam) == 0  # 90 deg off axis, outside a 90 deg field of view
    far = view_pairs(np.array([[70.0, 0.0]]), np.array([[0.0, 1.0]]), views((0, 0, 90)), spacing_m=20, n_shifts=1)
    assert len(far.cam) == 0  # beyond the maximum range


def test_buildings_block_the_line_of_sight_but_not_the_cameras_own_wall():
    house = gpd.GeoDataFrame(geometry=[shapely.box(4, -3, 8, 3)], crs=UTM)
    eye = np.array([[0.0, 0.0], [0.0, 0.0]])
    behind = np.array([[12.0, 0.0], [4.0 - 0.3, 0.0]])  # behind the house; on its west wall
    assert sight_blocked(eye, behind, house).tolist() == [True, False]
    pairs = view_pairs(behind, np.tile([0.0, 1.0], (2, 1)), views((0, 0, 90)), spacing_m=20,
                       buildings=house, n_shifts=1)
    assert pairs.cam.tolist() == [1]


def test_a_wall_camera_is_hidden_at_grazing_angles_and_from_behind():
    house = gpd.GeoDataFrame(geometry=[shapely.box(0, 5, 40, 15)], crs=UTM)  # south wall at y = 5
    cam = np.array([[20.0, 4.7]])  # 0.3 m in front of the south wall
    assert wall_normals(cam, house)[0].tolist() == pytest.approx([0.0, -1.0])
    assert np.isnan(wall_normals(np.array([[20.0, -10.0]]), house)).all()  # a pole, far from walls
    # eyes 10 m south (straight on) and 30 m along the wall, 3 m out: 5.7 deg from its plane
    v = views((20, -5, 0), (50, 1.7, 270))
    pairs = view_pairs(cam, np.array([[1.0, 0.0]]), v, spacing_m=20, buildings=house, n_shifts=1)
    assert pairs.view.tolist() == [0]


def test_inclusion_is_averaged_over_the_grids_start():
    # a kerb camera 3 m beside a street of viewpoints 40 m apart: a view sees it only when it stands
    # within ~3 m along the street, i.e. for a small share of the possible starts
    cam = np.array([[0.0, 3.0]])
    v = views((0, 0, 0), (40, 0, 0), (-40, 0, 0)).assign(height=64000.0)  # no vertical limit
    one = view_pairs(cam, np.array([[1.0, 0.0]]), v, spacing_m=40, n_shifts=1)
    many = view_pairs(cam, np.array([[1.0, 0.0]]), v, spacing_m=40, n_shifts=40)
    _, raw_one = one.inclusion(np.full(1, 0.45), flat(1.0 - 1e-9), visibility=None)
    _, raw_many = many.inclusion(np.full(1, 0.45), flat(1.0 - 1e-9), visibility=None)
    assert raw_one[0] == pytest.approx(1.0)
    assert raw_many[0] == pytest.approx(6 / 40, abs=0.03)  # seen from |offset| <= 3 m of 40 m


def test_visibility_and_the_vertical_field_of_view_scale_each_sighting():
    near, far = np.array([[0.0, 1.2]]), np.array([[0.0, 30.0]])
    v = views((0, 0, 0))
    close = view_pairs(near, np.array([[1.0, 0.0]]), v, spacing_m=20, n_shifts=1)
    # at 1.2 m a 45 deg half-fov reaches rises up to ~1.18 m: (1.18 - 0.5) / 3 of the 0.5-3.5 m mounts
    assert close.factor[0] == pytest.approx((1.2 * np.tan(np.radians(44.5)) - 0.5) / 3.0, rel=1e-6)
    distant = view_pairs(far, np.array([[1.0, 0.0]]), v, spacing_m=20, n_shifts=1)
    assert distant.factor[0] == 1.0
    p_geo = distant.detection(np.full(1, 0.45), flat(0.8), visibility=None)[0]
    p_vis = distant.detection(np.full(1, 0.45), flat(0.8))[0]
    assert p_geo == pytest.approx(0.8) and p_vis == pytest.approx(0.8 * visibility_by_range(np.array([30.0]))[0])
    assert visibility_by_range(np.array([10.0, 45.0, 70.0])).tolist() == pytest.approx([0.955, 0.16, 0.0])


def test_random_sides_count_each_view_and_its_mirror_half():
    v = views((0, 0, 90)).assign(lon=0.0)  # placeholder columns for the images table below
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(UTM, 4326, always_xy=True).transform(385000.0, 6672000.0)
    images = pd.DataFrame({"image_id": ["a"], "lon": [lon], "lat": [lat], "heading": [90.0], "fov": [90.0],
                           "width": [640], "height": [640], "status": ["ok"]})
    plain = views_for_inclusion(images, UTM)
    mixed = views_for_inclusion(images, UTM, random_sides=True)
    assert len(plain) == 1 and plain["share"].tolist() == [1.0]
    assert len(mixed) == 2 and mixed["share"].tolist() == [0.5, 0.5]
    assert (mixed["heading_grid"].iloc[1] - mixed["heading_grid"].iloc[0]) % 360 == pytest.approx(180.0)
    cam = np.array([[mixed["x"].iloc[0] - 10.0, mixed["y"].iloc[0]]])  # west: only the mirror looks there
    pairs = view_pairs(cam, np.array([[0.0, 1.0]]), mixed, spacing_m=20, n_shifts=1)
    assert pairs.factor.tolist() == [0.5] and len(v) == 1


def test_surveyed_streets_leave_out_points_without_imagery():
    streets = gpd.GeoDataFrame({"street_id": [0, 1, 2]},
                               geometry=[shapely.LineString([(0, 0), (100, 0)]),
                                         shapely.LineString([(0, 50), (100, 50)]),
                                         shapely.LineString([(0, 100), (100, 100)])], crs=UTM)
    xs = np.arange(5, 100, 10.0)
    xy = np.concatenate([np.column_stack([xs, np.full(10, y)]) for y in (0, 50, 100)])
    lonlat = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=UTM).to_crs(4326)
    points = pd.DataFrame({"point_id": np.arange(30), "street_id": np.repeat([0, 1, 2], 10),
                           "lon": lonlat.x.to_numpy(), "lat": lonlat.y.to_numpy()})
    status = np.where(points["street_id"] == 0, "ok", "no_imagery")
    status[10:15] = "ok"  # half of street 1
    images = pd.DataFrame({"image_id": points["point_id"].astype(str), "point_id": points["point_id"],
                           "status": status})
    pieces = surveyed_streets(streets, points, images, metres_per_point=10.0)
    length = dict(zip(pieces["street_id"], pieces.geometry.length))
    assert set(length) == {0, 1}  # street 2 has no imagery: unsurveyed
    assert length[0] == pytest.approx(100.0) and length[1] == pytest.approx(50.5, abs=1.0)
    dist, near, tangent = street_distance(np.array([[50.0, 20.0], [90.0, 70.0]]), pieces)
    assert dist == pytest.approx([20.0, np.hypot(90 - 50.5, 20)], abs=0.6)  # street 1 ends near x = 50
    assert np.abs(tangent[0]).tolist() == pytest.approx([1.0, 0.0])
    # random points (two on street 2, all with imagery) stand for their pieces, not the whole street
    sparse = points[points["point_id"].isin([23, 27])]
    pieces = surveyed_streets(streets, sparse, images.assign(status="ok"), metres_per_point=20.0)
    assert pieces.geometry.length.sum() == pytest.approx(2 * 21.0, abs=1.0)


def test_default_strip_is_where_a_dome_falls_into_the_first_recall_bin():
    focal = 640 / 2 / np.tan(np.radians(45))  # square-on, from the street centre
    assert CAMERA_SIZE_M["dome"] * focal / DEFAULT_STRIP_M < 6.0 < CAMERA_SIZE_M["directed"] * focal / DEFAULT_STRIP_M


def test_inclusion_gradient_matches_finite_differences():
    from geo.counting.calibration import recall_at
    from geo.counting.inclusion import inclusion_gradient

    rng = np.random.default_rng(3)
    cam = rng.uniform(-30, 30, (12, 2))
    v = views(*[(x, 0.0, h) for x in range(-40, 41, 10) for h in (0.0, 180.0)])
    edges = np.array([0, 6, 8, 12, 16, 24, 32, 64, 100000.0])
    rates = np.array([0.05, 0.2, 0.4, 0.55, 0.65, 0.7, 0.75, 0.8])
    box = np.full(12, 0.45)
    sd = np.where(np.arange(12) % 2 == 0, 1.5, 0.0)  # half of them with a location error
    for location_sd, which, camera_sd, tol in ((None, 1, 0.0, 1e-4), (sd, 0, 0.0, 1e-4), (None, 1, 1.7, 2e-3),
                                               (sd, 0, 1.7, 2e-3)):  # raw pi; the corrected pi; camera effect
        pairs = view_pairs(cam, np.tile([1.0, 0.0], (12, 1)), v, spacing_m=10, n_shifts=4, location_sd_m=location_sd,
                           camera_sd=camera_sd)
        grad = inclusion_gradient(pairs, box, edges, rates, floor=0.01)
        for b in (1, 3, 5):
            up, down = rates.copy(), rates.copy()
            up[b] += 1e-5
            down[b] -= 1e-5
            numeric = (pairs.inclusion(box, lambda s, r=up: recall_at(s, edges, r), floor=0.01)[which]
                       - pairs.inclusion(box, lambda s, r=down: recall_at(s, edges, r), floor=0.01)[which]) / 2e-5
            assert grad[:, b] == pytest.approx(numeric, rel=tol, abs=1e-6)
        assert grad.sum() > 0
    node = pairs.node_inclusion(box, lambda s: recall_at(s, edges, rates))
    assert node[1::2, 0] == pytest.approx(node[1::2, 1]) and node[1::2, 2] == pytest.approx(node[1::2, 1])  # no SD
    alone = view_pairs(cam[1::2], np.tile([1.0, 0.0], (6, 1)), v, spacing_m=10, n_shifts=4)
    assert node[1::2, 1] == pytest.approx(alone.node_inclusion(box[1::2], lambda s: recall_at(s, edges, rates))[:, 0])
    assert not np.allclose(node[0::2, 0], node[0::2, 2])  # with an SD the nodes differ


def test_corrected_weight_removes_the_bias_of_a_noisy_position():
    from geo.counting.inclusion import ERROR_NODES, corrected_weight

    nodes, _ = ERROR_NODES
    rng = np.random.default_rng(0)
    pi_of = lambda d: np.clip(d / 20.0, 0.05, 1.0)  # noqa: E731 - more views reach a camera farther out
    true_d, sd = 6.0, 1.5
    located = true_d + rng.normal(0, sd, 200_000)
    plain = 1.0 / np.maximum(pi_of(located), 0.1)
    node_pi = pi_of(located[:, None] + nodes[None, :] * sd)
    corrected = corrected_weight(node_pi, floor=0.1)
    assert plain.mean() > 1.04 / pi_of(true_d)  # Jensen: 1 / pi at a noisy position is biased up
    assert corrected.mean() == pytest.approx(1.0 / pi_of(true_d), rel=0.01)
    assert corrected_weight(np.array([[0.5, 0.5, 0.5]])) == pytest.approx([2.0])  # flat pi: no correction
    assert corrected_weight(np.array([[0.01, 0.02, 0.9]])).tolist() == [10.0]  # kept within [1, 1 / floor]


def test_the_strip_ends_with_its_pieces():
    from geo.counting.inclusion import in_strip

    pieces = gpd.GeoDataFrame({"street_id": [0]}, geometry=[shapely.LineString([(0, 0), (20, 0)])], crs=UTM)
    xy = np.array([[10.0, 15.0], [10.0, -19.0], [25.0, 5.0], [10.0, 25.0]])
    assert in_strip(xy, pieces, strip=20.0).tolist() == [True, True, False, False]  # beside, beside, beyond, far


def test_views_of_one_camera_are_not_independent_but_a_single_view_keeps_its_recall():
    from geo.counting.heterogeneity import CAMERA_LOGIT_SD
    from geo.counting.inclusion import found_by_cell

    recall = np.array([0.6, 0.6, 0.6, 0.3, 0.8])
    factor = np.array([1.0, 0.9, 0.8, 0.5, 1.0])
    cell = np.array([0, 0, 0, 1, 1])
    p = recall * factor
    independent = np.array([1 - np.prod(1 - p[:3]), 1 - np.prod(1 - p[3:])])
    mixed = found_by_cell(recall, cell, 3, sd=CAMERA_LOGIT_SD, factor=factor)
    assert mixed[0] < independent[0] - 0.05 and mixed[1] < independent[1] - 0.01  # below independence
    assert mixed[2] == 0.0
    alone = found_by_cell(recall[:1], np.zeros(1, np.int64), 1, sd=CAMERA_LOGIT_SD)
    assert alone[0] == pytest.approx(0.6)  # one view: the marginal recall, whatever the effect
    # a Monte Carlo of the effect on recall only (visibility outside it) agrees
    rng = np.random.default_rng(0)
    from geo.counting.heterogeneity import expit, logit_shift

    u = rng.normal(0, CAMERA_LOGIT_SD, (200_000, 1))
    hits = rng.random((200_000, 3)) < factor[:3] * expit(logit_shift(recall[:3], CAMERA_LOGIT_SD) + u)
    assert hits.any(axis=1).mean() == pytest.approx(mixed[0], abs=0.005)


def test_the_encounter_term_stays_bounded_for_a_mislocated_camera():
    from geo.counting.inclusion import inclusion_parts

    # views along a street (y = 0) looking north; the camera was located 8 m south of it, where no
    # view looks, with a 6 m location SD: its other location nodes lie north, where views see it
    v = views(*[(x, 0.0, 0.0) for x in range(-30, 31, 10)])
    cam = np.array([[0.0, -8.0]])
    pairs = view_pairs(cam, np.array([[1.0, 0.0]]), v, spacing_m=10, n_shifts=4, location_sd_m=np.array([6.0]))
    node = pairs.node_inclusion(np.full(1, 0.45), flat(0.6))
    assert node[0, 1] == 0.0 and node[0, 2] > 0.1  # no view at the located position; the north node seen
    floor = 0.01
    pi, raw, spread, _ = inclusion_parts(node, 3, floor=floor)
    assert raw[0] == 0.0 and pi[0] == pytest.approx(floor)  # the weight: at its bound
    assert spread[0] == pytest.approx(node[0] @ np.array([1 / 6, 2 / 3, 1 / 6]))
    assert (1 - spread[0]) / spread[0] ** 2 < 0.2 * (1 - floor) / floor ** 2  # bounded, not 9,900


def test_the_inclusion_shifts_stay_on_the_street_where_the_sampler_puts_points_on_a_generated_network():
    import networkx as nx

    from geo.counting.inclusion import shift_range_on_streets
    from geo.streets.network import streets_from_graph
    from geo.streets.sampling import points_from_streets

    graph = nx.MultiDiGraph(crs=UTM)
    xy = {0: (0, 0), 1: (137, 0), 2: (137, 88), 3: (0, 88), 4: (61, 40), 5: (70, 52)}
    for k, (x, y) in xy.items():
        graph.add_node(k, x=385_000.0 + x, y=6_672_000.0 + y)
    for u, v in ((0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (4, 5), (5, 2)):
        a, b = xy[u], xy[v]
        geom = shapely.LineString([(385_000.0 + a[0], 6_672_000.0 + a[1]), (385_000.0 + b[0], 6_672_000.0 + b[1])])
        graph.add_edge(u, v, key=0, osmid=u * 10 + v, highway="residential", length=geom.length, geometry=geom)
    streets = streets_from_graph(graph)
    spacing = 20.0
    rng = np.random.default_rng(1)
    street = rng.integers(0, len(streets), 300)
    geoms = streets.geometry.to_numpy()[street]
    length = shapely.length(geoms)
    along = rng.uniform(0, 1, 300) * length
    cam = shapely.get_coordinates(shapely.line_interpolate_point(geoms, along))
    ranges = shift_range_on_streets(cam, streets["street_id"].to_numpy()[street], streets, spacing_m=spacing)
    lo, hi = along + ranges[:, 0], along + ranges[:, 1]
    assert (ranges[:, 0] <= 1e-9).all() and (ranges[:, 1] >= -1e-9).all()
    assert (lo >= -1e-6).all() and (hi <= length + 1e-6).all()  # never past its street's ends
    interior = (along > spacing / 2) & (along < length - spacing / 2)
    assert interior.any() and hi[interior] - lo[interior] == pytest.approx(spacing)  # a whole spacing
    # where the sampler puts points: every street, short ones included, has one within its slack of
    # each end, so a camera near an end is never further than a spacing from a point of its street
    for seed in range(5):
        points = points_from_streets(streets, spacing=spacing, seed=seed)
        first = points.groupby("street_id")["offset_m"].min().reindex(streets["street_id"]).to_numpy()
        last = points.groupby("street_id")["offset_m"].max().reindex(streets["street_id"]).to_numpy()
        full = shapely.length(streets.geometry.to_numpy())
        slack = full - np.floor(full / spacing) * spacing
        assert (first <= slack + 1e-6).all() and (full - last <= slack + 1e-6).all()


def test_the_grids_share_of_pi_variance_is_what_moving_the_grid_changes():
    from geo.counting.estimate import StripParts, grid_variance
    from geo.counting.inclusion import inclusion_parts

    # views every 20 m along a street (y = 0) looking north; cameras 5 m and 30 m north of it
    v = views(*[(x, 0.0, 0.0) for x in range(-100, 101, 20)])
    cam = np.array([[0.0, 5.0], [0.0, 30.0], [10.0, 5.0]])
    pairs = view_pairs(cam, np.tile([1.0, 0.0], (3, 1)), v, spacing_m=20, n_shifts=8, camera_sd=0.0)
    by_shift = pairs.shift_inclusion(np.full(3, 0.45), flat(0.6), visibility=None)[:, 0, :]
    mean = by_shift.mean(axis=1)
    assert mean == pytest.approx(pairs.node_inclusion(np.full(3, 0.45), flat(0.6), visibility=None)[:, 0])
    # close to the street a view sees 10 m of it (fov 90): in a blind spot for half the grid's positions
    assert 0.2 < mean[0] < 0.8 and by_shift[0].var() > 0.05
    assert by_shift[1].var() < 0.2 * by_shift[0].var()  # far from it, every position of the grid sees it alike
    _, _, _, shifts = inclusion_parts(mean[:, None], 1, floor=0.01, by_shift=by_shift[:, None, :])
    assert shifts == pytest.approx(by_shift)
    # the first and third camera sit half a spacing apart: when the grid moves, one leaves the blind
    # spot as the other enters it, so their street's sum hardly moves; on separate streets it does
    terms = by_shift / mean[:, None] ** 2
    one = StripParts(np.arange(3), np.array([0, 2]), np.zeros(2, np.int64), None, None, None, None, None, None,
                     street=np.array([7, 7, 7]))
    two = StripParts(np.arange(3), np.array([0, 2]), np.zeros(2, np.int64), None, None, None, None, None, None,
                     street=np.array([7, 7, 8]))
    together, apart = grid_variance(one, terms, 1)[0], grid_variance(two, terms, 1)[0]
    assert together < 0.25 * apart
    assert apart == pytest.approx(terms[0].var() + terms[2].var())


def test_the_averaged_weight_counts_cameras_located_with_error_without_bias():
    """Issue 27: cameras spread evenly across a street, found with pi(x) at their true distance x,
    located at x + e (e ~ N(0, 6^2)): the sum of 1 / E_e[pi(x_hat + e)] over the found ones is N,
    while 1 / pi(x_hat) over-counts them (pi falls steeply off the street)."""
    from geo.counting.inclusion import ERROR_NODES, averaged_weight

    rng = np.random.default_rng(3)
    n, sd = 200_000, 6.0

    def pi_of(d):
        return 0.1 + 0.8 * np.exp(-np.abs(d) / 5.0)

    x = rng.uniform(-300.0, 300.0, n)
    found = rng.random(n) < pi_of(x)
    x_hat = x[found] + rng.normal(0.0, sd, found.sum())
    nodes = pi_of(x_hat[:, None] + ERROR_NODES[0][None, :] * sd)
    averaged = averaged_weight(nodes, floor=0.01).sum() / n
    raw = (1.0 / pi_of(x_hat)).sum() / n
    assert averaged == pytest.approx(1.0, abs=0.01)
    assert raw > averaged + 0.005
