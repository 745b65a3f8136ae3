"""The identity of a held-out set, and whether a model card may take figures measured on a data set.

A card's figures (its operating threshold, precision, recall and calibration) are what every later
estimate believes, so ``camcensus evaluate --update-card`` changes them only on the held-out set
the card names. The card names it by ``held_out`` (front matter):

- ``fingerprint``: ``sha256:`` of the split's sorted lines ``image file name, image bytes, sha256
  of its label file`` (``-`` without one). File names and sizes, not paths, so the set can move or be
  rebuilt under another folder and still be recognised; label contents, so a changed truth is
  another set;
- ``n_images``, ``data`` (the data.yaml it was read from), ``split`` and ``description``, for people.

The rules (``card_update_problem``):
- a card fresh from training (no figures yet) takes its first evaluation, whose data becomes its
  held-out set;
- a card with figures takes new ones only on data with its fingerprint;
- ``--new-held-out`` makes the data the card's held-out set; the card records the change (the
  previous set's identity in ``held_out.previous``, its figures in the card's history). A card with
  figures but no fingerprint (cards written before fingerprints, such as the shipped
  cctv-yolo11n-synth2, whose set is described in words) gets its fingerprint that way, the first
  time its held-out set is evaluated again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from detector.card import ModelCard
from detector.errors import DetectorInputError
from detector.yolo_dataset import label_path_of, read_data_yaml

FINGERPRINT_METHOD = "sha256 of the split's sorted lines: image file name, image bytes, label sha256"


class CardUpdateRefused(DetectorInputError):
    """The data is not the held-out set the card names (one line, exit 2 from the CLI)."""


def held_out_from_split(data_yaml: str | Path, split: str) -> dict[str, Any]:
    """The identity of ``split`` of ``data_yaml``: fingerprint, n_images, data, split, description."""
    spec = read_data_yaml(data_yaml)
    if split not in spec.splits:
        raise DetectorInputError(f"{spec.yaml_path} has no split '{split}' (has {', '.join(spec.splits)})")
    images = spec.splits[split]
    lines = []
    for image in images:
        image = Path(image)
        label = label_path_of(image)
        label_hash = hashlib.sha256(label.read_bytes()).hexdigest() if label.is_file() else "-"
        lines.append(f"{image.name}\t{image.stat().st_size}\t{label_hash}")
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
    return {"fingerprint": f"sha256:{digest}", "n_images": len(images), "data": str(spec.yaml_path),
            "split": split, "description": _describe(spec.yaml_path, split), "method": FINGERPRINT_METHOD}


def card_update_problem(card: ModelCard | None, held_out: dict[str, Any], *, new_held_out: bool = False
                        ) -> str | None:
    """Why ``card`` may not take figures measured on ``held_out`` (one line), or None when it may."""
    if new_held_out or card is None or not card.has_figures:
        return None
    named = (card.held_out or {}).get("fingerprint")
    if named == held_out["fingerprint"]:
        return None
    data = f"{held_out['data']} ({held_out['split']} split, {held_out['n_images']} images, {_short(held_out)})"
    if not named:
        return (f"card {card.name} names its held-out set in words only ({card.evaluated_on or 'not recorded'}); "
                f"--update-card on {data} needs --new-held-out to make that data its held-out set")
    return (f"{data} is not the held-out set of card {card.name} ({card.held_out.get('n_images', '?')} images, "
            f"{_short(card.held_out)}, from {card.held_out.get('data', '?')}); the card is unchanged. "
            "Pass --new-held-out to make this data its held-out set")


def held_out_for_card(card: ModelCard | None, held_out: dict[str, Any], *, new_held_out: bool = False
                      ) -> dict[str, Any]:
    """The ``held_out`` entry the card gets with new figures: ``held_out`` itself, with the time it
    was recorded and, when the card's set changes, the previous set's identity under ``previous``."""
    entry = {**held_out, "recorded": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    previous = dict(card.held_out) if card is not None and card.held_out else None
    if card is not None and previous and previous.get("fingerprint") == held_out["fingerprint"]:
        return {**previous, "data": held_out["data"]}  # the same set: keep when it was first recorded
    if card is not None and card.has_figures and (previous or card.evaluated_on):
        previous = {k: v for k, v in (previous or {}).items() if k != "previous"}
        previous.setdefault("description", card.evaluated_on)
        entry["previous"] = previous
        entry["changed"] = "--new-held-out" if new_held_out else "first recorded"
    return entry


def _short(held_out: dict[str, Any]) -> str:
    fingerprint = held_out.get("fingerprint") or "no fingerprint"
    return fingerprint[:19]


def _describe(yaml_path: Path, split: str) -> str:
    import yaml

    data = yaml.safe_load(Path(yaml_path).read_text(encoding="utf-8")) or {}
    described = data.get(f"{split}_description") or data.get("description")
    return f"{described} ({split} split)" if described else f"{yaml_path} ({split} split)"
