"""`camcensus dataset check|coco|synth`, `train` and `evaluate` run in-process on generated data."""

import json

import pytest

from scripts.cli import main
from tests.detector.drawn import drawn_dataset


def test_dataset_check_reports_and_flags_broken_labels(tmp_path, capsys):
    data = drawn_dataset(tmp_path, n_train=3, n_val=2)
    assert main(["dataset", "check", str(data), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "train: 3 images" in out and "broken: 0" in out
    assert json.loads((tmp_path / "r.json").read_text())["splits"]["val"]["images"] == 2
    label = sorted((tmp_path / "labels" / "train").glob("*.txt"))[0]
    label.write_text("0 0.5 0.5 1.5 0.1\n")  # wider than the image
    assert main(["dataset", "check", str(tmp_path)]) == 1
    assert f"{label.name}:1: box is outside the image" in capsys.readouterr().out


def test_dataset_check_malformed_is_exit_2(tmp_path, capsys):
    (tmp_path / "data.yaml").write_text("names: [dome]\n")
    assert main(["dataset", "check", str(tmp_path)]) == 2
    assert "no 'train' entry" in capsys.readouterr().err


def test_dataset_coco_both_ways(tmp_path, capsys):
    data = drawn_dataset(tmp_path / "yolo", n_train=2, n_val=3)
    assert main(["dataset", "coco", str(data), "--out", str(tmp_path / "val.json")]) == 0
    coco = json.loads((tmp_path / "val.json").read_text())
    assert len(coco["images"]) == 3
    assert main(["dataset", "coco", str(tmp_path / "val.json"), "--images",
                 str(tmp_path / "yolo" / "images" / "val"), "--out", str(tmp_path / "back"), "--split", "val"]) == 0
    for label in (tmp_path / "yolo" / "labels" / "val").glob("*.txt"):
        again = (tmp_path / "back" / "labels" / "val" / label.name).read_text().splitlines()
        before = label.read_text().splitlines()
        assert [line.split()[0] for line in again] == [line.split()[0] for line in before]
        assert [[round(float(v), 6) for v in line.split()[1:]] for line in again] == \
            [[round(float(v), 6) for v in line.split()[1:]] for line in before]


def test_train_then_evaluate_commands(tmp_path, capsys):
    data = drawn_dataset(tmp_path / "data", n_train=6, n_val=2)
    out = tmp_path / "models" / "cli"
    assert main(["train", "--data", str(data), "--epochs", "1", "--imgsz", "64", "--batch", "4",
                 "--device", "cpu", "--workers", "0", "--threads", "2", "--out", str(out),
                 "--run-dir", str(tmp_path / "run")]) == 0
    assert out.with_suffix(".pt").is_file() and out.with_suffix(".md").is_file()
    assert main(["evaluate", "--model", str(out.with_suffix(".pt")), "--data", str(data), "--imgsz", "96",
                 "--json", str(tmp_path / "e.json"), "--plot", str(tmp_path / "pr.png"), "--device", "cpu",
                 "--update-card"]) == 0  # a card fresh from train takes its first held-out set
    figures = json.loads((tmp_path / "e.json").read_text())
    assert set(figures) >= {"ap50", "ap50_95", "precision", "recall", "f1", "conf", "recall_by_size"}
    assert "recall by size" in capsys.readouterr().out
    assert "## Evaluation" in out.with_suffix(".md").read_text()
    assert (tmp_path / "pr.png").is_file()
    assert not (tmp_path / "models" / "cli-pr.png").exists()  # nothing written into the models directory


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "missing/data.yaml"], "not found"),
    (["evaluate", "--model", "none.pt", "--data", "DATA"], "not found"),
])
def test_bad_paths_are_exit_2(tmp_path, capsys, argv, message):
    argv = [a.replace("DATA", str(drawn_dataset(tmp_path, n_train=1, n_val=1))) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def _test_pbf():
    import pyrosm

    return pyrosm.get_data("test_pbf")


def test_dataset_synth_splits_by_street_and_resumes(tmp_path, capsys):
    import pandas as pd
    from PIL import Image

    out = tmp_path / "synth"
    argv = ["dataset", "synth", "--area", "demo", "--views", "24", "--tile", "160", "--away", "1",
            "--block-m", "300", "--val-fraction", "0.4", "--out", str(out)]
    assert main(argv) == 0
    manifest = pd.read_csv(out / "manifest.csv")
    assert len(manifest) == 24 and set(manifest.split) == {"train", "val"}
    train_streets = set(manifest[manifest.split == "train"].street_id)
    assert not train_streets & set(manifest[manifest.split == "val"].street_id)  # no street in both
    assert {Image.open(p).size for p in (out / "images" / "val").glob("*.jpg")} == {(640, 640)}
    assert {Image.open(p).size for p in (out / "images" / "train").glob("*.jpg")} == {(160, 160)}
    n_train = len(list((out / "images" / "train").glob("*.jpg")))
    assert n_train == manifest[manifest.split == "train"].n_images.sum()
    assert main(["dataset", "check", str(out)]) == 0
    capsys.readouterr()
    assert main(argv) == 0  # resumed: nothing rendered again, same files
    assert len(list((out / "images" / "train").glob("*.jpg"))) == n_train
    assert "rendered" not in capsys.readouterr().err


def test_dataset_synth_holds_out_an_area(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "synth"
    assert main(["dataset", "synth", "--area", "demo", "--val-area", _test_pbf(), "--views", "10",
                 "--val-fraction", "0.3", "--sim-cameras", "osm", "--sim-cameras", "random:5", "--out",
                 str(out), "--min-positive", "0.7"]) == 0
    manifest = pd.read_csv(out / "manifest.csv")
    assert (manifest[manifest.split == "train"].n_boxes > 0).sum() >= 5  # ceil(0.7 * 7) train views enriched
    assert set(manifest[manifest.split == "train"].area) == {"demo"}
    assert set(manifest[manifest.split == "val"].area) == {_test_pbf()} and (manifest.split == "val").sum() == 3
    assert "held-out area(s) test.osm.pbf" in (out / "data.yaml").read_text()


def test_dataset_synth_bad_options_exit_2(tmp_path, capsys):
    assert main(["dataset", "synth", "--area", "demo", "--views", "5", "--tile", "8", "--out", str(tmp_path)]) == 2
    assert "--tile" in capsys.readouterr().err
    assert main(["dataset", "synth", "--area", "demo", "--views", "5", "--sim-cameras", "osm",
                 "--sim-cameras", "osm", "--out", str(tmp_path)]) == 2
    assert "one per area" in capsys.readouterr().err


def test_dataset_synth_hard_negatives_and_safe_scale(tmp_path, capsys):
    import numpy as np
    import pandas as pd
    import yaml
    from PIL import Image

    from scripts.synthesis.dataset import DECOY_KINDS

    out = tmp_path / "synth"
    assert main(["dataset", "synth", "--area", "demo", "--sim-cameras", "random:20", "--views", "12",
                 "--tile", "160", "--away", "0", "--decoys", "2", "--sky", "1", "--min-positive", "0.5",
                 "--val-fraction", "0.2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "decoy crops:" in printed and "train crops:" in printed
    labels = out / "labels" / "train"
    decoys = sorted(labels.glob("*_d*.txt"))
    skies = sorted(labels.glob("*_s*.txt"))
    assert decoys and skies
    assert all(p.read_text() == "" for p in decoys + skies)  # hard negatives hold no camera
    kinds = printed.split("decoy crops:")[1].splitlines()[0]
    assert {part.split()[0] for part in kinds.split(",")} <= set(DECOY_KINDS)
    assert {Image.open(p).size for p in (out / "images" / "train").glob("*.jpg")} == {(160, 160)}
    # train_args.yaml: scale keeps the smallest labelled camera side at 4 px or more
    args = yaml.safe_load((out / "train_args.yaml").read_text())
    sides = []
    for label in labels.glob("*.txt"):
        for line in label.read_text().splitlines():
            _, _, _, w, h = (float(v) for v in line.split())
            sides.append(min(w, h) * 160)
    assert sides and args["imgsz"] == 160
    if min(sides) <= 4.0:  # cameras already at the floor may not be shrunk at all
        assert args["scale"] == 0.0
    else:
        assert min(sides) * (1 - args["scale"]) >= 4.0 - 1e-6
    assert f"smallest train box side is {min(sides):.2f} px" in (out / "train_args.yaml").read_text()
    manifest = pd.read_csv(out / "manifest.csv")
    assert np.isfinite(manifest.n_images).all()


def _fake_survey(root, image_id="v1"):
    """A finished simulated survey in miniature: one image, one true camera, one true and two
    false detections."""
    import cv2
    import numpy as np
    import pandas as pd

    (root / "images").mkdir(parents=True)
    (root / "detections").mkdir()
    cv2.imwrite(str(root / "images" / f"{image_id}.jpg"), np.full((640, 640, 3), 128, np.uint8))
    pd.DataFrame({"image_id": [image_id], "path": [f"images/{image_id}.jpg"], "status": ["ok"]}).to_parquet(
        root / "images.parquet")
    pd.DataFrame({"image_id": [image_id], "camera_id": ["c1"], "class_name": ["dome"], "x1": [100.0], "y1": [100.0],
                  "x2": [112.0], "y2": [112.0]}).to_parquet(root / "truth_boxes.parquet")
    pd.DataFrame({"image_id": [image_id] * 3, "x1": [100.0, 400.0, 500.0], "y1": [100.0, 500.0, 50.0],
                  "x2": [112.0, 420.0, 510.0], "y2": [112.0, 520.0, 60.0], "conf": [0.9, 0.6, 0.05],
                  "class_id": [1, 0, 0], "class_name": ["dome", "directed", "directed"],
                  "model_id": ["m"] * 3}).to_parquet(root / "detections" / "part-000000.parquet")
    (root / "survey.toml").write_text('[survey]\narea = "demo"\n')


def test_dataset_synth_mines_false_positives_of_a_survey(tmp_path, capsys):
    survey = tmp_path / "survey"
    _fake_survey(survey)
    out = tmp_path / "synth"
    assert main(["dataset", "synth", "--area", "demo", "--views", "3", "--tile", "160", "--away", "0",
                 "--mine", str(survey), "--mine-conf", "0.1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "mined 1 false-positive crops" in captured.err and "mined 1" in captured.out
    mined = sorted((out / "labels" / "train").glob("m0_*.txt"))
    assert len(mined) == 1 and mined[0].read_text() == ""  # the 0.6 false box, far from the camera; 0.05 too weak
    # a survey of a held-out area may not be mined
    (survey / "survey.toml").write_text(f'[survey]\narea = "{_test_pbf()}"\n')
    assert main(["dataset", "synth", "--area", "demo", "--val-area", _test_pbf(), "--views", "3", "--tile", "160",
                 "--mine", str(survey), "--out", str(tmp_path / "again")]) == 2
    assert "held out" in capsys.readouterr().err


def test_balance_classes_mirrors_crops_of_the_rarer_class(tmp_path):
    import numpy as np
    import pandas as pd

    from detector.yolo_dataset import BOX_COLUMNS, boxes_from_label_file, write_example
    from scripts.synthesis.dataset import balance_classes

    image = np.zeros((100, 100, 3), np.uint8)
    for i in range(3):
        write_example(tmp_path, "train", f"dir{i}", image, pd.DataFrame([("directed", 10, 10, 20, 20)],
                                                                         columns=BOX_COLUMNS))
    for i in range(2):
        write_example(tmp_path, "train", f"dome{i}", image, pd.DataFrame([("dome", 10, 40, 30, 50)],
                                                                         columns=BOX_COLUMNS))
    assert balance_classes(tmp_path, "train") == {"directed": 0, "dome": 1}  # 3 directed vs 2 + 1 domes
    mirrors = sorted((tmp_path / "labels" / "train").glob("*_mirror.txt"))
    assert len(mirrors) == 1
    back = boxes_from_label_file(mirrors[0], 100, 100)
    np.testing.assert_allclose(back[["x1", "y1", "x2", "y2"]].to_numpy()[0], [70, 40, 90, 50], atol=1e-4)
    assert balance_classes(tmp_path, "train") == {"directed": 0, "dome": 0}  # already balanced: nothing more
