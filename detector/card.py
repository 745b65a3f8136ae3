"""Model cards: ``models/NAME.md`` beside ``models/NAME.pt``, Markdown with a YAML front matter.

The front matter holds the machine-read figures (the density estimator reads ``precision`` and
``recall`` at the operating threshold ``conf``, and ``calibration`` when present: counts of real
detections by confidence bin and of found cameras by box-size bin, written by ``camcensus
evaluate`` from held-out data, in the format shared with the review); the Markdown body is for people.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
    extra: dict[str, Any] = field(default_factory=dict)
    body: str = ""  # Markdown text after the front matter

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
