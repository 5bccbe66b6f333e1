"""The built guide on a 360 px wide phone, in headless Chromium: nothing sticks to the
screen's edges and no page scrolls sideways (wide tables scroll inside their own box)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PAGES = ("index.html", "fr/index.html", "fr/materials.html", "fr/circuit.html", "fr/soldering.html",
         "en/troubleshooting.html", "fr/search.html?q=pince")


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(binary).exists() and Path(driver_path).exists()):
        pytest.fail("chromium and chromium-driver are needed: apt-get install chromium chromium-driver",
                    pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
                 "--window-size=360,800",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-guide')}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
    yield driver
    driver.quit()


def test_guide_pages_fit_a_360_px_phone(built, phone):
    for page in PAGES:
        phone.get(
            (built.out_dir / page.split("?")[0]).as_uri() + ("?" + page.split("?")[1] if "?" in page else "")
        )
        width = phone.execute_script("return document.documentElement.scrollWidth")
        assert width <= 360, f"{page} scrolls sideways ({width} px wide)"
        # Links and buttons keep a margin from the screen's edges.
        stuck = phone.execute_script("""
            return Array.from(document.querySelectorAll('a.big, main a, main button, input'))
              .filter(e => e.offsetParent !== null && !e.closest('table, pre, .cw-scroll'))
              .map(e => [e.textContent.trim().slice(0, 40), e.getBoundingClientRect()])
              .filter(([t, r]) => r.width > 0 && (r.left < 4 || r.right > 356))
              .map(([t, r]) => t + ' ' + Math.round(r.left) + '-' + Math.round(r.right));""")
        assert stuck == [], f"{page}: touching the screen's edge: {stuck}"
