"""detector.schemas: the detections table is written with its schema."""

import pandas as pd
import pyarrow as pa
import pytest

from detector.detections import empty_frame
from detector.errors import DetectorInputError
from detector.schemas import DETECTIONS, check_schema, table_from_frame


def test_detections_are_cast_to_float32_pixels():
    frame = pd.DataFrame({"image_id": ["a"], "x1": [300.5], "y1": [2], "x2": [310.25], "y2": [12],
                          "conf": [0.5], "class_id": [1], "class_name": ["dome"], "model_id": ["m"]})
    table = table_from_frame(frame, DETECTIONS)
    assert table.schema.field("x1").type == pa.float32() and table.column("x1")[0].as_py() == 300.5
    check_schema(table.schema, DETECTIONS, what="part")


def test_missing_column_and_wrong_schema_are_named():
    with pytest.raises(DetectorInputError, match="lacks column.*conf"):
        table_from_frame(empty_frame().drop(columns="conf"), DETECTIONS)
    wrong = pa.schema([f if f.name != "conf" else pa.field("conf", pa.string()) for f in DETECTIONS])
    with pytest.raises(DetectorInputError, match="conf is string, expected float"):
        check_schema(wrong, DETECTIONS, what="part")


def test_empty_frame_follows_the_schema():
    assert list(empty_frame().columns) == DETECTIONS.names
    assert table_from_frame(empty_frame(), DETECTIONS).schema.equals(DETECTIONS)
