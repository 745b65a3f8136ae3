"""`camcensus models` shows each card's reach (issue 21) as directed/dome metres."""

import shutil
from pathlib import Path

from detector.card import read_card, write_card
from detector.registry import DEFAULT_MODEL
from scripts.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_models_lists_reach_from_the_card(tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("with", "without"):
        shutil.copyfile(REPO / "models" / f"{DEFAULT_MODEL}.pt", folder / f"{name}.pt")
        card = read_card(REPO / "models" / f"{DEFAULT_MODEL}.md")
        card.name, card.weights = name, f"{name}.pt"
        card.extra.pop("reach_m", None)
        if name == "with":
            card.extra["reach_m"] = {"directed": 17.8, "dome": None}
        write_card(card, folder / f"{name}.md")
    assert main(["models", "--models-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "reach m" in out.splitlines()[1]
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.split()}
    assert " 18/- " in rows["with"] and " - " in rows["without"]
