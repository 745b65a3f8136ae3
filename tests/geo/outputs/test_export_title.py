"""map.html's title names the area, not the path of its file."""

from geo.outputs.export import _title, area_name


def test_a_file_area_is_titled_by_its_name():
    assert area_name("/usr/lib/python3/site-packages/pyrosm/data/test.osm.pbf") == "test"
    assert area_name("cities/Helsinki.osm.bz2") == "Helsinki" and area_name("x/city.graphml") == "city"
    assert area_name("demo") == "demo" and area_name("bbox:24.9,60.1,25.0,60.2") == "bbox:24.9,60.1,25.0,60.2"
    report = {"parameters": {"area": "/a/b/test.osm.pbf"}, "total": {"est_cameras": 45.0, "est_lo": 30.0,
                                                                      "est_hi": 60.0}}
    assert _title(report) == "Camera density: test – 45 cameras (95% 30–60)"
