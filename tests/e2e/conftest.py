"""Playwright (sync API) against pytest-django's live server, driving Debian's chromium.

Skips cleanly when the ``playwright`` package or /usr/bin/chromium is missing. Screenshots go to
``$E2E_SCREENSHOT_DIR`` (default: a ``screenshots`` folder in pytest's temporary directory).
"""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django ORM calls made by the test
# itself (fixtures, assertions) must still be allowed (STYLE.md pitfalls).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: browser test (Playwright + chromium against live_server)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    path = Path(os.environ.get("E2E_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shot(page, screenshot_dir, request):
    """Call ``shot()`` to save a full-page screenshot named after the test (and an optional suffix)."""
    def take(suffix: str = "") -> Path:
        name = request.node.name.replace("/", "_") + (f"-{suffix}" if suffix else "")
        target = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(target), full_page=True)
        return target

    return take


def log_in(page, username: str, password: str = "pass-word-123", next_url: str = "/app/"):
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}")
