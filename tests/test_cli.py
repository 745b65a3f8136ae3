"""The CLI as people meet it: --version, -h, the commands in the order of work with one-line
summaries, one name for one thing (--dtype, --device, --sides), each default stated once, and
options checked before anything is loaded or written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.app import COMMAND_ORDER
from scripts.cli import app, main

REPO = Path(__file__).resolve().parents[1]


def help_text(*args: str, columns: int = 120) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": str(columns)}, terminal_width=columns)
    assert result.exit_code == 0, result.output
    return result.output


def command_rows(text: str) -> list[str]:
    """The rows of the help's command panels: '│ name  summary │'."""
    return [line for line in text.splitlines() if re.match(r"^│ [a-z]", line)]


def test_version_and_short_help(capsys):
    assert main(["--version"]) == 0
    assert re.fullmatch(r"camcensus \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)
    assert main(["-h"]) == 0 and "Usage: camcensus" in capsys.readouterr().out
    assert main(["plan", "-h"]) == 0 and "--target-ci" in capsys.readouterr().out


def test_commands_in_the_order_of_work_one_line_each_at_120_columns():
    rows = command_rows(help_text(columns=120))
    names = [row.split()[1] for row in rows if not row.startswith("│  ")]
    assert names == list(COMMAND_ORDER)
    assert len(rows) == len(COMMAND_ORDER)  # no summary wraps to a second line


def test_help_is_readable_at_80_columns():
    text = help_text(columns=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert len(command_rows(text)) == len(COMMAND_ORDER)  # one line each at 80 columns too
    assert len(command_rows(help_text("dataset", columns=80))) == 5


def all_commands():
    import typer

    found = []

    def walk(prefix, command):
        for name, sub in getattr(command, "commands", {}).items():
            walk(f"{prefix} {name}".strip(), sub)
        if not hasattr(command, "commands"):
            found.append((prefix, command))

    walk("", typer.main.get_command(app))
    return found


def test_flags_show_no_value_placeholder_and_defaults_are_stated_once():
    for command in ("survey", "detect", "train", "fetch", "plan", "estimate", "sample", "dataset synth"):
        assert "<bool>" not in help_text(*command.split()), command
    twice = []
    for name, command in all_commands():
        for param in command.params:
            shown = param.default is not None and param.default is not False and param.show_default is not False
            is_option = getattr(param, "param_type_name", "") == "option"
            if is_option and shown and re.search(r"\bDefault\b", param.help or ""):
                twice.append(f"{name} {param.opts[0]}")
    assert twice == []


@pytest.mark.parametrize("command, dtypes", [("detect", "fp16"), ("train", "bf16"), ("export", "fp16")])
def test_number_formats_are_dtype(command, dtypes):
    text = help_text(command)
    assert "--dtype" in text and dtypes in text
    assert "--precision" not in text  # precision is a detector statistic only


def test_precision_is_only_a_detector_statistic():
    for name, command in all_commands():
        for param in command.params:
            if "--precision" in getattr(param, "opts", ()):
                assert "0-1" in param.help and "fp32" not in param.help, name
    assert "--dtype" in help_text("survey") and "bf16" in help_text("survey")


def test_one_device_syntax(monkeypatch, capsys):
    import torch

    from scripts.commands.vocabulary import device_from_option, torch_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [device_from_option(d) for d in ("auto", "cpu", "0", "0,1", "cuda", "cuda:1", " CUDA:0 ")] == [
        "auto", "cpu", "0", "0,1", "0", "1", "0"]
    assert torch_device("1") == "cuda:1" and torch_device("0,1", several=True) == "cuda"
    assert main(["detect", "nowhere", "--device", "gpu0"]) == 2
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    capsys.readouterr()
    assert main(["detect", "nowhere", "--device", "cuda:0"]) == 2  # said before any work
    assert "no CUDA GPU" in capsys.readouterr().err


def test_one_sides_vocabulary():
    for command in ("sample", "survey", "plan"):
        text = help_text(command)
        assert all(word in text for word in ("both", "left", "right", "random")), command


def test_survey_passes_every_stage_option_through():
    text = help_text("survey")
    for option in ("--provider", "--images", "--manifest", "--style", "--key", "--token", "--rate",
                   "--along", "--min-gap", "--iou", "--dtype", "--device"):
        assert option in text, option
    assert "the card's" in text.split("--imgsz")[1][:200]


@pytest.mark.parametrize("args, words", [
    (["--provider", "bogus"], "--provider"),
    (["--spacing", "-5", "--area", "missing.osm.pbf"], "--spacing"),  # options first, then the area
    (["--area", "missing.osm.pbf"], "not found"),
    (["--device", "gpu"], "--device"),
    (["--conf", "2"], "--conf"),
    (["--by", "h3:99"], "h3"),
    (["--provider", "local"], "--images"),
    (["--slice", "x"], "--slice"),
    (["--style", "neon"], "--style"),
])
def test_a_failed_survey_leaves_nothing_behind(tmp_path, args, words, capsys):
    out = tmp_path / "s"
    assert main(["survey", "--out", str(out), *args]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], lines
    assert not out.exists()  # no survey.toml, no directory


def test_the_installed_command_leaves_no_settings_after_a_bad_provider(tmp_path):
    out = tmp_path / "s"
    run = subprocess.run([sys.executable, "-m", "scripts.cli", "survey", "--out", str(out), "--provider", "bogus"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "--provider" in run.stderr
    assert not (out / "survey.toml").exists() and not out.exists()


def test_a_bad_option_in_an_existing_survey_keeps_its_settings(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "survey.toml").write_text('[survey]\nprovider = "simulated"\n')
    assert main(["survey", "--out", str(out), "--provider", "bogus"]) == 2
    assert (out / "survey.toml").read_text() == '[survey]\nprovider = "simulated"\n'


def test_sample_checks_options_before_the_area(tmp_path, capsys):
    assert main(["sample", "--out", str(tmp_path / "s"), "--area", "missing.osm.pbf", "--spacing", "-5"]) == 2
    assert "--spacing" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["sample", "--spacing", "abc"], "--spacing"),
    (["info"], "Missing argument"),
    (["detect", "x", "--precision", "fp16"], "--dtype"),
    (["bogus"], "No such command"),
])
def test_usage_errors_are_one_line(args, words, capsys):
    assert main(args) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0] and "-h`" in lines[0]


def test_credentials_are_never_written_to_survey_toml(tmp_path):
    from scripts.survey.options import SurveyOptions, options_from_toml, options_to_toml

    options = SurveyOptions(provider="gsv", key="SECRET-KEY", token="SECRET-TOKEN", along=True, style="alt")
    path = options_to_toml(options, tmp_path / "survey.toml")
    text = path.read_text()
    assert "SECRET" not in text and "key" not in text.split("[survey]")[1]
    again = options_from_toml(path)
    assert (again.along, again.style, again.key) == (True, "alt", None)
