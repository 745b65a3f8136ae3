import pytest

from detector.io import atomic_path, write_bytes


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = write_bytes(tmp_path / "part-000000.parquet", b"old")
    with pytest.raises(OSError):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise OSError("disk full")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["part-000000.parquet"]
