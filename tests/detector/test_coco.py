"""COCO json <-> YOLO: boxes round-trip exactly, classes map by name."""

import json

import numpy as np
import pytest

from detector.coco import coco_from_yolo, write_coco, yolo_from_coco
from detector.errors import DetectorInputError
from detector.yolo_dataset import check_dataset


def _coco(tmp_path):
    import cv2

    images_dir = tmp_path / "src"
    images_dir.mkdir()
    for name, (w, h) in {"a.jpg": (640, 640), "b.jpg": (320, 200), "c.jpg": (100, 80)}.items():
        cv2.imwrite(str(images_dir / name), np.full((h, w, 3), 128, np.uint8))
    coco = {
        "images": [{"id": 11, "file_name": "a.jpg", "width": 640, "height": 640},
                   {"id": 12, "file_name": "b.jpg", "width": 320, "height": 200},
                   {"id": 13, "file_name": "c.jpg", "width": 100, "height": 80}],
        # Stanford-style category ids: 0 = directed, 1 = dome (mapped by name, not id)
        "categories": [{"id": 0, "name": "directed"}, {"id": 1, "name": "Dome"}],
        "annotations": [
            {"id": 1, "image_id": 11, "category_id": 1, "bbox": [511, 172, 5, 8]},
            {"id": 2, "image_id": 11, "category_id": 0, "bbox": [0, 0, 640, 640]},
            {"id": 3, "image_id": 12, "category_id": 0, "bbox": [12.5, 33.25, 7.75, 3.5]},
        ],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    return coco, path, images_dir


def test_coco_yolo_round_trip_is_exact(tmp_path):
    coco, path, images_dir = _coco(tmp_path)
    data = yolo_from_coco(path, images_dir, tmp_path / "yolo", split="val")
    assert (tmp_path / "yolo" / "labels" / "val" / "a.txt").read_text().splitlines()[0].startswith("1 ")  # dome = 1
    assert (tmp_path / "yolo" / "labels" / "val" / "c.txt").read_text() == ""  # background image
    report = check_dataset(data)
    assert report.ok and report.splits["val"].boxes == {"dome": 1, "directed": 2}
    back = coco_from_yolo(data, split="val")
    names_back = {c["id"]: c["name"] for c in back["categories"]}
    files_back = {i["id"]: i["file_name"] for i in back["images"]}
    got = sorted((files_back[a["image_id"]], names_back[a["category_id"]], a["bbox"]) for a in back["annotations"])
    names_in = {c["id"]: c["name"].lower() for c in coco["categories"]}
    files_in = {i["id"]: i["file_name"] for i in coco["images"]}
    want = sorted((files_in[a["image_id"]], names_in[a["category_id"]], a["bbox"]) for a in coco["annotations"])
    assert got == want
    assert {(i["file_name"], i["width"], i["height"]) for i in back["images"]} == \
        {(i["file_name"], i["width"], i["height"]) for i in coco["images"]}
    write_coco(back, tmp_path / "again.json")
    again = yolo_from_coco(tmp_path / "again.json", tmp_path / "yolo" / "images" / "val", tmp_path / "yolo2",
                           split="val")
    for label in (tmp_path / "yolo" / "labels" / "val").glob("*.txt"):
        assert (again.parent / "labels" / "val" / label.name).read_text() == label.read_text()


def test_unknown_category_is_one_clear_error(tmp_path):
    coco, path, images_dir = _coco(tmp_path)
    coco["categories"].append({"id": 5, "name": "traffic light"})
    path.write_text(json.dumps(coco))
    with pytest.raises(DetectorInputError, match="traffic light"):
        yolo_from_coco(path, images_dir, tmp_path / "yolo")


def test_malformed_coco_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"images": []}')
    with pytest.raises(DetectorInputError, match="needs 'images'"):
        yolo_from_coco(path, tmp_path, tmp_path / "yolo")
