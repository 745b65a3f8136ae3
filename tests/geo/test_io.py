import pandas as pd
import pytest

from geo.io import atomic_path, write_parquet, write_text


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = write_text(tmp_path / "report.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_parquet_round_trip_into_a_new_folder(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    path = write_parquet(frame, tmp_path / "deep" / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    assert [p.name for p in path.parent.iterdir()] == ["t.parquet"]
