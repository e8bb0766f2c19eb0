"""A page opened in a real browser: Playwright driving the system's Chromium (Debian's ``chromium``, which
``.ci/run`` installs), headless. What it saw: console messages, page errors, every request, each image's size."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str:
    """The system's Chromium; a missing one fails the test (``apt-get install chromium``), never skips it."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no Chromium on the PATH: apt-get install chromium (.ci/run does)")


@dataclass
class Visit:
    """One page load in the browser."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    images: list[dict[str, object]] = field(default_factory=list)
    text: str = ""
    section_ids: list[str] = field(default_factory=list)


@contextlib.contextmanager
def open_page(path: Path, screenshot: Path) -> Iterator[tuple[Visit, object]]:
    """Open ``path`` from ``file://`` offline, record what happened, take a full-page screenshot."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed on the default stack only")
    visit = Visit()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True, java_script_enabled=True)
            page = context.new_page()
            page.on("console", lambda m: visit.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: visit.errors.append(str(e)))
            page.on("request", lambda r: visit.requests.append(r.url))
            page.goto(path.resolve().as_uri(), wait_until="load")
            visit.images = page.evaluate(
                "Array.from(document.images).map(i => ({cls: i.className, alt: i.alt, complete: i.complete, "
                "width: i.naturalWidth, height: i.naturalHeight}))")
            visit.section_ids = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
            visit.text = page.inner_text("body")
            page.screenshot(path=str(screenshot), full_page=True)
            yield visit, page
        finally:
            browser.close()


def blank(screenshot: Path) -> bool:
    """True when the screenshot is one colour (nothing rendered)."""
    from PIL import Image

    with Image.open(screenshot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    return colours is not None and len(colours) < 16
