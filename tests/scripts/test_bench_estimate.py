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


def test_baselines_and_the_branch_are_timed_alike_in_one_run(tmp_path, capsys):
    """--baseline-root (repeatable) times each checkout in a fresh subprocess on a fresh copy of
    the same survey, and then this checkout the same way; each prints its estimate."""
    root = str(bench.ROOT)
    code = bench.main(["--views", "600", "--detections", "3000", "--baseline-root", root, "--baseline-root", root])
    out = capsys.readouterr().out
    assert code == 0, out
    estimates = [line.split("estimate: ", 1)[1] for line in out.splitlines() if " estimate: cameras located" in line]
    assert len(estimates) == 3 and len(set(estimates)) == 1  # two baselines and the after: the same estimate
    assert out.count("faster (one run)") == 2 and "after timings:" in out


def test_rounds_interleave_the_baseline_and_the_branch(tmp_path, capsys):
    """--rounds N times the baselines and this checkout N times in turn: a ratio per round, and
    each checkout's times with their best and median."""
    root = str(bench.ROOT)
    code = bench.main(["--views", "600", "--detections", "3000", "--baseline-root", root, "--rounds", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("faster (one run)") == 2 and "round 2: before" in out
    summary = [line for line in out.splitlines() if "; best " in line]
    assert len(summary) == 2 and all(line.count(",") >= 2 for line in summary)  # two times each, best, median
    assert "after: median" in out
