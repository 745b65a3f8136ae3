"""The tables the detector package writes, as pyarrow schemas: the data contracts of DESIGN.md.

Writers write with them, readers and tests validate against them. Box coordinates are pixels
of the original image (``x1, y1`` top left, ``x2, y2`` bottom right), stored as float32.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from detector.errors import DetectorInputError

DETECTIONS = pa.schema([
    ("image_id", pa.string()),
    ("x1", pa.float32()),  # pixels
    ("y1", pa.float32()),
    ("x2", pa.float32()),
    ("y2", pa.float32()),
    ("conf", pa.float32()),  # the model's confidence, 0-1
    ("class_id", pa.int32()),
    ("class_name", pa.string()),
    ("model_id", pa.string()),
])

LOOK = pa.schema([  # look.parquet: a fixed sample of a survey's images (detector.look, issue 26's look test)
    ("image_id", pa.string()),
    *((name, pa.float64()) for name in ("noise", "sharpness", "detail", "blockiness", "contrast", "brightness",
                                        "saturation", "cast_rb", "cast_g", "haze")),  # units: detector.look
])

DETECT_FAILURES = pa.schema([
    ("image_id", pa.string()),
    ("path", pa.string()),
    ("error", pa.string()),
])


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    """An empty frame with the schema's columns and dtypes."""
    return schema.empty_table().to_pandas()


def table_from_frame(frame: pd.DataFrame, schema: pa.Schema, *, what: str = "table") -> pa.Table:
    """``frame``'s columns, in the schema's order and cast to its types."""
    missing = [n for n in schema.names if n not in frame.columns]
    if missing:
        raise DetectorInputError(f"{what} lacks column(s): {', '.join(missing)}")
    try:
        return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise DetectorInputError(f"{what} does not fit its schema: {error}") from None


def check_schema(found: pa.Schema, schema: pa.Schema, *, what: str) -> None:
    """Raise ``DetectorInputError`` when a written file's schema lacks a column of ``schema``
    or holds one with another type (string and large_string count as the same)."""
    def plain(t: pa.DataType) -> pa.DataType:
        return pa.string() if pa.types.is_large_string(t) else t

    problems = [f"{f.name} missing" if f.name not in found.names
                else f"{f.name} is {found.field(f.name).type}, expected {f.type}"
                for f in schema
                if f.name not in found.names or plain(found.field(f.name).type) != plain(f.type)]
    if problems:
        raise DetectorInputError(f"{what} does not match its schema: {'; '.join(problems)}")
