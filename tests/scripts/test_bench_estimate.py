"""scripts/bench/estimate.py at a tiny size: the generated survey goes through estimate_survey end to
end, and the bench reports its stages and the budget."""

from scripts.bench import estimate as bench


def test_tiny_bench_runs_every_stage(tmp_path, capsys):
    code = bench.main(["--views", "600", "--detections", "3000", "--keep", str(tmp_path / "survey")])
    out = capsys.readouterr().out
    assert code == 0, out  # far under the 45 s budget
    timings = next(line for line in out.splitlines() if line.startswith("timings:"))
    assert all(stage in timings for stage in ("locate_s", "estimate_s", "export_s"))
    assert "generated: 600 views, 3,000 detections" in out
    assert (tmp_path / "survey" / "survey.gpkg").is_file() and (tmp_path / "survey" / "density.png").is_file()
