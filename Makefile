# The README's quick start: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export YOLO_OFFLINE := 1

.PHONY: demo test install browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[dev,distributed]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# The page tests (map.html, the review app) drive Debian's chromium with Playwright; browser
# downloads are impossible here, so the system package is installed when it is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The survey's default model is the shipped one (detector.registry.DEFAULT_MODEL).
demo: $(STAMP)
	$(BIN)/camcensus survey --area demo --provider simulated --out survey-demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -m "not slow" --timeout=900

bench: $(STAMP)
	$(BIN)/python scripts/bench/sampling.py
	$(BIN)/python scripts/bench/simulator.py
	$(BIN)/python -m scripts.bench.detect
	$(BIN)/python scripts/bench/estimate.py

clean:
	rm -rf $(VENV) survey-demo .pytest_cache
