"""kill -9 of a running detect job, then the same job again, gives exactly the rows of an
uninterrupted run: no duplicates, nothing lost, images without detections included."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pandas as pd

from detector.detect import detect_images
from detector.engine import read_detections
from tests.detector.conftest import TINY_IMGSZ, DrawnObject, object_image

REPO = Path(__file__).resolve().parents[2]
N_IMAGES, BATCH = 48, 2
JOB = """
import sys
from detector.detect import detect_images
detect_images(sys.argv[1], model=sys.argv[2], out=sys.argv[3], batch={batch}, imgsz={imgsz},
              part_images={batch}, workers=1, streams=1, progress=False)
"""


def write_images(folder: Path) -> None:
    folder.mkdir()
    for i in range(N_IMAGES):
        objects = (
            []
            if i % 5 == 0
            else [DrawnObject(i % 2, 40 + (i * 7) % 100, 60 + (i * 3) % 60, 30 + i % 20)]
        )
        cv2.imwrite(
            str(folder / f"img{i:03d}.jpg"), object_image(192, 160, objects, noise=6, seed=i)
        )


def sorted_rows(out: Path) -> pd.DataFrame:
    rows = read_detections(out)
    return rows.sort_values(["image_id", "conf", "x1"], ascending=[True, False, True]).reset_index(
        drop=True
    )


def test_killed_then_resumed_equals_uninterrupted(tiny_model, tmp_path):
    images = tmp_path / "images"
    write_images(images)
    reference = detect_images(
        images,
        model=tiny_model,
        out=tmp_path / "full",
        batch=BATCH,
        imgsz=TINY_IMGSZ,
        part_images=BATCH,
        workers=1,
        streams=1,
        progress=False,
    )
    assert reference["ok"] == N_IMAGES

    out = tmp_path / "killed"
    job = JOB.format(batch=BATCH, imgsz=TINY_IMGSZ)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", job, str(images), str(tiny_model), str(out)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    parts_dir = out / "detections"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if parts_dir.is_dir() and len(list(parts_dir.glob("part-*.parquet"))) >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"the job ended before it could be killed: {proc.stderr.read()!r}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    n_parts = len(list(parts_dir.glob("part-*.parquet")))
    assert 3 <= n_parts < N_IMAGES // BATCH  # really interrupted midway

    resumed = detect_images(
        images,
        model=tiny_model,
        out=out,
        batch=BATCH,
        imgsz=TINY_IMGSZ,
        part_images=BATCH,
        workers=1,
        streams=1,
        progress=False,
    )
    assert resumed["ok"] == N_IMAGES and resumed["failed"] == 0
    assert 0 < resumed["processed_this_run"] <= N_IMAGES - 2 * n_parts
    assert not list(parts_dir.glob(".part-*"))  # no temp files left

    got, want = sorted_rows(out), sorted_rows(tmp_path / "full")
    assert not got.duplicated().any()
    assert resumed["detections"] == reference["detections"] == len(want) > N_IMAGES // 2
    pd.testing.assert_frame_equal(got, want, check_exact=True)
