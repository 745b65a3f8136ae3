"""scripts/validation/race.py (issue 21): the race table, its budget and the style comparison, on generated results."""

import json

import pytest

from scripts.validation import race


def _scores(name, *, ap50, bands, reach=None, false=0.01, ms=60.0):
    return {"name": name, "imgsz": 640, "ap50": ap50, "ap50_any_class": ap50, "conf": 0.5,
            "by_size": [{"lo_px": lo, "hi_px": hi, "n": n, "found": f} for lo, hi, n, f in bands],
            "false_per_image": false, "cpu_ms_per_image": ms, "reach": {"reach_m": reach or {}}}


BANDS = [(0.0, 6.0, 10, 0), (6.0, 8.0, 4, 1), (8.0, 12.0, 10, 6), (12.0, 16.0, 10, 9), (16.0, 24.0, 5, 5),
         (24.0, 100000.0, 5, 5)]


def test_row_merges_size_bands_and_reads_reach():
    row = race.row_from_scores(_scores("a", ap50=0.8, bands=BANDS, reach={"directed": 16.2, "dome": 11.0}))
    assert row["recall 6-8"] == 0.25
    assert row["recall 8-16"] == pytest.approx(15 / 20)
    assert row["recall >16"] == 1.0
    assert row["reach directed m"] == 16.2 and row["reach dome m"] == 11.0
    empty = race.row_from_scores(_scores("b", ap50=None, bands=[]))
    assert empty["recall 6-8"] is None and empty["reach dome m"] is None


def test_table_sorts_by_ap50_and_formats_missing_values():
    rows = [race.row_from_scores(_scores(n, ap50=a, bands=BANDS)) for n, a in (("low", 0.5), ("none", None),
                                                                                 ("high", 0.9))]
    text = race.table_from_rows(rows)
    lines = text.strip().splitlines()
    assert lines[0].startswith("| name | imgsz | ap50")
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["high", "low", "none"]
    assert "| - |" in lines[-1] and "0.900" in lines[2] and "60.0" in lines[2]
    assert race.table_from_rows([]) == "(no results yet)\n"


def test_write_table_reads_results_and_epochs(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "results" / "x.json").write_text(json.dumps(_scores("x", ap50=0.7, bands=BANDS)))
    (tmp_path / "results" / "x.timing.json").write_text("{}")
    (tmp_path / "models" / "x.md").write_text("---\nname: x\nextra:\n  epochs: 3\n---\n# x\n")
    text = race.write_table(tmp_path)
    assert (tmp_path / "race.md").read_text() == text
    assert text.count("\n") == 3 and text.strip().endswith("| 3 | - |")  # epochs, then no load recorded


def test_budget_is_fixed_once_and_shrinks_to_a_deadline(tmp_path, monkeypatch):
    import time

    now = time.struct_time((2026, 1, 1, 18, 0, 0, 0, 1, 0))
    monkeypatch.setattr(race.time, "gmtime", lambda *a: now)
    # 2 h to the deadline, minus 6 evaluations of 2.5 min = 105 min for 5 contenders: 21 min each
    hours = race.race_budget(tmp_path, hours=1.0, deadline="20:00", only=None)
    assert hours == pytest.approx(0.35, abs=1e-3)
    assert race.race_budget(tmp_path, hours=0.1, deadline="23:00", only=None) == hours  # fixed in budget.json
    assert race.race_budget(tmp_path / "other", hours=0.1, deadline="23:00", only=None) == 0.1
    with pytest.raises(SystemExit, match="not starting"):
        race.race_budget(tmp_path / "late", hours=0.1, deadline="18:10", only=None)


def test_style_table_gives_the_ratio_of_recall_at_8_px_and_up(tmp_path):
    for folder, found in (("results", (6, 9, 5, 5)), ("results-alt", (3, 6, 5, 2))):
        (tmp_path / folder).mkdir()
        bands = [(0.0, 6.0, 10, 0), (6.0, 8.0, 4, 1)] + [(lo, hi, n, f) for (lo, hi, n, _), f in
                                                         zip(BANDS[2:], found)]
        (tmp_path / folder / "m.json").write_text(json.dumps(_scores("m", ap50=0.7, bands=bands)))
    text = race.style_table(tmp_path)
    row = text.strip().splitlines()[-1]
    assert row.startswith("| m | 0.833 | 0.533 | 0.640 |")  # 25/30, 16/30
    assert race.recall_from_bands([]) is None
