"""`camcensus fetch` and `camcensus dataset stanford` in-process against local API servers."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from scripts.cli import main
from tests.geo.imagery.test_fetch_servers import (
    HELSINKI,
    KEY,
    TOKEN,
    FakeMapillary,
    FakeStreetView,
    files_containing,
    jpeg_bytes,
    offset,
    server,
    write_views,
)

__all__ = ["server"]
FAST = ["--rate", "0", "--retries", "1", "--backoff", "0.001", "--timeout", "2", "--size", "64"]


def _survey(tmp_path, n=2):
    survey = tmp_path / "survey"
    points = [offset(*HELSINKI, east_m=300 * i) for i in range(n)]
    write_views(survey, [{"view_id": f"{i}_left", "lon": lon, "lat": lat, "heading": 90.0}
                         for i, (lon, lat) in enumerate(points)])
    return survey, points


def test_fetch_gsv_with_key_from_the_environment(server, tmp_path, capfd, monkeypatch):
    gsv = FakeStreetView(server)
    survey, points = _survey(tmp_path)
    gsv.add_pano("PANO_0", *points[0])
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    code = main(["fetch", str(survey), "--provider", "gsv", "--endpoint", gsv.endpoint, *FAST])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "ok: 1  no_imagery: 1  error: 0" in out
    assert KEY not in out + err and not files_containing(survey, KEY)
    table = pd.read_parquet(survey / "images.parquet")
    assert table["provider"].eq("gsv").all() and table["view_id"].tolist() == ["0_left", "1_left"]


def test_fetch_mapillary_with_token_option(server, tmp_path, capfd):
    mly = FakeMapillary(server)
    survey, points = _survey(tmp_path)
    mly.add_image("77", *offset(*points[1], north_m=4), compass=80.0)
    code = main(["fetch", str(survey), "--provider", "mapillary", "--endpoint", mly.endpoint,
                 "--token", TOKEN, "--radius", "15", *FAST])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "ok: 1  no_imagery: 1  error: 0" in out
    assert TOKEN not in out + err and not files_containing(survey, TOKEN)


def test_fetch_local_as_is(tmp_path, capfd):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(jpeg_bytes(32, 24))
    pd.DataFrame({"path": ["a.jpg"], "lon": [24.9], "lat": [60.1], "heading": [10.0]}).to_csv(
        tmp_path / "m.csv", index=False)
    survey = tmp_path / "survey"
    code = main(["fetch", str(survey), "--provider", "local", "--images", str(photos),
                 "--manifest", str(tmp_path / "m.csv"), "--as-is"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "ok: 1" in out and (survey / "views.parquet").is_file()
    assert (survey / "images" / "a.jpg").read_bytes() == (photos / "a.jpg").read_bytes()


def test_bad_input_is_one_line_and_exit_2(tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("GOOGLE_MAPS_API_KEY", raising=False)
    survey, _ = _survey(tmp_path)
    assert main(["fetch", str(survey), "--provider", "street"]) == 2
    assert "unknown --provider 'street'" in capfd.readouterr().err
    assert main(["fetch", str(survey), "--provider", "gsv"]) == 2
    err = capfd.readouterr().err
    assert "API key" in err and len(err.strip().splitlines()) == 1
    assert main(["fetch", str(tmp_path / "empty"), "--provider", "simulated"]) == 2
    assert "views.parquet" in capfd.readouterr().err


META = '''annotations,split,image_id,panoid,heading,gsv_image_path
"[{'category_id': 0, 'bbox': [511, 172, 516, 180], 'bbox_mode': 0, 'segmentation': []}]",train,1,nEOdMbry0GAKtuxaZltq1A,176,../data/image/nEOdMbry0GAKtuxaZltq1A_176.jpg
"[{'category_id': 1, 'bbox': [300, 220, 312, 232], 'bbox_mode': 0, 'segmentation': []}]",valid,2,GYi2vJIcAYT2DX-dt00tfA,110,../data/image/GYi2vJIcAYT2DX-dt00tfA_110.jpg
[],valid,3,GONEpano,5,../data/image/GONEpano_5.jpg
'''


def test_dataset_stanford_against_a_local_street_view(server, tmp_path, capfd):
    gsv = FakeStreetView(server)
    gsv.add_pano("nEOdMbry0GAKtuxaZltq1A", *HELSINKI)
    gsv.add_pano("GYi2vJIcAYT2DX-dt00tfA", *HELSINKI)
    gsv.faults["GYi2vJIcAYT2DX-dt00tfA"] = ["500", "500"]  # fails this run (2 tries)
    meta = tmp_path / "meta.csv"
    meta.write_text(META)
    out = tmp_path / "stanford"
    args = ["dataset", "stanford", "--key", KEY, "--out", str(out), "--endpoint", gsv.endpoint,
            "--meta", str(meta), "--rate", "0", "--retries", "1", "--backoff", "0.001"]
    assert main(args) == 0
    first, err = capfd.readouterr()
    assert "ok: 1  no_imagery: 1  error: 1" in first
    assert main(args) == 0  # the rerun gets the panorama that failed, and only it
    second, err2 = capfd.readouterr()
    assert "images: train 1  val 1  boxes: directed 1  dome 1  missing images: 1" in second
    requested = [(a["pano"], a["heading"], a["fov"], a["pitch"], a["size"])
                 for a in gsv.image_requests() if "GYi" not in a["pano"]]
    assert requested == [("nEOdMbry0GAKtuxaZltq1A", "176", "90", "0", "640x640")]
    assert yaml.safe_load((out / "data.yaml").read_text())["names"] == {0: "directed", 1: "dome"}
    # checked by hand: Stanford directed (0) -> 0, dome (1) -> 1, 640 px images
    train = (out / "labels/train/nEOdMbry0GAKtuxaZltq1A_176.txt").read_text().split()
    assert [float(v) for v in train] == pytest.approx([0, 0.80234375, 0.275, 0.0078125, 0.0125])
    val = (out / "labels/val/GYi2vJIcAYT2DX-dt00tfA_110.txt").read_text().split()
    assert [float(v) for v in val] == pytest.approx([1, 306 / 640, 226 / 640, 12 / 640, 12 / 640])
    assert KEY not in first + second + err + err2 and not files_containing(out, KEY)


def test_dataset_stanford_needs_a_meta_file(tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["dataset", "stanford", "--key", "k", "--out", str(tmp_path / "o")]) == 2
    assert "meta.csv not found" in capfd.readouterr().err
