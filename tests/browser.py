"""A headless Chromium for page tests: Debian's ``chromium`` driven by Playwright (no browser
download). Shared by the map and review tests.

``page`` is a fresh page whose ``page.external_requests`` lists every request that left the
machine (anything but file:, data:, blob:, about: and localhost) and ``page.console_errors``
every console error and page error. Without a browser the tests are skipped, except under CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import pytest

LOCAL_SCHEMES = {"file", "data", "blob", "about", "chrome-error"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """The system Chromium (``CHROMIUM`` overrides), or None."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def is_external(url: str) -> bool:
    """True when ``url`` would leave the machine."""
    parts = urlsplit(url)
    return parts.scheme not in LOCAL_SCHEMES and (parts.hostname or "") not in LOCAL_HOSTS


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests need Chromium and Playwright under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        _unavailable("no chromium on PATH (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    opened = context.new_page()
    opened.external_requests = []
    opened.console_errors = []
    opened.on("request", lambda r: opened.external_requests.append(r.url) if is_external(r.url) else None)
    opened.on("console", lambda m: opened.console_errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: opened.console_errors.append(str(e)))
    # nothing may leave the machine: external requests are logged above, then refused at once
    context.route(lambda url: is_external(url), lambda route: route.abort())
    yield opened
    context.close()
