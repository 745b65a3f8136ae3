"""Shared test set-up: offline ultralytics, no network, small generated fixtures."""

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import detector  # noqa: E402,F401  (configures ultralytics for offline use first)
os.environ.setdefault("COLUMNS", "160")  # wide, unwrapped --help text in CLI tests

pytest_plugins = ["tests.browser"]  # the shared headless Chromium fixtures (browser, page)
