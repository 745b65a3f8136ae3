"""`camcensus evaluate` reports and leaves models/ alone; `--update-card` changes a card only on the
held-out set it names (or with --new-held-out), and the card keeps its earlier evaluations."""

import hashlib
import shutil
from pathlib import Path

import pytest

from detector.card import ModelCard, archive_evaluation, read_card, write_card
from detector.held_out import card_update_problem, held_out_from_split
from detector.registry import DEFAULT_MODEL
from scripts.cli import main
from tests.detector.conftest import object_dataset

REPO = Path(__file__).resolve().parents[2]


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped model and its card as the models directory; cwd is a scratch folder."""
    folder = tmp_path / "models"
    folder.mkdir()
    for suffix in (".pt", ".md"):
        shutil.copyfile(REPO / "models" / f"{DEFAULT_MODEL}{suffix}", folder / f"{DEFAULT_MODEL}{suffix}")
    monkeypatch.setenv("CAMCENSUS_MODELS_DIR", str(folder))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return folder


def tiny_data(root: Path, seed: int) -> Path:
    return object_dataset(root, n_train=1, n_val=3, size=160, seed=seed)


def test_evaluate_by_name_is_a_report_and_leaves_models_byte_identical(models, tmp_path, capsys):
    data = tiny_data(tmp_path / "data", 1)
    before = tree_digest(models)
    assert main(["evaluate", "--model", DEFAULT_MODEL, "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "AP50" in out and "nothing written" in out
    assert tree_digest(models) == before
    assert main(["evaluate", "--model", DEFAULT_MODEL, "--data", str(data), "--json", "figures.json",
                 "--plot", "pr.png"]) == 0
    assert tree_digest(models) == before
    assert Path("figures.json").is_file() and Path("pr.png").is_file()  # under the current directory
    assert main(["evaluate", "--data", str(data), "--json", str(models / "x.json")]) == 2  # never into models/
    assert "inside the models directory" in capsys.readouterr().err
    assert tree_digest(models) == before


def test_update_card_only_on_its_held_out_set_and_keeps_history(models, tmp_path, capsys):
    card_path = models / f"{DEFAULT_MODEL}.md"
    shipped = read_card(card_path)
    own, other = tiny_data(tmp_path / "own", 1), tiny_data(tmp_path / "other", 2)
    before = tree_digest(models)

    # The shipped card names its set in words only: a plain --update-card is refused, nothing changes.
    assert main(["evaluate", "--data", str(own), "--update-card"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--new-held-out" in err
    assert tree_digest(models) == before

    # --new-held-out: the data becomes its held-out set; the shipped figures go to the history.
    assert main(["evaluate", "--data", str(own), "--update-card", "--new-held-out"]) == 0
    card = read_card(card_path)
    identity = held_out_from_split(own, "val")
    assert card.held_out["fingerprint"] == identity["fingerprint"] and card.held_out["n_images"] == 3
    assert card.held_out["changed"] == "--new-held-out"
    assert card.held_out["previous"]["description"] == shipped.evaluated_on
    h = len(shipped.history)  # the shipped card's earlier evaluations stay first
    assert len(card.history) == h + 1 and card.history[h]["conf"] == shipped.conf
    assert card.history[h]["calibration"] == shipped.calibration
    assert card.history[h]["precision"] == shipped.precision
    assert card.body.count("## Earlier evaluations") == 1 and "held-out set changed" in card.body
    capsys.readouterr()

    # Other data: refused with one line, the card byte-identical.
    updated = tree_digest(models)
    assert main(["evaluate", "--data", str(other), "--update-card"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not the held-out set" in err
    assert tree_digest(models) == updated

    # The same set again (moved elsewhere: names and sizes make its identity): updated, history kept.
    moved = tmp_path / "moved"
    shutil.copytree(own.parent, moved)
    (moved / "data.yaml").write_text((moved / "data.yaml").read_text().replace(str(own.parent.resolve()),
                                                                              str(moved.resolve())))
    assert main(["evaluate", "--data", str(moved / "data.yaml"), "--update-card"]) == 0
    card = read_card(card_path)
    assert len(card.history) == h + 2 and card.history[h]["conf"] == shipped.conf
    assert card.history[h + 1]["reason"] == "re-evaluated on the same held-out set"
    assert card.body.count("## Earlier evaluations") == 1 and card.body.count("## Evaluation\n") == 1
    assert card.held_out["fingerprint"] == identity["fingerprint"]


def test_fingerprint_follows_files_not_folders(tmp_path):
    data = tiny_data(tmp_path / "a", 3)
    first = held_out_from_split(data, "val")
    copy = tmp_path / "b"
    shutil.copytree(data.parent, copy)
    (copy / "data.yaml").write_text(f"path: {copy}\ntrain: images/train\nval: images/val\n"
                                    "names:\n  0: dome\n  1: directed\n")
    assert held_out_from_split(copy / "data.yaml", "val")["fingerprint"] == first["fingerprint"]
    label = sorted((copy / "labels" / "val").glob("*.txt"))[0]
    label.write_text(label.read_text() + "0 0.5 0.5 0.1 0.1\n")  # another truth: another set
    assert held_out_from_split(copy / "data.yaml", "val")["fingerprint"] != first["fingerprint"]


def test_card_rules_and_history_round_trip(tmp_path):
    fresh = ModelCard(name="m", weights="m.pt")
    identity = {"fingerprint": "sha256:aa", "n_images": 3, "data": "d.yaml", "split": "val"}
    assert card_update_problem(fresh, identity) is None  # a card fresh from training takes its first set
    card = ModelCard(name="m", weights="m.pt", conf=0.5, precision=0.8, recall=0.6,
                     held_out={"fingerprint": "sha256:aa", "n_images": 3}, body="# m\n")
    assert card_update_problem(card, identity) is None
    other = {**identity, "fingerprint": "sha256:bb"}
    assert "not the held-out set" in card_update_problem(card, other)
    assert card_update_problem(card, other, new_held_out=True) is None
    archive_evaluation(card, reason="test")
    archive_evaluation(card, reason="again")
    write_card(card, tmp_path / "m.md")
    back = read_card(tmp_path / "m.md")
    assert [h["reason"] for h in back.history] == ["test", "again"] and back.history[0]["precision"] == 0.8
    assert back.body.count("<!-- history -->") == 1 and back.body.startswith("# m")
