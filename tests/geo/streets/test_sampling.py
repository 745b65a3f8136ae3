import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer
from shapely.geometry import LineString

from geo.errors import GeoInputError
from geo.streets.network import graph_from_area, streets_from_graph
from geo.streets.sampling import (offsets_systematic, points_from_streets, sample_survey, thin_points,
                          views_from_graph, views_from_points)

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def graph():
    return graph_from_area("demo")


@pytest.fixture(scope="module")
def streets(graph):
    return streets_from_graph(graph)


@pytest.fixture(scope="module")
def sampled(graph):
    return views_from_graph(graph, spacing=20, seed=3)


def test_point_count_is_floor_plus_one_per_undirected_street(streets, sampled):
    points, _ = sampled
    expected = int((np.floor(streets["length_m"] / 20) + 1).sum())
    assert len(points) == expected
    per_street = points.groupby("street_id").size()
    want = (np.floor(streets.set_index("street_id")["length_m"] / 20) + 1).astype(int)
    assert (per_street.reindex(want.index, fill_value=0) == want).all()


def test_points_lie_on_their_street(streets, sampled, graph):
    points, _ = sampled
    projected = points.to_crs(graph.graph["crs"])
    lines = streets.set_index("street_id").geometry.loc[points["street_id"]].to_numpy()
    distance = projected.geometry.distance(gpd.GeoSeries(lines, crs=projected.crs), align=False)
    assert distance.max() < 0.01
    along = np.array([line.project(pt) for line, pt in zip(lines, projected.geometry)])
    assert np.abs(along - points["offset_m"].to_numpy()).max() < 0.01


def test_points_on_a_street_are_spacing_apart(sampled):
    points, _ = sampled
    gaps = points.sort_values(["street_id", "offset_m"]).groupby("street_id")["offset_m"].diff().dropna()
    assert np.allclose(gaps, 20.0)


def test_view_headings_perpendicular_to_street_tangent(streets, sampled, graph):
    points, views = sampled
    to_lonlat = Transformer.from_crs(graph.graph["crs"], 4326, always_xy=True)
    lines = streets.set_index("street_id").geometry
    sample = points.sample(300, random_state=1)
    for row in sample.itertuples():
        line = lines.loc[row.street_id]
        a = line.interpolate(max(row.offset_m - 0.05, 0.0))
        b = line.interpolate(min(row.offset_m + 0.05, line.length))
        (lon1, lon2), (lat1, lat2) = to_lonlat.transform([a.x, b.x], [a.y, b.y])
        tangent, _, _ = GEOD.inv(lon1, lat1, lon2, lat2)
        for view in views[views.point_id == row.point_id].itertuples():
            diff = (view.heading - tangent) % 180.0
            assert abs(diff - 90.0) < 1.0, (view.view_id, view.heading, tangent)


def test_both_sides_look_opposite_ways(sampled):
    _, views = sampled
    left = views[views.side == "left"].set_index("point_id")["heading"]
    right = views[views.side == "right"].set_index("point_id")["heading"]
    assert len(left) == len(right)
    assert np.allclose((right - left.loc[right.index]) % 360, 180.0)


def test_same_seed_same_tables_other_seed_other_offsets(graph, sampled):
    points, views = sampled
    points2, views2 = views_from_graph(graph, spacing=20, seed=3)
    assert points.equals(points2) and views.equals(views2)
    points3, _ = views_from_graph(graph, spacing=20, seed=4)
    assert not np.allclose(points["offset_m"], points3["offset_m"])


def test_two_way_streets_not_sampled_twice(graph, sampled):
    points, _ = sampled
    projected = points.to_crs(graph.graph["crs"])
    xy = np.column_stack([projected.geometry.x, projected.geometry.y])
    from scipy.spatial import cKDTree
    close = cKDTree(xy).query_pairs(1.0, output_type="ndarray")
    # Points closer than 1 m can only be junction neighbours on different streets.
    same_street = points["street_id"].to_numpy()[close]
    assert (same_street[:, 0] != same_street[:, 1]).all()
    assert len(close) < 0.05 * len(points)


def test_min_gap_at_junctions(graph):
    points, _ = views_from_graph(graph, spacing=20, seed=3, min_gap=5.0)
    projected = points.to_crs(graph.graph["crs"])
    xy = np.column_stack([projected.geometry.x, projected.geometry.y])
    from scipy.spatial import cKDTree
    assert len(cKDTree(xy).query_pairs(5.0 - 1e-6)) == 0


def test_thin_points_keeps_first_of_each_close_pair():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [10.5, 0.0], [30.0, 0.0]])
    assert thin_points(xy, min_gap=2.0).tolist() == [True, False, True, False, True]


def test_random_sampling_follows_length(streets):
    points = points_from_streets(streets, method="random", n=20000, seed=7)
    assert len(points) == 20000
    share = points.groupby("street_id").size() / 20000
    weights = streets.set_index("street_id")["length_m"] / streets["length_m"].sum()
    longest = weights.nlargest(10).index
    assert np.allclose(share.reindex(longest).fillna(0), weights.loc[longest], atol=0.01)
    assert (points["offset_m"] <= streets.set_index("street_id")["length_m"].loc[points.street_id].to_numpy() + 1e-9).all()


def test_random_min_distance(streets, graph):
    points = points_from_streets(streets, method="random", n=500, seed=2, min_gap=15.0)
    projected = points.to_crs(graph.graph["crs"])
    from scipy.spatial import cKDTree
    xy = np.column_stack([projected.geometry.x, projected.geometry.y])
    assert len(cKDTree(xy).query_pairs(15.0 - 1e-6)) == 0
    assert 0 < len(points) <= 500


def test_sides_and_along(sampled):
    points, _ = sampled
    few = points.head(50)
    assert set(views_from_points(few, sides="left")["side"]) == {"left"}
    rand = views_from_points(few, sides="random", seed=1)
    assert len(rand) == 50 and set(rand["side"]) == {"left", "right"}
    along = views_from_points(few, sides="both", along=True)
    assert len(along) == 200
    fwd = along[along.side == "forward"].set_index("point_id")["heading"]
    assert np.allclose(fwd, few.set_index("point_id")["road_bearing"].loc[fwd.index] % 360)
    assert (along["fov"] == 90).all() and (along["pitch"] == 0).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.5, 500.0), min_size=1, max_size=30), st.floats(1.0, 50.0),
       st.integers(0, 2**31))
def test_systematic_offsets_stay_on_street(lengths, spacing, seed):
    lengths = np.array(lengths)
    street, offset = offsets_systematic(lengths, spacing=spacing, rng=np.random.default_rng(seed))
    assert len(street) == int((np.floor(lengths / spacing) + 1).sum())
    assert (offset >= 0).all() and (offset <= lengths[street] + 1e-9).all()


def test_points_on_a_bent_street_hit_the_bend():
    # An L-shaped 200 m street in UTM 35N: the point 100 m along is at the corner.
    line = LineString([(385000, 6672000), (385100, 6672000), (385100, 6672100)])
    streets = gpd.GeoDataFrame({"street_id": [0], "u": [1], "v": [2], "key": [0], "length_m": [200.0],
                                "highway": ["residential"]}, geometry=[line], crs="EPSG:32635")
    points = points_from_streets(streets, spacing=50, seed=0)
    projected = points.to_crs("EPSG:32635")
    assert len(points) == 5
    assert np.allclose(points["offset_m"], [0, 50, 100, 150, 200])
    assert np.allclose(projected.geometry.x, [385000, 385050, 385100, 385100, 385100], atol=1e-3)
    assert np.allclose(projected.geometry.y, [6672000, 6672000, 6672000, 6672050, 6672100], atol=1e-3)


def test_sample_survey_writes_contract_tables(tmp_path):
    result = sample_survey(tmp_path, area="demo", spacing=40)
    points = gpd.read_parquet(tmp_path / "points.parquet")
    views = gpd.read_parquet(tmp_path / "views.parquet")
    assert points.crs.to_epsg() == 4326 and views.crs.to_epsg() == 4326
    assert {"point_id", "u", "v", "key", "offset_m", "road_bearing", "lon", "lat"} <= set(points.columns)
    assert {"view_id", "point_id", "heading", "pitch", "fov", "side"} <= set(views.columns)
    assert views["view_id"].is_unique and points["point_id"].is_unique
    assert len(views) == 2 * len(points) == 2 * result.n_points
    assert (tmp_path / "network.graphml").exists() and (tmp_path / "sample.json").exists()
    again = sample_survey(tmp_path, area="demo", spacing=40)
    assert again.skipped and again.n_views == result.n_views
    with pytest.raises(GeoInputError, match="other parameters"):
        sample_survey(tmp_path, area="demo", spacing=10)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "grid"}, "unknown sampling method"),
    ({"spacing": 0}, "positive"),
    ({"method": "random"}, "needs --n"),
])
def test_bad_sampling_options(streets, kwargs, message):
    with pytest.raises(GeoInputError, match=message):
        points_from_streets(streets, **kwargs)


def test_bad_view_options(sampled):
    points, _ = sampled
    with pytest.raises(GeoInputError, match="--sides"):
        views_from_points(points, sides="up")
    with pytest.raises(GeoInputError, match="--fov"):
        views_from_points(points, fov=200)


def test_utm_convergence_matches_numerical_projection():
    from pyproj import CRS

    from geo.streets.sampling import true_north_correction
    lon = np.array([24.0, 25.0, 27.0, 29.5, 31.0])
    lat = np.array([60.0, 60.2, 59.9, 61.0, 70.0])
    utm = CRS.from_epsg(32635)
    closed = true_north_correction(lon, lat, utm)
    tmerc = CRS.from_proj4("+proj=tmerc +lon_0=27 +k=0.9996 +x_0=500000 +datum=WGS84 +units=m")
    assert tmerc.utm_zone is None  # same projection, but takes the numerical path
    numeric = true_north_correction(lon, lat, tmerc)
    assert np.allclose(closed, numeric, atol=0.01)
    assert closed[2] == pytest.approx(0.0, abs=0.01)  # on the central meridian (27 E)
