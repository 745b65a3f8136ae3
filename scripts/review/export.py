"""`camcensus review DIR --export review.csv`: every answer row, with what it was about."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from geo.errors import GeoInputError
from geo.io import write_text
from scripts.review.store import QUEUES, AnswerStore, store_path

ANSWER_COLUMNS = ["seq", "queue", "item_id", "answer", "class_name", "rejected", "added", "reviewer", "time",
                  "undoes"]
COLUMNS = ["seq", "queue", "item_id", "image_id", "answer", "class_name", "rejected", "added", "reviewer", "time",
           "undoes", "standing", "conf", "model_class", "x1", "y1", "x2", "y2"]


def review_frame(survey_dir: str | Path) -> pd.DataFrame:
    """Every answer row (undos included; ``standing`` marks the answers that count), with the
    image, the box (pixels), the confidence and the model's class of each verified detection."""
    from scripts.review.tables import SurveyTables

    if not store_path(survey_dir).exists():
        raise GeoInputError(f"no review in {survey_dir} ({store_path(survey_dir)} not found)")
    store = AnswerStore.of_survey(survey_dir)
    rows = store.rows()
    standing = {a.seq for q in QUEUES for a in store.standing(q).values()}
    answers = [{**r.__dict__, "rejected": json.dumps(r.rejected), "added": json.dumps(r.added),
                "standing": r.seq in standing} for r in rows]
    frame = pd.DataFrame(answers, columns=[*ANSWER_COLUMNS, "standing"])
    det = SurveyTables.open(survey_dir).all_detections
    about = det[["image_id", "conf", "class_name", "x1", "y1", "x2", "y2"]].rename(
        columns={"class_name": "model_class"})
    frame = frame.merge(about, left_on="item_id", right_index=True, how="left")
    audit = frame["queue"] == "audit"
    frame.loc[audit, "image_id"] = frame.loc[audit, "item_id"]
    return frame[COLUMNS]


def export_review(survey_dir: str | Path, path: str | Path) -> int:
    """Write ``review_frame`` to ``path`` (CSV, atomic); return the number of rows."""
    frame = review_frame(survey_dir)
    write_text(path, frame.to_csv(index=False))
    return len(frame)
