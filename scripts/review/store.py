"""The review's answers: an append-only SQLite table in WAL mode (``review/answers.sqlite``).

Every click is one committed row, so a crash loses nothing and two tabs (or two reviewers, or
two processes) can write at once. Rows are never changed or deleted: an undo is a row of its
own that names the row it takes back, and an item's standing answer is its latest row that no
undo takes back. Each row keeps the reviewer's name and the time (UTC, ISO 8601).

Queues: ``verify`` (item = detection id; answer camera / not / unsure; class_name dome /
directed) and ``audit`` (item = image id; answer "done"; ``rejected`` = ids of the image's
detections that are not cameras, ``added`` = boxes of missed cameras, pixels).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

STORE_FILE = "answers.sqlite"
QUEUES = ("verify", "audit")
VERIFY_ANSWERS = ("camera", "not", "unsure")
CLASS_NAMES = ("dome", "directed")
UNDO = "undo"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    item_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    class_name TEXT,
    rejected TEXT,
    added TEXT,
    reviewer TEXT NOT NULL,
    time TEXT NOT NULL,
    undoes INTEGER
);
CREATE INDEX IF NOT EXISTS answers_item ON answers (queue, item_id);
CREATE TRIGGER IF NOT EXISTS answers_append_only_update BEFORE UPDATE ON answers
BEGIN SELECT RAISE(ABORT, 'answers are append-only'); END;
CREATE TRIGGER IF NOT EXISTS answers_append_only_delete BEFORE DELETE ON answers
BEGIN SELECT RAISE(ABORT, 'answers are append-only'); END;
"""


@dataclass(frozen=True)
class Answer:
    """One row of the store (``rejected`` and ``added`` decoded from JSON)."""

    seq: int
    queue: str
    item_id: str
    answer: str
    class_name: str | None
    rejected: list[str]
    added: list[list]
    reviewer: str
    time: str
    undoes: int | None


def store_path(survey_dir: str | Path) -> Path:
    return Path(survey_dir) / "review" / STORE_FILE


class AnswerStore:
    """The answers of one survey; safe to use from many threads (one connection per call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @classmethod
    def of_survey(cls, survey_dir: str | Path) -> AnswerStore:
        return cls(store_path(survey_dir))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a process crash
            yield db
        finally:
            db.close()

    def add(self, queue: str, item_id: str, answer: str, *, reviewer: str, class_name: str | None = None,
            rejected: list[str] | None = None, added: list[list] | None = None) -> int:
        """Append one answer; return its seq. Inputs are checked by the caller (the app)."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO answers (queue, item_id, answer, class_name, rejected, added, reviewer, time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (queue, item_id, answer, class_name, json.dumps(rejected or []), json.dumps(added or []),
                 reviewer, _now()))
            return int(cursor.lastrowid)

    def add_many(self, rows: list[dict]) -> int:
        """Append many answers in one transaction (the oracle); return how many."""
        now = _now()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO answers (queue, item_id, answer, class_name, rejected, added, reviewer, time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r["queue"], r["item_id"], r["answer"], r.get("class_name"), json.dumps(r.get("rejected") or []),
                  json.dumps(r.get("added") or []), r["reviewer"], now) for r in rows])
            db.execute("COMMIT")
        return len(rows)

    def undo(self, queue: str, *, reviewer: str) -> Answer | None:
        """Take back ``reviewer``'s latest standing answer in ``queue``; return it (None: nothing
        to undo). The undo is a row of its own."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # find and append in one step: two tabs never undo one row twice
            row = db.execute(
                "SELECT * FROM answers a WHERE queue = ? AND reviewer = ? AND answer != ? AND NOT EXISTS "
                "(SELECT 1 FROM answers u WHERE u.undoes = a.seq) ORDER BY seq DESC LIMIT 1",
                (queue, reviewer, UNDO)).fetchone()
            if row is None:
                db.execute("COMMIT")
                return None
            db.execute("INSERT INTO answers (queue, item_id, answer, reviewer, time, undoes) VALUES (?, ?, ?, ?, ?, ?)",
                       (queue, row[2], UNDO, reviewer, _now(), row[0]))
            db.execute("COMMIT")
        return _answer(row)

    def rows(self) -> list[Answer]:
        """Every row, in order."""
        with self._connect() as db:
            return [_answer(r) for r in db.execute("SELECT * FROM answers ORDER BY seq")]

    def standing(self, queue: str) -> dict[str, Answer]:
        """The standing answer of each answered item of ``queue`` (latest row not undone)."""
        rows = self.rows()
        undone = {r.undoes for r in rows if r.answer == UNDO}
        out: dict[str, Answer] = {}
        for row in rows:
            if row.queue == queue and row.answer != UNDO and row.seq not in undone:
                out[row.item_id] = row
        return out

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])


def _answer(row: tuple) -> Answer:
    seq, queue, item_id, answer, class_name, rejected, added, reviewer, time, undoes = row
    return Answer(seq=seq, queue=queue, item_id=item_id, answer=answer, class_name=class_name,
                  rejected=json.loads(rejected) if rejected else [], added=json.loads(added) if added else [],
                  reviewer=reviewer, time=time, undoes=undoes)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
