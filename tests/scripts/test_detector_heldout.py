"""The detector's fixed held-out sets and its operating-point choice (issue 28): the corrupted copy
keeps labels and views, the table's bands add up, the choice respects the speed floor."""

import cv2
import numpy as np

from detector.yolo_dataset import read_data_yaml, write_data_yaml
from scripts.bench.operating_point import choose, parse_combo
from scripts.synthesis.heldout import corrupted_copy
from scripts.validation.detector_heldout import _bands, markdown_from_rows


def _dataset(root, n=7):
    write_data_yaml(root)
    rng = np.random.default_rng(0)
    for i in range(n):
        image = rng.integers(60, 200, (64, 64, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / "val" / f"v{i}.jpg"), image)
        (root / "labels" / "val" / f"v{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "truth_ranges.csv").write_text("image,range_m\nv0,10\n")
    return root / "data.yaml"


def test_corrupted_copy_keeps_views_and_labels_and_changes_every_image(tmp_path):
    source = tmp_path / "default"
    _dataset(source)
    out = corrupted_copy(source, tmp_path / "corrupt")
    spec = read_data_yaml(out)
    assert sorted(p.name for p in spec.splits["val"]) == sorted(p.name for p in (source / "images" / "val").glob("*"))
    for path in spec.splits["val"]:
        a = cv2.imread(str(path)).astype(int)
        b = cv2.imread(str(source / "images" / "val" / path.name)).astype(int)
        assert np.abs(a - b).mean() > 1  # one corruption each
        assert (tmp_path / "corrupt" / "labels" / "val" / (path.stem + ".txt")).read_text() == "0 0.5 0.5 0.2 0.2\n"
    assert (tmp_path / "corrupt" / "truth_ranges.csv").exists()
    first = sorted(spec.splits["val"])[0]
    mtime = first.stat().st_mtime_ns
    corrupted_copy(source, tmp_path / "corrupt")  # a rerun resumes: files already written stay
    assert first.stat().st_mtime_ns == mtime


def test_bands_pool_the_fine_size_bins():
    rows = [{"lo_px": lo, "hi_px": hi, "n": n, "found": f} for lo, hi, n, f in
            [(0, 6, 5, 0), (6, 8, 10, 2), (8, 12, 10, 5), (12, 16, 10, 9), (16, 24, 4, 4), (24, 1e5, 1, 1)]]
    bands = _bands(rows)
    assert bands["n_6-8"] == 10 and bands["recall_6-8"] == 0.2
    assert bands["n_8-16"] == 20 and bands["recall_8-16"] == 0.7
    assert bands["n_>16"] == 5 and bands["recall_>16"] == 1.0
    assert bands["n_>=8"] == 25 and bands["recall_>=8"] == round(19 / 25, 3)
    row = {"model": "m", "look": "alt", "conf": 0.5, **bands, "ratio_>=8": 0.5, "precision": 0.9,
           "false_per_image": 0.01, "reach_m": {"dome": 12.0, "directed": None}}
    assert "| m | alt | 0.500 | 0.20 (n=10) |" in markdown_from_rows([row])


def test_operating_point_choice_respects_the_speed_floor():
    assert parse_combo("onnx:int8:800") == ("onnx", "int8", 800)
    rows = [{"combo": "pt:auto:640", "speed_ratio": 1.0, "recall_>=8": 0.88, "recall_6-8": 0.2},
            {"combo": "pt:auto:800", "speed_ratio": 0.7, "recall_>=8": 0.93, "recall_6-8": 0.5},
            {"combo": "onnx:int8:736", "speed_ratio": 0.95, "recall_>=8": 0.91, "recall_6-8": 0.4},
            {"combo": "openvino:bf16:640", "speed_ratio": 1.3, "recall_>=8": 0.88, "recall_6-8": 0.2}]
    assert choose(rows)["combo"] == "onnx:int8:736"
    assert choose(rows, floor=1.2)["combo"] == "openvino:bf16:640"
    assert choose(rows, floor=2.0) is None


def test_card_set_renders_the_training_look_of_another_layout_and_refuses_the_fixed_sets(tmp_path, capsys):
    from scripts.synthesis.heldout import FIXED, card_set, look_set, main

    data = card_set(tmp_path / "card", views=3)
    spec = read_data_yaml(data)
    assert data == tmp_path / "card" / "default" / "data.yaml" and len(spec.splits["val"]) == 3
    assert not (tmp_path / "card" / "alt").exists() and not (tmp_path / "card" / "corrupt").exists()
    assert "random:25:5353" in data.read_text() and "seed=5353" in data.read_text()
    fixed = read_data_yaml(look_set(tmp_path / "fixed", style="default", views=3, seed=FIXED["seed"],
                                    cameras=FIXED["cameras"]))
    pixels = {p.name: cv2.imread(str(p)) for p in fixed.splits["val"]}
    assert not all(p.name in pixels and np.array_equal(cv2.imread(str(p)), pixels[p.name]) for p in spec.splits["val"])
    # the fixed sets' seed or camera layout is refused: one line, exit 2, nothing written
    capsys.readouterr()
    assert main([str(tmp_path / "bad"), "--card-set", "--views", "3", "--seed", "4242"]) == 2
    assert main([str(tmp_path / "bad"), "--card-set", "--views", "3", "--cameras", "random:10:4242"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2 and not (tmp_path / "bad").exists()
