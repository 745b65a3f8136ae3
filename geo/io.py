"""Atomic file writes: a temp name in the same directory, then a rename, so a crash never
leaves half a file and a reader never sees one. Every geo stage writes through here."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo.schemas import check_frame, table_from_frame


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it onto ``path``, on failure remove it.
    The temp name starts with a dot, so globs such as ``part-*.parquet`` never see it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_parquet(frame: pd.DataFrame, path: str | Path, *, schema: pa.Schema | None = None) -> Path:
    """Write a DataFrame as Parquet (a GeoDataFrame as GeoParquet) atomically, without its index.

    With ``schema`` (one of ``geo.schemas``) the frame is checked against it first; a plain
    frame is written with exactly the schema's columns and types."""
    with atomic_path(path) as tmp:
        if schema is None:
            frame.to_parquet(tmp, index=False)
        elif isinstance(frame, gpd.GeoDataFrame):
            check_frame(frame, schema, what=Path(path).name)
            frame.to_parquet(tmp, index=False)
        else:
            pq.write_table(table_from_frame(frame, schema, what=Path(path).name), tmp)
    return Path(path)
