"""The README is a user's guide: under 400 lines, no development notes, and every command in it
names options its command has (the fast ones are run)."""

import re
import shlex
from pathlib import Path

import pytest
import typer

from scripts.cli import app, main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[list[str]]:
    """Every `camcensus ...` line of the README's bash blocks, as arguments (comments dropped)."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("camcensus "):
                found.append(shlex.split(line)[1:])
    return found


def command_for(args: list[str]):
    command, rest = typer.main.get_command(app), list(args)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command


def test_readme_is_a_short_users_guide():
    assert len(README.splitlines()) < 400
    machine_paths = ["/" + root + "/" for root in ("work", "home", "root")]  # no path of a developer's machine
    for note in ("issue ", "this session", "2-core machine", "on this machine", *machine_paths):
        assert note not in README, note
    assert "survey-demo/map.html" in README.split("## Next steps")[0]  # the quick start says to open it
    order = [README.index(f"camcensus {c}") for c in ("plan ", "survey --area city", "review ", "compare-osm ",
                                                      "info ")]
    assert order == sorted(order)  # next steps in the order a user works


def test_every_readme_command_uses_options_it_has():
    commands = readme_commands()
    assert len(commands) >= 20
    problems = []
    for args in commands:
        command = command_for(args)
        known = {opt for param in command.params for opt in param.opts + param.secondary_opts}
        known |= {"-h", "--help"}
        for token in args:
            if token.startswith("-") and token.split("=")[0] not in known:
                problems.append(f"camcensus {' '.join(args)}: {token}")
    assert problems == []


def test_every_docs_link_of_the_readme_exists_or_is_indexed():
    for link in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (REPO / link).exists() or link == "docs/index.md", link
    index = (REPO / "docs" / "index.md").read_text()
    for page in ("how-the-estimate-works.md", "estimator.md", "validation.md", "detector.md", "review.md",
                 "unseen-imagery.md"):
        assert page in index


@pytest.mark.parametrize("args", [a for a in readme_commands() if a[0] == "plan" and "--no-measure" in a])
def test_the_readme_plans_run_and_reach_their_target(args, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "recommended" in out.lower() and "no design" not in out.lower()
