"""Model cards: ``models/NAME.md`` beside ``models/NAME.pt``, Markdown with a YAML front matter.

The front matter holds the machine-read figures (the density estimator reads ``precision`` and
``recall`` at the operating threshold ``conf``, and ``calibration`` when present: counts of real
detections by confidence bin and of found cameras by box-size bin, written by ``camcensus
evaluate --update-card`` from held-out data, in the format shared with the review); the Markdown
body is for people.

``held_out`` names the data set the figures come from by a fingerprint of its files
(``detector.held_out``); ``camcensus evaluate --update-card`` changes the figures only on that set
(or with ``--new-held-out``). ``history`` keeps every earlier evaluation the card held, newest
last, so nothing measured is lost; the body shows it in an "Earlier evaluations" section.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

import yaml

from detector.errors import DetectorInputError
from detector.io import write_text


@dataclass
class ModelCard:
    """Key figures of one weights file. Sizes in pixels, ``conf`` in [0, 1]."""

    name: str
    weights: str  # file name relative to the card
    classes: list[str] = field(default_factory=lambda: ["directed", "dome"])
    imgsz: int = 640
    conf: float = 0.25  # operating threshold
    precision: float | None = None  # at conf, on the evaluation set
    recall: float | None = None
    f1: float | None = None
    ap50: float | None = None
    ap50_95: float | None = None
    recall_by_size: dict[str, float | None] = field(default_factory=dict)  # "<8", "8-16", "16-32", ">32"
    calibration: dict[str, Any] = field(default_factory=dict)  # shared format: precision by conf, recall by size
    trained_on: str = ""
    evaluated_on: str = ""
    held_out: dict[str, Any] = field(default_factory=dict)  # the evaluation set's identity (detector.held_out)
    extra: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier evaluations, oldest first
    body: str = ""  # Markdown text after the front matter

    @property
    def has_figures(self) -> bool:
        """Whether an evaluation filled in the card (a card fresh from training has none)."""
        return self.precision is not None or self.recall is not None or bool(self.calibration)

    def to_front_matter(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("body")
        return data


def read_card(path: str | Path) -> ModelCard:
    """Read a card; raise ``DetectorInputError`` when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise DetectorInputError(f"model card not found: {path}")
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise DetectorInputError(f"model card {path} has no YAML front matter (--- ... ---)")
    try:
        _, head, body = text.split("---", 2)
        data = yaml.safe_load(head) or {}
    except (ValueError, yaml.YAMLError) as error:
        raise DetectorInputError(f"malformed model card {path}: {error}") from None
    known = set(ModelCard.__dataclass_fields__) - {"body"}
    extra = {k: v for k, v in data.items() if k not in known}
    fields = {k: v for k, v in data.items() if k in known}
    fields.setdefault("name", path.stem)
    fields.setdefault("weights", f"{path.stem}.pt")
    card = ModelCard(**fields, body=body.lstrip("\n"))
    card.extra.update(extra)
    return card


def write_card(card: ModelCard, path: str | Path) -> Path:
    """Write a card atomically (temp file, then rename)."""
    head = yaml.safe_dump(card.to_front_matter(), sort_keys=False, allow_unicode=True)
    return write_text(path, f"---\n{head}---\n\n{card.body}")


HISTORY_START, HISTORY_END = "<!-- history -->", "<!-- /history -->"
HISTORY_FIGURES = ("conf", "precision", "recall", "f1", "ap50", "ap50_95", "recall_by_size", "calibration",
                   "evaluated_on", "held_out")


def archive_evaluation(card: ModelCard, *, reason: str) -> ModelCard:
    """Move the card's current figures into ``card.history`` (with the time they were replaced
    and ``reason``) and refresh the body's history section; a card without figures is unchanged.
    Call it before writing new figures into the card."""
    if not card.has_figures:
        return card
    entry: dict[str, Any] = {"replaced": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                             "reason": reason}
    for key in HISTORY_FIGURES:
        value = getattr(card, key)
        if key == "held_out" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "previous"}  # no nesting of earlier sets
        if value not in (None, "", {}, []):
            entry[key] = value
    if card.extra.get("evaluation"):
        entry["evaluation"] = card.extra["evaluation"]
    card.history.append(entry)
    card.body = with_section(card.body, HISTORY_START, HISTORY_END, history_section(card))
    return card


def history_section(card: ModelCard) -> str:
    """Markdown: the earlier evaluations of ``card.history``, one table row each."""
    def num(value: Any) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [HISTORY_START, "## Earlier evaluations", "",
             "Figures this card held before they were replaced (newest last; every figure, the calibration "
             "too, is kept in the front matter's `history`).", "",
             "| replaced | evaluated on | held-out fingerprint | conf | precision | recall | AP50 | why |",
             "|---|---|---|---|---|---|---|---|"]
    for entry in card.history:
        fingerprint = (entry.get("held_out") or {}).get("fingerprint") or "not recorded"
        on = str(entry.get("evaluated_on") or "n/a").replace("|", "/").replace("\n", " ")
        lines.append(f"| {entry.get('replaced', 'n/a')} | {on} | {fingerprint[:19]} | {num(entry.get('conf'))} "
                     f"| {num(entry.get('precision'))} | {num(entry.get('recall'))} | {num(entry.get('ap50'))} "
                     f"| {entry.get('reason', '')} |")
    return "\n".join([*lines, HISTORY_END, ""])


def with_section(body: str, start: str, end: str, section: str) -> str:
    """``body`` with the text between the ``start`` and ``end`` markers replaced by ``section``
    (which carries the markers), or ``section`` appended when the markers are absent."""
    if start in body and end in body:
        head, rest = body.split(start, 1)
        return head + section + rest.split(end, 1)[1].lstrip("\n")
    return body.rstrip("\n") + ("\n\n" if body.strip() else "") + section
