"""OSM features for the simulator and the locate stage: buildings, cameras, furniture."""

from pathlib import Path

import numpy as np
import pytest

from geo.errors import GeoInputError
from geo.sim.features import buildings_from_area, street_furniture_from_area, surveillance_from_area

LON0, LAT0 = 24.94, 60.17
D = 0.0001  # ~11 m in latitude, ~5.5 m in longitude


def write_block_osm(path: Path, *, buildings: list[dict], nodes: list[dict] = ()) -> Path:
    """OSM XML: one east-west street; rectangular buildings north of it with the given tags
    (``dx`` = east offset in steps of D); extra tagged nodes with ``dx``, ``dy`` offsets."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    next_id = [1]

    def node(lon: float, lat: float, tags: dict | None = None) -> int:
        nid = next_id[0]
        next_id[0] += 1
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
        lines.append(
            f'  <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{body}</node>'
        )
        return nid

    street = [node(LON0 + i * 10 * D, LAT0) for i in range(6)]
    ways = [(street, {"highway": "residential", "name": "Testikatu"})]
    for b in buildings:
        x = LON0 + b["dx"] * D
        corners = [
            node(x, LAT0 + 2 * D),
            node(x + 5 * D, LAT0 + 2 * D),
            node(x + 5 * D, LAT0 + 4 * D),
            node(x, LAT0 + 4 * D),
        ]
        ways.append((corners + corners[:1], b["tags"]))
    for n in nodes:
        node(LON0 + n["dx"] * D, LAT0 + n["dy"] * D, n["tags"])
    for w, (refs, tags) in enumerate(ways):
        lines.append(f'  <way id="{1000 + w}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines))
    return path


def test_heights_from_height_levels_or_a_seeded_default(tmp_path):
    osm = write_block_osm(
        tmp_path / "block.osm",
        buildings=[
            {"dx": 0, "tags": {"building": "yes", "height": "15 m"}},
            {"dx": 10, "tags": {"building": "apartments", "building:levels": "4"}},
            {"dx": 20, "tags": {"building": "yes"}},
        ],
    )
    first = buildings_from_area(str(osm))
    again = buildings_from_area(str(osm))
    assert first.crs.to_epsg() == 4326 and len(first) == 3
    by_x = first.assign(x=first.geometry.bounds["minx"]).sort_values("x")
    assert list(by_x["height_source"]) == ["height", "levels", "default"]
    assert by_x["height_m"].iloc[0] == pytest.approx(15.0)
    assert by_x["height_m"].iloc[1] == pytest.approx(12.0)
    assert 6.0 <= by_x["height_m"].iloc[2] <= 21.0 and by_x["height_m"].iloc[2] % 3 == 0
    assert np.array_equal(first["height_m"].to_numpy(), again["height_m"].to_numpy())


def test_surveillance_nodes_keep_their_camera_tags(tmp_path):
    osm = write_block_osm(
        tmp_path / "cams.osm",
        buildings=[{"dx": 0, "tags": {"building": "yes"}}],
        nodes=[
            {
                "dx": 2,
                "dy": 1.9,
                "tags": {
                    "man_made": "surveillance",
                    "camera:type": "dome",
                    "camera:mount": "wall",
                    "height": "4",
                    "camera:direction": "180",
                },
            },
            {
                "dx": 30,
                "dy": 1,
                "tags": {"man_made": "surveillance", "surveillance:type": "camera"},
            },
            {"dx": 40, "dy": 1, "tags": {"highway": "street_lamp"}},
        ],
    )
    cams = surveillance_from_area(str(osm))
    assert len(cams) == 2 and cams.crs.to_epsg() == 4326
    dome = cams[cams["camera:type"] == "dome"].iloc[0]
    assert (
        dome["camera:mount"] == "wall"
        and dome["height"] == "4"
        and dome["camera:direction"] == "180"
    )
    furniture = street_furniture_from_area(str(osm))
    assert list(furniture["kind"]) == ["lamp"]


def test_demo_area_has_buildings_and_mapped_cameras():
    buildings = buildings_from_area("demo")
    assert len(buildings) > 300
    assert (buildings["height_m"] > 0).all()
    assert set(buildings["height_source"]) <= {"height", "levels", "default"}
    cams = surveillance_from_area("demo")
    assert len(cams) > 100
    assert (cams["camera:type"] == "dome").sum() >= 1


def test_area_without_buildings_is_a_clear_error(tmp_path):
    osm = write_block_osm(tmp_path / "street.osm", buildings=[])
    with pytest.raises(GeoInputError, match="no buildings"):
        buildings_from_area(str(osm))
    assert len(surveillance_from_area(str(osm))) == 0
