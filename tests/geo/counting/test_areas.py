"""geo.counting.areas: --by specs, polygons files and their faults, population layers."""

import json

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely

from geo.counting.areas import (areas_from_spec, grid_areas, h3_areas, population_for_areas, population_from_file,
                       whole_area)
from geo.errors import GeoInputError
from geo.streets.network import streets_from_graph
from tests.geo.sim.scene import ORIGIN, UTM, grid_graph


@pytest.fixture(scope="module")
def streets():
    return streets_from_graph(grid_graph(n=4))


def _write(path, features, crs=None):
    data = {"type": "FeatureCollection", "features": features}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(data))
    return path


def _feature(geom, **props):
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}


def _lonlat_box(streets, frac=(0.0, 0.0, 0.5, 1.0)):
    w, s, e, n = streets.to_crs(4326).total_bounds
    return shapely.box(w + frac[0] * (e - w) - 1e-4, s + frac[1] * (n - s) - 1e-4,
                       w + frac[2] * (e - w), s + frac[3] * (n - s) + 1e-4)


def test_whole_area_holds_every_street(streets):
    area = whole_area(streets)
    assert area["area_id"].tolist() == ["area"] and area.crs.to_epsg() == 4326
    assert streets.to_crs(4326).geometry.within(area.geometry.iloc[0]).all()


def test_h3_cells_cover_the_streets(streets):
    cells = h3_areas(streets, resolution=10)
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 10 for c in cells["area_id"])
    union = shapely.union_all(cells.geometry.to_numpy())
    pts = shapely.line_interpolate_point(streets.to_crs(4326).geometry.to_numpy(), 0.5, normalized=True)
    assert shapely.covers(union.buffer(1e-9), pts).all()
    with pytest.raises(GeoInputError, match="0..15"):
        h3_areas(streets, resolution=16)


def test_grid_cells_are_squares_that_streets_cross(streets):
    cells = grid_areas(streets, size_m=100.0)
    sizes = cells.to_crs(UTM).geometry.area.to_numpy()
    assert np.allclose(sizes, 100.0 * 100.0, rtol=1e-6)
    assert cells.to_crs(UTM).geometry.intersects(shapely.union_all(streets.geometry.to_numpy())).all()
    assert cells["area_id"].is_unique and cells["area_id"].iloc[0].startswith("E")
    with pytest.raises(GeoInputError, match="at least 10"):
        grid_areas(streets, size_m=1.0)


def test_polygons_file_areas_and_ids(tmp_path, streets):
    path = _write(tmp_path / "a.geojson", [_feature(_lonlat_box(streets), name="West <side>", pop=10),
                                           _feature(_lonlat_box(streets, (0.5, 0, 1, 1)), name="East", pop=5)])
    areas = areas_from_spec(str(path), streets)
    assert areas["area_id"].tolist() == ["West <side>", "East"] and areas.crs.to_epsg() == 4326


def test_polygons_file_in_a_projected_crs_is_reprojected(tmp_path, streets):
    box = shapely.box(ORIGIN[0] - 10, ORIGIN[1] - 10, ORIGIN[0] + 150, ORIGIN[1] + 150)
    path = tmp_path / "utm.gpkg"
    gpd.GeoDataFrame({"name": ["sw"]}, geometry=[box], crs=UTM).to_file(path)
    areas = areas_from_spec(str(path), streets)
    assert areas.crs.to_epsg() == 4326 and 24 < areas.geometry.iloc[0].centroid.x < 26


@pytest.mark.parametrize("case, message", [
    ("malformed", "cannot read"),
    ("utm_as_lonlat", "wrong CRS"),
    ("elsewhere", "do not overlap"),
    ("points", "no polygons"),
    ("missing", "not found"),
])
def test_bad_polygons_files_fail_with_one_clear_error(tmp_path, streets, case, message):
    path = tmp_path / f"{case}.geojson"
    if case == "malformed":
        path.write_text('{"type": "FeatureCollection", "features": [')
    elif case == "utm_as_lonlat":
        _write(path, [_feature(shapely.box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + 100, ORIGIN[1] + 100))])
    elif case == "elsewhere":
        _write(path, [_feature(shapely.box(2.0, 48.0, 2.1, 48.1))])
    elif case == "points":
        _write(path, [_feature(shapely.Point(24.9, 60.17))])
    with pytest.raises(GeoInputError, match=message):
        areas_from_spec(str(path), streets)


def test_invalid_polygon_is_repaired_and_reported(tmp_path, streets):
    w, s, e, n = streets.to_crs(4326).total_bounds
    bowtie = shapely.Polygon([(w, s), (e, n), (e, s), (w, n)])
    assert not bowtie.is_valid
    notes = []
    areas = areas_from_spec(str(_write(tmp_path / "bow.geojson", [_feature(bowtie, name="bow")])), streets,
                            warnings_out=notes)
    assert areas.geometry.is_valid.all() and len(areas) == 1
    assert notes and "repaired" in notes[0]


def test_unknown_by_spec(streets):
    with pytest.raises(GeoInputError, match="unknown --by"):
        areas_from_spec("county", streets)
    with pytest.raises(GeoInputError, match="h3:INTEGER"):
        areas_from_spec("h3:x", streets)


def test_population_polygons_are_shared_by_surface_and_points_summed(tmp_path, streets):
    areas = areas_from_spec("grid:150", streets)
    cell = areas.to_crs(UTM).geometry.iloc[0]
    half = shapely.box(cell.bounds[0] - 150, cell.bounds[1], cell.bounds[0] + 150, cell.bounds[3])  # half inside
    centre = cell.centroid
    pop = gpd.GeoDataFrame({"people": [1000.0, 7.0]}, geometry=[half, centre], crs=UTM).to_crs(4326)
    path = tmp_path / "pop.geojson"
    pop.to_file(path)
    layer = population_from_file(path, field="people")
    people = population_for_areas(areas, layer, field="people", crs=UTM)
    assert people[0] == pytest.approx(500.0 + 7.0, rel=1e-3)
    assert people.sum() == pytest.approx(507.0, rel=1e-3)  # the western half lies outside every cell
    with pytest.raises(GeoInputError, match="no field 'inhabitants'"):
        population_from_file(path, field="inhabitants")
