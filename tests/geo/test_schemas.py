"""geo.schemas: writers write with the schemas, readers get a clear error naming the problem."""

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geo.errors import GeoInputError
from geo.io import write_parquet
from geo.schemas import IMAGES, TRUTH_BOXES, VIEWS, check_frame, check_table, columns, empty_frame


def _boxes(**changes):
    data = {"image_id": ["a"], "camera_id": ["c1"], "class_name": ["dome"], "x1": [1], "y1": [2],
            "x2": [3.5], "y2": [4.5], **changes}
    return pd.DataFrame(data)


def test_writer_casts_to_the_schema_and_orders_its_columns(tmp_path):
    frame = _boxes()[["x2", "image_id", "camera_id", "class_name", "x1", "y1", "y2"]]
    path = write_parquet(frame, tmp_path / "truth_boxes.parquet", schema=TRUTH_BOXES)
    found = pq.read_schema(path)
    assert found.names == TRUTH_BOXES.names
    assert found.field("x1").type == pa.float64()  # ints given, floats written
    check_table(found, TRUTH_BOXES, what="truth_boxes.parquet")


def test_missing_column_is_named_and_nothing_is_written(tmp_path):
    with pytest.raises(GeoInputError, match="lacks column.*camera_id"):
        write_parquet(_boxes().drop(columns="camera_id"), tmp_path / "t.parquet", schema=TRUTH_BOXES)
    assert list(tmp_path.iterdir()) == []


def test_wrong_type_is_named():
    with pytest.raises(GeoInputError, match="wrong type: x1"):
        check_frame(_boxes(x1=["left"]), TRUTH_BOXES, what="truth boxes")


def test_a_read_schema_with_another_type_is_refused():
    found = pa.schema([(f.name, pa.large_string() if f.type == pa.string() else f.type) for f in IMAGES])
    check_table(found, IMAGES, what="images.parquet")  # large_string is string
    wrong = pa.schema([f if f.name != "width" else pa.field("width", pa.string()) for f in IMAGES])
    with pytest.raises(GeoInputError, match="width is string, expected int64"):
        check_table(wrong, IMAGES, what="images.parquet")


def test_geo_frames_are_checked_too(tmp_path):
    views = gpd.GeoDataFrame({c: [] for c in columns(VIEWS)}, geometry=gpd.GeoSeries([], crs=4326))
    with pytest.raises(GeoInputError, match="lacks column.*heading"):
        write_parquet(views.drop(columns="heading"), tmp_path / "views.parquet", schema=VIEWS)


def test_empty_frame_has_the_attribute_columns():
    frame = empty_frame(VIEWS)
    assert list(frame.columns) == columns(VIEWS) and "geometry" not in frame.columns
    assert frame["heading"].dtype == "float64"
