"""Headless Chromium for the pages' tests (report.html, compare's page, history's index.html): Debian's chromium
driven by selenium with the network off, and the checks every page shares.

Browser driver: selenium, because Debian's chromium-driver is built from the same source package as chromium
(always the same version, no driver download: selenium is pointed at /usr/bin/chromedriver, so Selenium Manager
never fetches one) and its Chrome driver reads the page's console through the goog:loggingPrefs capability and
speaks the DevTools protocol (network off, full-page screenshot).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH = 1400
#: How long the page may take to draw its charts (4.8 MB of plotly.js on a busy CI machine).
DRAW_TIMEOUT_S = 90

#: Per section of the page: its key, drawn or not, the modes it says it draws, and what the browser made of it.
SECTIONS_JS = """
return [...document.querySelectorAll('section.chart')].map(s => {
  const plot = s.querySelector('.js-plotly-plot');
  const q = sel => plot ? plot.querySelectorAll(sel).length : 0;
  return {key: s.dataset.chart, drawn: s.classList.contains('chart-drawn'),
          modes: JSON.parse(s.dataset.modes || '[]'),
          svgs: q('svg.main-svg'), traces: q('g.trace'),
          marks: q('g.trace path.js-line') + q('g.trace g.points path') + q('g.trace .point path')
                 + q('g.trace path.point'),
          text: plot ? [...plot.querySelectorAll('svg text')].map(t => t.textContent).join('\\n') : '',
          absent: (s.querySelector('p.absent') || {}).textContent || null};
});
"""


def chromium() -> Iterator[Any]:
    """Headless Chromium (Debian's) through selenium, the network switched off, console logged (a fixture's body:
    `yield from chromium()`)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: the pages' tests need Debian's chromium and "
                    "chromium-driver (make deps installs them; or apt-get install -y chromium chromium-driver)",
                    pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        pytest.fail(f"selenium is not importable ({exc}): make venv installs it (requirements.txt)", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WIDTH},1000", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(DRAW_TIMEOUT_S)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        yield driver
    finally:
        driver.quit()


def self_contained(text: str) -> None:
    """Nothing fetched from elsewhere: no script src, stylesheet link or frame; plotly.js inline, once."""
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", text, re.I)
    assert not re.search(r"<(link|iframe|img)\b", text, re.I)
    from plotly.offline import get_plotlyjs

    banner = get_plotlyjs()[:40]  # "/**\n* plotly.js v4.1.1\n..."
    assert "plotly.js v" in banner
    assert text.count(banner) == 1, "plotly.js is not embedded once"


def open_report(driver, page: Path) -> tuple[list[dict], list[dict]]:
    """Load the page, wait for every drawn section's chart; (the sections, the console's errors)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(page.resolve().as_uri())
    WebDriverWait(driver, DRAW_TIMEOUT_S).until(lambda d: d.execute_script(
        "const s = [...document.querySelectorAll('section.chart-drawn')];"
        "return s.length > 0 && s.every(x => x.querySelector('.js-plotly-plot svg.main-svg g.trace'));"))
    sections = driver.execute_script(SECTIONS_JS)
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return sections, errors
