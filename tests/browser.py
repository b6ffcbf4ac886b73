"""The browser tests' one set of helpers (tests/test_screen_browser.py, tests/test_browser_simulator.py):
Debian's Chromium driven by Playwright (never `playwright install`), and zxing-cpp reading a QR code back
from a screenshot as a phone's camera would. The `browser` fixture (tests/conftest.py) uses these.

Locally the browser tests are skipped with the reason when Chromium or Playwright is missing; with CI=true
(set by .ci/run, which installs chromium and fonts-wqy-microhei) that is a failure."""

from __future__ import annotations

import io
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str:
    """What the browser tests lack on this machine ('' when nothing)."""
    if not CHROMIUM:
        return "no chromium on PATH (apt-get install chromium fonts-wqy-microhei; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    return ""


def launch_or_skip():
    """A context manager yielding a launched Chromium; skips (fails under CI=true) when one cannot run."""
    reason = missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    return _launched(sync_playwright)


def _launched(sync_playwright):
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield chromium
        finally:
            chromium.close()


def read_qr(locator) -> str:
    """Decode the QR code in *locator*'s screenshot, as a phone's camera would (zxing-cpp)."""
    import png
    import zxingcpp

    shot = locator.screenshot()
    width, height, rows, _info = png.Reader(file=io.BytesIO(shot)).asRGBA8()
    grey = bytearray()
    for row in rows:
        grey.extend(row[0::4])  # black on white: one channel is enough
    found = zxingcpp.read_barcodes(memoryview(bytes(grey)).cast("B", (height, width)))
    assert found, "no QR code found in the screenshot"
    return found[0].text
