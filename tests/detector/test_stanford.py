"""Stanford meta.csv + a folder of its images -> YOLO dataset, classes mapped by name."""

from __future__ import annotations

import pytest
import yaml
from PIL import Image

from detector.errors import DetectorInputError
from detector.stanford import boxes_from_annotations, read_stanford_meta, yolo_from_stanford
from detector.yolo_dataset import check_dataset

# rows in the file's own format (two are real rows of the published meta.csv)
META = '''annotations,split,image_id,panoid,heading,gsv_image_path
[],train,0,P8-l8zkFvG1vupCLgUo3ZA,142,../data/image/P8-l8zkFvG1vupCLgUo3ZA_142.jpg
"[{'category_id': 0, 'bbox': [511, 172, 516, 180], 'bbox_mode': 0, 'segmentation': [514, 172, 513, 172]}]",train,1,nEOdMbry0GAKtuxaZltq1A,176,../data/image/nEOdMbry0GAKtuxaZltq1A_176.jpg
"[{'category_id': 1, 'bbox': [100, 200, 120, 216], 'bbox_mode': 0, 'segmentation': []}, {'category_id': 0, 'bbox': [630, 10, 650, 30], 'bbox_mode': 0, 'segmentation': []}]",valid,2,GYi2vJIcAYT2DX-dt00tfA,110,../data/image/GYi2vJIcAYT2DX-dt00tfA_110.jpg
"[{'category_id': 1, 'bbox': [0, 0, 64, 64], 'bbox_mode': 0, 'segmentation': []}]",valid,3,MISSINGpano,10,../data/image/MISSINGpano_10.jpg
'''


def _lines(path):
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


@pytest.fixture
def stanford(tmp_path):
    meta = tmp_path / "meta.csv"
    meta.write_text(META)
    images = tmp_path / "gsv"
    images.mkdir()
    for stem in ("P8-l8zkFvG1vupCLgUo3ZA_142", "nEOdMbry0GAKtuxaZltq1A_176",
                 "GYi2vJIcAYT2DX-dt00tfA_110"):
        Image.new("RGB", (640, 640), (100, 100, 100)).save(images / f"{stem}.jpg")
    return meta, images


def test_boxes_are_converted_by_class_name(stanford, tmp_path):
    meta, images = stanford
    out = tmp_path / "dataset"
    result = yolo_from_stanford(meta, images, out)

    assert result.images == {"train": 2, "val": 1} and result.missing == 1
    assert result.boxes == {"dome": 1, "directed": 2}
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "directed", 1: "dome"}
    # Stanford directed (0) -> our 0 (same order); [511, 172, 516, 180] in 640 px, checked by hand
    (directed,) = _lines(out / "labels/train/nEOdMbry0GAKtuxaZltq1A_176.txt")
    assert directed == pytest.approx([0, 513.5 / 640, 176 / 640, 5 / 640, 8 / 640])
    # Stanford dome (1) -> our 1; a box over the right edge is clipped to the image
    dome, edge = _lines(out / "labels/val/GYi2vJIcAYT2DX-dt00tfA_110.txt")
    assert dome == pytest.approx([1, 110 / 640, 208 / 640, 20 / 640, 16 / 640])
    assert edge == pytest.approx([0, 635 / 640, 20 / 640, 10 / 640, 20 / 640])
    assert (out / "labels/train/P8-l8zkFvG1vupCLgUo3ZA_142.txt").read_text() == ""  # background
    assert (out / "images/val/GYi2vJIcAYT2DX-dt00tfA_110.jpg").is_file()
    report = check_dataset(out)
    assert report.ok and report.splits["train"].images == 2 and report.splits["val"].images == 1


def test_a_rerun_adds_images_fetched_since(stanford, tmp_path):
    meta, images = stanford
    out = tmp_path / "dataset"
    yolo_from_stanford(meta, images, out)
    Image.new("RGB", (640, 640)).save(images / "MISSINGpano_10.jpg")
    again = yolo_from_stanford(meta, images, out)
    assert again.missing == 0 and again.images == {"train": 2, "val": 2}
    assert _lines(out / "labels/val/MISSINGpano_10.txt") == [pytest.approx([1, 0.05, 0.05, 0.1, 0.1])]


def test_bad_labels_are_clear_errors(tmp_path):
    with pytest.raises(DetectorInputError, match="category_id 7"):
        boxes_from_annotations([{"category_id": 7, "bbox": [0, 0, 1, 1]}])
    bad = tmp_path / "meta.csv"
    bad.write_text("annotations,split,panoid,heading\n\"[{oops\",train,P,1\n")
    with pytest.raises(DetectorInputError, match="meta.csv:2"):
        read_stanford_meta(bad)
    with pytest.raises(DetectorInputError, match="not found"):
        read_stanford_meta(tmp_path / "nope.csv")
