"""YOLO dataset writing, tiling and checking on generated images."""

import numpy as np
import pandas as pd
import pytest

from detector.errors import DetectorInputError
from detector.yolo_dataset import (
    BOX_COLUMNS,
    boxes_from_label_file,
    check_dataset,
    label_lines_from_boxes,
    read_data_yaml,
    tiles_from_view,
    write_data_yaml,
    write_example,
)
from tests.detector.drawn import drawn_dataset


def test_labels_round_trip_pixels(tmp_path):
    boxes = pd.DataFrame([("dome", 10, 20, 18, 30), ("directed", 600, 300, 640, 310)], columns=BOX_COLUMNS)
    label = tmp_path / "a.txt"
    label.write_text("\n".join(label_lines_from_boxes(boxes, 640, 480)))
    back = boxes_from_label_file(label, 640, 480)
    assert list(back.class_name) == ["dome", "directed"]
    np.testing.assert_allclose(back[["x1", "y1", "x2", "y2"]].to_numpy(), boxes[["x1", "y1", "x2", "y2"]], atol=1e-5)
    assert label.read_text().startswith("1 ")  # dome is class 1


def test_written_dataset_is_counted(tmp_path):
    data = drawn_dataset(tmp_path, n_train=5, n_val=3)
    spec = read_data_yaml(tmp_path)
    assert spec.names == ["directed", "dome"] and spec.yaml_path == data
    report = check_dataset(data)
    assert report.ok
    assert report.splits["train"].images == 5 and report.splits["val"].images == 3
    n_boxes = sum(len(p.read_text().splitlines()) for p in (tmp_path / "labels").rglob("*.txt"))
    assert sum(sum(s.boxes.values()) for s in report.splits.values()) == n_boxes == sum(report.size_hist.values())
    assert report.size_hist["8-16"] + report.size_hist["16-32"] == n_boxes  # drawn sides are 12..23 px


def test_check_catches_broken_label_file(tmp_path):
    data = drawn_dataset(tmp_path, n_train=3, n_val=2)
    bad = sorted((tmp_path / "labels" / "train").glob("*.txt"))[1]
    bad.write_text("0 0.5 0.5 0.1\n")  # 4 values
    worse = sorted((tmp_path / "labels" / "val").glob("*.txt"))[0]
    worse.write_text("7 0.5 0.5 0.1 0.1\n")  # unknown class
    report = check_dataset(data)
    assert not report.ok
    assert len(report.broken) == 2
    assert any(bad.name in b and "expected 5 values" in b for b in report.broken)
    assert any(worse.name in b and "class 7" in b for b in report.broken)
    assert "broken: 2" in report.summary()


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    ("names: [dome]\nval: images/val\n", "no 'train'"),
    ("train: images/train\nval: images/val\n", "names"),
    ("train: nowhere\nval: images/val\nnames: {0: dome}\n", "split folder not found"),
    ("[unclosed", "malformed"),
])
def test_malformed_dataset_is_one_clear_error(tmp_path, content, message):
    (tmp_path / "images" / "val").mkdir(parents=True)
    if content is not None:
        (tmp_path / "data.yaml").write_text(content)
    with pytest.raises(DetectorInputError, match=message):
        check_dataset(tmp_path)


def test_dataset_without_images_is_an_error(tmp_path):
    write_data_yaml(tmp_path)
    with pytest.raises(DetectorInputError, match="no images"):
        check_dataset(tmp_path)


def test_tiles_keep_cameras_inside_and_away_tiles_empty():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (640, 640, 3), dtype=np.uint8)
    boxes = pd.DataFrame([("dome", 100, 50, 110, 60), ("directed", 500, 400, 530, 412)], columns=BOX_COLUMNS)
    tiles = tiles_from_view(image, boxes, size=320, n_away=2, rng=rng)
    around = [t for t in tiles if t[0].startswith("c")]
    away = [t for t in tiles if t[0].startswith("a")]
    assert len(around) == 2 and len(away) == 2
    for suffix, crop, crop_boxes in tiles:
        assert crop.shape == (320, 320, 3)
    for (suffix, crop, crop_boxes), (_, src) in zip(around, boxes.iterrows()):
        row = crop_boxes[crop_boxes.class_name == src.class_name].iloc[0]
        w, h = src.x2 - src.x1, src.y2 - src.y1
        assert row.x2 - row.x1 == w and row.y2 - row.y1 == h  # whole box inside, same size
        # the pixels under the box are the source pixels
        x0, y0 = int(src.x1 - row.x1), int(src.y1 - row.y1)
        assert np.array_equal(crop, image[y0:y0 + 320, x0:x0 + 320])
    assert all(b.empty for _, _, b in away)


def test_write_example_is_readable_by_check(tmp_path):
    image = np.zeros((40, 60, 3), np.uint8)
    write_example(tmp_path, "train", "x", image, pd.DataFrame(columns=BOX_COLUMNS))
    write_example(tmp_path, "val", "y", image, pd.DataFrame([("dome", 1, 1, 9, 9)], columns=BOX_COLUMNS))
    write_data_yaml(tmp_path)
    report = check_dataset(tmp_path / "data.yaml")
    assert report.splits["train"].empty == 1 and report.splits["val"].boxes == {"dome": 1, "directed": 0}
    assert report.size_hist["8-16"] == 1


def test_safe_scale_never_shrinks_a_box_below_the_floor():
    from detector.yolo_dataset import safe_scale

    for side in (4.5, 6.0, 8.0, 9.7, 12.0, 100.0):
        scale = safe_scale(side, floor_px=4.0)
        assert 0 <= scale <= 0.5 and side * (1 - scale) >= 4.0 - 1e-9
    assert safe_scale(6.0) == pytest.approx(0.333, abs=1e-3)  # 6 * (1 - 1/3) = 4
    assert safe_scale(3.0) == 0.0 and safe_scale(4.0) == 0.0  # at or under the floor: no zoom-out at all
    assert safe_scale(1000.0) == 0.5  # capped


def test_crop_around_holds_the_target_and_can_avoid_cameras():
    from detector.yolo_dataset import crop_around

    image = np.zeros((200, 300, 3), np.uint8)
    boxes = pd.DataFrame([("dome", 10, 10, 20, 20)], columns=BOX_COLUMNS)
    rng = np.random.default_rng(1)
    for _ in range(20):
        crop, crop_boxes = crop_around(image, boxes, (200, 150, 210, 160), size=64, rng=rng, avoid_boxes=True)
        assert crop.shape == (64, 64, 3) and crop_boxes.empty
    crop, crop_boxes = crop_around(image, boxes, (12, 12, 18, 18), size=64, rng=rng)  # target next to the camera
    assert len(crop_boxes) == 1
    assert crop_around(image, boxes, (12, 12, 18, 18), size=64, rng=rng, avoid_boxes=True) is None


def test_train_args_round_trip(tmp_path):
    from detector.yolo_dataset import read_train_args, write_train_args

    assert read_train_args(tmp_path) == {}
    write_train_args(tmp_path, {"scale": 0.25, "mosaic": 1.0}, comment="why\nand why")
    assert (tmp_path / "train_args.yaml").read_text().startswith("# why\n# and why\n")
    assert read_train_args(tmp_path / "data.yaml") == {"scale": 0.25, "mosaic": 1.0}
