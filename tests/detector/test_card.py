"""Model cards keep the shared calibration dict through a write and a read."""

import pytest

from detector.card import ModelCard, read_card, write_card
from detector.errors import DetectorInputError

CALIBRATION = {"source": "card", "conf_threshold": 0.3,
               "precision_bins": {"edges": [0.3, 0.5, 1.0], "n": [10, 20], "real": [6, 19]},
               "recall_bins": {"edges_px": [0, 6, 8, 12, 16, 24, 32, 64, 100000],
                               "n": [5, 4, 6, 7, 3, 2, 1, 0], "found": [1, 2, 5, 7, 3, 2, 1, 0]},
               "n_images": 400}


def test_calibration_round_trips(tmp_path):
    path = write_card(ModelCard(name="m", weights="m.pt", conf=0.3, calibration=CALIBRATION, body="# m\n"),
                      tmp_path / "m.md")
    card = read_card(path)
    assert card.calibration == CALIBRATION and card.conf == 0.3 and card.body.startswith("# m")
    assert "calibration:" in path.read_text()


def test_older_cards_have_no_calibration(tmp_path):
    (tmp_path / "old.md").write_text("---\nname: old\nweights: old.pt\nprecision: 0.5\n---\n\n# old\n")
    card = read_card(tmp_path / "old.md")
    assert card.calibration == {} and card.precision == 0.5
    (tmp_path / "bad.md").write_text("no front matter")
    with pytest.raises(DetectorInputError, match="no YAML front matter"):
        read_card(tmp_path / "bad.md")
