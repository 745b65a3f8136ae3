"""geo.counting.design: the design's inclusion by distance, the strip (--strip auto) and random
designs' inclusion from where their points could fall."""

import numpy as np
import pytest

from geo.counting.calibration import calibration_from_dict
from geo.counting.design import (STRIP_FLOOR, Design, design_from_sample_info, inclusion_at, inclusion_by_distance,
                                 inclusion_from_length, reference_inclusion, relative_se_from_design, strip_edge,
                                 strip_from_design)

EDGES = [0, 6, 8, 12, 16, 24, 32, 64, 100000]


def cal(found=(1, 1, 21, 30, 53, 19, 7, 0), n=(82, 23, 38, 33, 55, 19, 7, 0)):
    """The shipped card's counts by default."""
    return calibration_from_dict({"source": "card", "conf_threshold": 0.5,
                                  "precision_bins": {"edges": [0.5, 1.0], "n": [100], "real": [90]},
                                  "recall_bins": {"edges_px": EDGES, "n": list(n), "found": list(found)},
                                  "n_images": 1000})


def test_strip_edge_is_where_g_falls_under_the_floor_beyond_the_peak():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    pi = np.array([0.1, 0.8, 0.4, 0.1, 0.3])  # low at the street (out of view), peak at 2 m
    # g = pi / 0.8: 0.125, 1, 0.5, 0.125, ...; crosses 0.15 between 3 and 4 m
    assert strip_edge(d, pi, floor=0.15) == pytest.approx(3 + (0.5 - 0.15) / (0.5 - 0.125))
    assert strip_edge(d, np.zeros(5)) == 0.0
    assert strip_edge(d, np.ones(5)) == 5.0


def test_the_shipped_cards_strip_lies_where_its_recall_fades():
    strip = strip_from_design(Design(spacing_m=20), cal())
    assert STRIP_FLOOR == 0.15
    # directed 0.46 m, dome 0.33 m: at the edge their box is ~6-7 px in a 640 px / 90 deg view,
    # where the card finds 1 in 23; the dome's strip is the narrower
    assert 15 <= strip["dome"] < strip["directed"] <= 30
    for name, width in strip.items():
        d, pi = inclusion_by_distance(Design(spacing_m=20), cal(), class_name=name)
        assert inclusion_at(Design(spacing_m=20), cal(), distance_m=width, class_name=name) == pytest.approx(
            STRIP_FLOOR * pi.max(), abs=0.03)


def test_a_sharper_detector_a_narrower_fov_or_a_closer_spacing_widens_the_strip():
    base = strip_from_design(Design(spacing_m=20), cal())
    sharper = strip_from_design(Design(spacing_m=20), cal(found=(1, 5, 30, 33, 55, 19, 7, 0)))
    closer = strip_from_design(Design(spacing_m=10), cal())
    narrower = strip_from_design(Design(spacing_m=20, fov=60), cal())
    blind = strip_from_design(Design(spacing_m=20), cal(found=(0, 0, 1, 10, 53, 19, 7, 0)))
    for name in base:
        assert sharper[name] > base[name] and closer[name] > base[name] and narrower[name] > base[name]
        assert blind[name] < base[name]


def test_random_design_inclusion_is_one_minus_the_chance_that_no_point_falls_where_it_finds_the_camera():
    rng = np.random.default_rng(0)
    # a camera found from any point within 15 m of it, on a 1 km network, 40 points
    a, length, n = 30.0, 1000.0, 40
    hits = (np.abs(rng.random((20000, n)) * length - 500.0) < a / 2).any(axis=1).mean()
    assert inclusion_from_length(np.array([a]), n_points=n, network_m=length)[0] == pytest.approx(hits, abs=0.01)
    # the profile of a random design: small everywhere, growing with the points' density
    sparse = Design(method="random", n_points=200, network_m=25_000)
    dense = Design(method="random", n_points=2000, network_m=25_000)
    ref_sparse, ref_dense = reference_inclusion(sparse, cal()), reference_inclusion(dense, cal())
    assert ref_sparse["directed"] < 0.2 < ref_dense["directed"]
    # a sparse design's pi is about proportional to n: 10x the points, ~10x the pi while it is small
    tiny = reference_inclusion(Design(method="random", n_points=20, network_m=25_000), cal())
    assert ref_sparse["directed"] == pytest.approx(10 * tiny["directed"], rel=0.1)
    assert strip_from_design(sparse, cal())["directed"] > 10  # the shape sets its strip


def test_design_from_sample_info_counts_points_with_imagery():
    import pandas as pd

    images = pd.DataFrame({"point_id": [0, 0, 1, 2], "status": ["ok", "ok", "no_imagery", "ok"],
                           "width": [1024] * 4, "height": [768] * 4})
    info = {"method": "random", "n": 3, "n_points": 3, "road_km": 2.5, "sides": "random", "fov": 80}
    design = design_from_sample_info(info, images=images)
    assert (design.method, design.n_points, design.network_m, design.sides, design.fov) == \
        ("random", 2, 2500.0, "random", 80.0)
    assert (design.width, design.height) == (1024.0, 768.0)


def test_predicted_relative_se_falls_with_the_density_and_the_design():
    base = relative_se_from_design(Design(spacing_m=20), cal(), cameras_per_km=2, road_km=10)
    assert relative_se_from_design(Design(spacing_m=20), cal(), cameras_per_km=8, road_km=10) == \
        pytest.approx(base / 2, rel=1e-6)
    assert relative_se_from_design(Design(method="random", n_points=200, network_m=10_000), cal(),
                                   cameras_per_km=2, road_km=10) > base


def test_truth_of_a_random_design_is_measured_from_every_street_of_its_network(tmp_path):
    import json

    import pandas as pd

    from geo.sim.survey import surveyed_for_truth
    from geo.streets.network import save_network, streets_from_graph
    from geo.streets.sampling import views_from_graph
    from tests.geo.sim.scene import grid_graph

    graph = grid_graph(n=3)
    save_network(graph, tmp_path / "network.graphml")
    points, views = views_from_graph(graph, method="random", n=3, seed=0)
    points.to_parquet(tmp_path / "points.parquet")
    views.to_parquet(tmp_path / "views.parquet")
    images = pd.DataFrame({"view_id": views["view_id"], "image_id": views["view_id"], "status": "ok"})
    (tmp_path / "sample.json").write_text(json.dumps({"method": "random", "n": 3, "spacing_m": 20.0}))
    streets = streets_from_graph(graph)
    assert len(surveyed_for_truth(tmp_path, images)) == len(streets)  # 3 points, the whole network
    (tmp_path / "sample.json").write_text(json.dumps({"method": "systematic", "spacing_m": 20.0}))
    pieces = surveyed_for_truth(tmp_path, images)  # systematic: only where its points stand
    assert pieces.geometry.length.sum() < 0.5 * streets.geometry.length.sum()


def test_a_random_designs_located_cameras_weigh_one_over_pi_averaged_over_their_position_error():
    """Issue 27: a random design's pi of a camera located with an SD is p* averaged over the
    location nodes (``averaged_weight``), not the second-order correction of systematic designs."""
    import geopandas as gpd
    import shapely

    from geo.counting.design import random_design_pairs
    from geo.counting.inclusion import averaged_weight, corrected_weight

    streets = gpd.GeoDataFrame({"street_id": [0]}, geometry=[shapely.LineString([(0, 0), (400, 0)])],
                               crs="EPSG:32635")
    cams = np.array([[200.0, 4.0], [200.0, 12.0], [150.0, 22.0]])
    design = Design(method="random", n_points=40, network_m=400.0)
    pairs = random_design_pairs(cams, np.tile([1.0, 0.0], (3, 1)), streets, design,
                                location_sd_m=np.array([0.0, 4.0, 4.0]))
    recall = cal().curves().recall_at
    node = pairs.node_inclusion(np.full(3, 0.46), recall)
    pi, raw, spread, _ = pairs.inclusion_parts(np.full(3, 0.46), recall, floor=0.01)
    assert pi == pytest.approx(spread) and pi == pytest.approx(1.0 / averaged_weight(node, floor=0.01))
    assert pi[0] == pytest.approx(raw[0])  # no location error: its own pi
    assert not np.allclose(pi[1:], 1.0 / corrected_weight(node, floor=0.01)[1:], rtol=1e-3)
