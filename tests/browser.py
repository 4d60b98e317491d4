"""Headless Chromium for the report's browser test and docs/make_screenshot.py: Debian's
`chromium` and `chromium-driver` packages driven by Selenium, offline (the driver's path is given,
so Selenium Manager never runs and nothing is downloaded)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path(os.environ.get("NOSS_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("NOSS_CHROMEDRIVER", "/usr/bin/chromedriver"))
WIDTH = 1280


def missing() -> list[str]:
    """What the browser test needs and this machine lacks."""
    out = [
        f"{p} (apt-get install chromium chromium-driver)"
        for p in (CHROMIUM, CHROMEDRIVER)
        if not p.is_file()
    ]
    try:
        import selenium  # noqa: F401
    except ImportError:
        out.append("selenium (pip install -c constraints.txt -e '.[test]')")
    return out


def require_browser() -> None:
    """CI installs the browser (.ci/run), so there a missing one fails; elsewhere it skips."""
    import pytest

    lacking = missing()
    if lacking:
        if os.environ.get("CI"):
            pytest.fail(f"browser missing in CI: {', '.join(lacking)}")
        pytest.skip(f"the browser test needs {', '.join(lacking)}")


@contextmanager
def headless_chromium(height: int = 900) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={WIDTH},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def full_page_screenshot(driver, path: Path, max_height: int = 8000) -> Path:
    """The whole page (up to `max_height` pixels) as a PNG at `path`."""
    height, chrome = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
    )
    driver.set_window_size(WIDTH, min(int(height), max_height) + int(chrome))
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path
