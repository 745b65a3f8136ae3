"""`camcensus dataset synth` for small cameras (issue 21): zoom-out crops, small hard negatives,
photometric randomization, truth ranges for reach, the held-out style on the same val views."""

import numpy as np
import pandas as pd

from scripts.cli import main


def _test_pbf() -> str:
    import pyrosm

    return pyrosm.get_data("test_pbf")


def test_synth_small_crops_ranges_and_the_style_on_the_same_val_views(tmp_path, capsys):
    from detector.yolo_dataset import boxes_from_label_file

    out = tmp_path / "synth"
    common = ["dataset", "synth", "--area", "demo", "--val-area", _test_pbf(), "--sim-cameras", "random:20",
              "--sim-cameras", "random:30:5", "--views", "24", "--val-fraction", "0.5", "--tile", "160",
              "--away", "0", "--min-positive", "1", "--seed", "4"]
    assert main([*common, "--small", "2", "--small-px", "5:10", "--small-decoys", "1", "--photometric", "1",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "small " in printed and "small_decoy" in printed
    small = sorted((out / "labels" / "train").glob("*_z*.txt"))
    assert small, "no zoom-out crops written"
    sides = pd.concat([boxes_from_label_file(p, 160, 160) for p in small])
    sides = np.sqrt((sides.x2 - sides.x1) * (sides.y2 - sides.y1))
    assert np.median(sides) < 16 and sides.min() >= 3 - 1e-6  # shrunk, never under the renderer's floor
    assert list((out / "labels" / "train").glob("*_y*.txt")), "no small hard negatives written"
    ranges = pd.read_csv(out / "truth_ranges.csv")
    val_boxes = sum(len(p.read_text().splitlines()) for p in (out / "labels" / "val").glob("*.txt"))
    assert len(ranges) == val_boxes > 0 and (ranges.range_m > 0).all()
    assert set(ranges.image) <= {p.stem for p in (out / "images" / "val").glob("*.jpg")}

    alt = tmp_path / "alt"
    assert main([*common, "--style", "alt", "--val-only", "--out", str(alt)]) == 0
    assert not list((alt / "images" / "train").glob("*.jpg"))
    names = sorted(p.name for p in (out / "images" / "val").glob("*.jpg"))
    assert names == sorted(p.name for p in (alt / "images" / "val").glob("*.jpg"))
    import cv2

    a, b = (cv2.imread(str(d / "images" / "val" / names[0])).astype(int) for d in (out, alt))
    assert np.abs(a - b).mean() > 10  # the same view, another look
    assert main([*common, "--style", "neon", "--out", str(tmp_path / "bad")]) == 2
    assert "--style" in capsys.readouterr().err
    assert main([*common, "--small-px", "9:5", "--out", str(tmp_path / "bad2")]) == 2


def test_training_synthesis_refuses_the_held_out_look_and_mixes_the_random_look(tmp_path, capsys):
    out = tmp_path / "rnd"
    common = ["dataset", "synth", "--area", "demo", "--val-area", _test_pbf(), "--sim-cameras", "random:20",
              "--sim-cameras", "random:30:5", "--views", "12", "--val-fraction", "0.25", "--tile", "160",
              "--away", "0", "--min-positive", "1", "--seed", "5"]
    assert main([*common, "--style", "alt", "--out", str(tmp_path / "alt-train")]) == 2
    assert "held out" in capsys.readouterr().err
    assert not (tmp_path / "alt-train" / "images").exists()
    assert main([*common, "--random-look", "1", "--photometric", "1", "--out", str(out)]) == 0
    manifest = pd.read_csv(out / "manifest.csv")
    assert set(manifest[manifest.split == "train"]["style"]) == {"random"}
    assert set(manifest[manifest.split == "val"]["style"]) == {"default"}
    assert "random look" in (out / "data.yaml").read_text()


def test_synthesis_with_the_wider_randomization_records_it_and_refuses_to_mix(tmp_path, capsys):
    """--randomization 2 (issue 28): train views in the wider random look with the wider jitter; the
    dataset records its version and a resume with another version is refused."""
    out = tmp_path / "wide"
    common = ["dataset", "synth", "--area", "demo", "--val-area", _test_pbf(), "--sim-cameras", "random:20",
              "--sim-cameras", "random:30:5", "--views", "8", "--val-fraction", "0.25", "--tile", "160",
              "--away", "0", "--min-positive", "1", "--seed", "6", "--random-look", "1", "--photometric", "1"]
    assert main([*common, "--randomization", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--randomization must be 1" in err and len(err.strip().splitlines()) == 1
    assert main([*common, "--randomization", "2", "--out", str(out)]) == 0
    manifest = pd.read_csv(out / "manifest.csv")
    assert set(manifest[manifest.split == "train"]["style"]) == {"random"}
    assert set(manifest["randomization"]) == {2}
    assert "randomization version 2" in (out / "data.yaml").read_text()
    assert main([*common, "--out", str(out)]) == 2  # resuming it as version 1 would mix two looks
    assert "--randomization 2" in capsys.readouterr().err
    assert main([*common, "--randomization", "2", "--out", str(out)]) == 0  # the same version resumes


def test_wider_photometric_jitter_keeps_the_geometry_and_varies_the_look():
    from scripts.synthesis.photometric import photometric_jitter_wide
    from detector.look import look_features

    image = np.zeros((96, 128, 3), np.uint8)
    image[:, :64] = (60, 120, 200)
    image[30:60, 70:100] = 240
    outs = [photometric_jitter_wide(image, np.random.default_rng(s)) for s in range(40)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
    assert np.array_equal(photometric_jitter_wide(image, np.random.default_rng(3)), outs[3])
    feats = pd.DataFrame([look_features(o) for o in outs])
    assert feats.noise.max() > 4 * max(feats.noise.min(), 0.2) and np.ptp(feats.brightness) > 40
    assert np.ptp(feats.cast_rb) > 0.3 and feats.blockiness.max() > 1.2
