"""Vision side of camcensus: model registry, batch inference, training, evaluation, datasets.

Importing this package configures ultralytics for offline use before anything imports it:
``YOLO_OFFLINE=1`` (no update checks, hub calls or font/weights downloads) and a private
``YOLO_CONFIG_DIR``. Every entry point that touches ultralytics goes through here.
"""

import os
from pathlib import Path


def configure_offline() -> None:
    """Point ultralytics at a private settings dir and forbid network access (idempotent)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    config_dir = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(cache / "camcensus" / "ultralytics")))
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLO_VERBOSE", "False")


configure_offline()
