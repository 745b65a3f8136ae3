"""Sliced inference: a small object the whole-image pass misses is found in tiles, boxes come
back in original pixels, and duplicates from overlapping tiles merge into one box."""

import cv2
import numpy as np

from detector.detections import Detections
from detector.detect import detect_images
from detector.engine import TorchBackend, load_image, read_detections
from detector.slicing import merge_tile_detections, parse_slice, tile_origins, tile_windows
from tests.detector.conftest import DrawnObject, object_image

TILE, OVERLAP, IMGSZ = 160, 0.25, 160  # tiles of 160 px every 120 px; model input 160 px
# above the tiny model's faint fragments of an object cut at a tile border (one at 0.252 on some CPUs)
CONF = 0.3


def test_tiles_cover_the_image_and_end_at_its_edge():
    assert tile_origins(640, 160, 0.25) == [0, 120, 240, 360, 480]
    assert tile_origins(100, 160, 0.25) == [0]
    assert tile_origins(170, 160, 0.5) == [0, 10]
    windows = tile_windows(300, 640, 160, 0.25)
    assert len(windows) == 5 * 3 and windows[-1] == (480, 140, 160, 160)
    assert tile_windows(120, 150, 160, 0.2) == []
    assert parse_slice("320:0.2") == (320, 0.2) and parse_slice(None) is None


def test_merging_joins_duplicates_and_parts_cut_at_a_border_but_not_neighbours():
    boxes = Detections(
        xyxy=[
            [100, 100, 140, 140],  # the object seen whole
            [101, 99, 141, 139],  # the same from another tile
            [100, 100, 120, 140],  # its left part, cut at a tile border
            [120, 100, 140, 140],  # its right part, taken for the other class
            [200, 100, 240, 140],  # a neighbour: kept
            [235, 100, 275, 140],
        ],  # overlapping the neighbour a little: kept
        confidence=[0.9, 0.8, 0.6, 0.5, 0.7, 0.4],
        class_id=[0, 0, 0, 1, 0, 1],
    )
    merged = merge_tile_detections([boxes[:2], boxes[2:]])
    assert len(merged) == 3
    first = merged[np.argmax(merged.confidence)]
    np.testing.assert_allclose(first.xyxy[0], [100, 99, 141, 140])
    assert first.class_id[0] == 0 and sorted(merged.class_id.tolist()) == [0, 0, 1]


def write_scene(path, objects):
    cv2.imwrite(str(path), object_image(640, 640, objects))


def test_slicing_finds_a_small_object_the_whole_image_pass_misses(tiny_model, tmp_path):
    small = DrawnObject(0, 300, 420, 36)  # 36 px: 9 px at 160 px input for the whole image
    folder = tmp_path / "images"
    folder.mkdir()
    write_scene(folder / "scene.png", [small])
    whole = detect_images(
        folder, model=tiny_model, out=tmp_path / "whole", imgsz=IMGSZ, progress=False
    )
    assert whole["ok"] == 1 and whole["detections"] == 0
    sliced = detect_images(
        folder,
        model=tiny_model,
        out=tmp_path / "sliced",
        imgsz=IMGSZ,
        slice=f"{TILE}:{OVERLAP}",
        progress=False,
    )
    rows = read_detections(tmp_path / "sliced")
    assert sliced["detections"] == len(rows) == 1
    row = rows.iloc[0]
    x1, y1, x2, y2 = small.xyxy
    assert (
        abs(row.x1 - x1) < 6
        and abs(row.x2 - x2) < 6
        and abs(row.y1 - y1) < 6
        and abs(row.y2 - y2) < 6
    )
    assert row.class_name == "dome" and sliced["slice"] == "160:0.25"


def test_an_object_in_the_overlap_of_four_tiles_is_reported_once(tiny_model, tmp_path):
    corner = DrawnObject(1, 140, 140, 34)  # inside tiles (0|120, 0|120): seen whole four times
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), object_image(300, 300, [corner]))  # tiles at 0, 120, 140 px
    loaded = load_image("scene", str(path), imgsz=IMGSZ, slicing=(TILE, OVERLAP), max_pixels=10**8)
    backend = TorchBackend(tiny_model, device="cpu")
    raw, best = 0, (0.0, None)
    for crop in loaded.crops:
        found = Detections.from_yolo_output(backend.forward(crop.pixels[None]), conf=CONF)[0]
        found = found.unletterbox(
            ratio=crop.ratio, pad=crop.pad, shape=crop.shape, offset=crop.offset
        )
        centre = (found.xyxy[:, :2] + found.xyxy[:, 2:]) / 2
        near = (np.abs(centre - [140, 140]) < 10).all(1)
        raw += int(near.sum())
        for conf, cls in zip(found.confidence[near], found.class_id[near]):
            best = max(best, (float(conf), int(cls)), key=lambda b: b[0])
    assert raw >= 3  # the duplicates really exist before merging

    detect_images(
        path,
        model=tiny_model,
        out=tmp_path / "out",
        imgsz=IMGSZ,
        slice=f"{TILE}:{OVERLAP}",
        conf=CONF,
        progress=False,
    )
    rows = read_detections(tmp_path / "out")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row.class_id == best[1]  # the merged box keeps the class of its most confident duplicate
    assert abs((row.x1 + row.x2) / 2 - 140) < 5 and abs((row.y1 + row.y2) / 2 - 140) < 5
