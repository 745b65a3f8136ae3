"""One writer per survey directory: `survey`, `estimate` and `detect` on a survey hold its lock.

The lock is an OS file lock (``filelock``: ``flock`` on Unix) on ``DIR/.camcensus.lock``, so it is
released when its process ends, however it ends (a crash or ``kill -9`` leaves no stale lock).
Beside it, ``DIR/.camcensus.lock.owner`` names the holder (pid, command, start time) for the one
line a second writer gets: it waits ``wait_s`` seconds (default 0: it refuses at once).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, UTC
from pathlib import Path

from geo.errors import GeoInputError

LOCK_NAME = ".camcensus.lock"
OWNER_NAME = ".camcensus.lock.owner"


class SurveyBusyError(GeoInputError):
    """Another process holds the survey directory (one line, exit 2 from the CLI)."""


def lock_owner(survey_dir: str | Path) -> dict | None:
    """The holder recorded beside the lock (pid, command, started), or None."""
    path = Path(survey_dir) / OWNER_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def survey_lock(survey_dir: str | Path, *, command: str, wait_s: float = 0.0) -> Iterator[Path]:
    """Hold ``survey_dir`` for writing while the block runs; raise ``SurveyBusyError`` naming the
    holding process when another one holds it for more than ``wait_s`` seconds."""
    from filelock import FileLock, Timeout

    survey_dir = Path(survey_dir)
    survey_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(survey_dir / LOCK_NAME), timeout=wait_s)
    try:
        lock.acquire()
    except Timeout:
        owner = None
        for _ in range(20):  # the holder writes its name just after it takes the lock
            owner = lock_owner(survey_dir)
            if owner:
                break
            time.sleep(0.05)
        who = (f"process {owner.get('pid')} ({owner.get('command')}, since {owner.get('started')})"
               if owner else "another process")
        raise SurveyBusyError(f"{survey_dir} is in use by {who}: wait for it to finish, then run this "
                              "command again") from None
    owner_path = survey_dir / OWNER_NAME
    try:
        owner_path.write_text(json.dumps({
            "pid": os.getpid(), "command": command,
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}), encoding="utf-8")
        yield survey_dir
    finally:
        owner_path.unlink(missing_ok=True)
        lock.release()


def holds_survey(param: str, *, command: str) -> Callable:
    """Decorate a command whose argument ``param`` is a survey directory: it runs holding the
    directory's lock (a directory that does not exist yet is left to the command's own errors)."""
    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def run(*args, **kwargs):
            survey_dir = kwargs.get(param)
            if survey_dir is None or not Path(survey_dir).is_dir():
                return function(*args, **kwargs)
            with survey_lock(survey_dir, command=command):
                return function(*args, **kwargs)
        return run
    return wrap
