"""The built guide in headless Chromium, on a 360 px wide phone and a 1280 px wide screen: no page
scrolls sideways, nothing sticks to the screen's edges, the BOM's quantities and prices are seen
without scrolling, the drawings keep readable labels and open alone, and axe-core finds no
accessibility violation on any page of the guide at either width."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

PHONE, DESKTOP = 360, 1280


def guide_pages(out_dir: Path) -> list[str]:
    """Every page of the built site (both languages, the root, and a search with results)."""
    pages = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*.html"))
    return pages + ["fr/search.html?q=pince", "en/search.html?q=burden"]


def url(out_dir: Path, page: str) -> str:
    path, _, query = page.partition("?")
    return (out_dir / path).as_uri() + (f"?{query}" if query else "")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(binary).exists() and Path(driver_path).exists()):
        pytest.fail(
            "chromium and chromium-driver are needed: apt-get install chromium chromium-driver", pytrace=False
        )
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-guide')}",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(120)  # axe-core's run on the long pages, on a loaded machine
    yield driver
    driver.quit()


def viewport(driver, width: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": 740 if width == PHONE else 900,
            "deviceScaleFactor": 1,
            "mobile": width == PHONE,
        },
    )


def axe_violations(driver) -> list[tuple[str, str, list]]:
    """axe-core 4.9's violations (selenium-axe-python's bundled axe-core, every rule it runs by
    default: WCAG 2.x
    A and AA and the best practices), each as (rule, impact, the first elements at fault)."""
    from selenium_axe_python import Axe

    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:4]]) for v in results["violations"]]


def test_guide_pages_fit_a_360_px_phone(built, browser):
    viewport(browser, PHONE)
    # (print.html is the PDF's source, laid out for A4 paper, not for a screen.)
    pages = [page for page in guide_pages(built.out_dir) if not page.endswith("print.html")]
    assert len(pages) >= 2 * 12 + 1
    for page in pages:
        browser.get(url(built.out_dir, page))
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= PHONE, f"{page} scrolls sideways ({width} px wide)"
        # Links and buttons keep a margin from the screen's edges.
        stuck = browser.execute_script("""
            return Array.from(document.querySelectorAll('a.big, main a, main button, input'))
              .filter(e => e.offsetParent !== null && !e.closest('table, pre, .cw-scroll'))
              .map(e => [e.textContent.trim().slice(0, 40), e.getBoundingClientRect()])
              .filter(([t, r]) => r.width > 0 && (r.left < 4 || r.right > 356))
              .map(([t, r]) => t + ' ' + Math.round(r.left) + '-' + Math.round(r.right));""")
        assert stuck == [], f"{page}: touching the screen's edge: {stuck}"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_bom_quantities_and_prices_are_seen_at_360_px_without_scrolling(built, browser, lang):
    viewport(browser, PHONE)
    browser.get(url(built.out_dir, f"{lang}/materials.html"))
    cells = browser.execute_script("""
        const table = document.querySelector('table.cw-bom');
        const cells = Array.from(table.querySelectorAll('td.cw-qty, td.cw-unit-price'));
        return {scroll: [table.scrollWidth, table.clientWidth],
                cells: cells.map(c => { const r = c.getBoundingClientRect();
                  return [c.dataset.label, c.textContent, Math.round(r.left), Math.round(r.right),
                          r.width > 0 && r.height > 0]; })};""")
    lines = (
        len(
            re.findall(
                r"<tr[ >]",
                (built.out_dir / lang / "materials.html")
                .read_text(encoding="utf-8")
                .split('class="cw-generated cw-bom"', 1)[1]
                .split("</table>", 1)[0],
            )
        )
        - 1
    )
    assert len(cells["cells"]) == 4 * lines  # three quantities and the unit price, for every line
    assert cells["scroll"][0] <= cells["scroll"][1]  # the table itself does not scroll
    hidden = [c for c in cells["cells"] if not c[4] or c[2] < 0 or c[3] > PHONE]
    assert hidden == [], f"quantities or prices off the screen: {hidden[:5]}"
    # Each value is said after its column's name (the header row is hidden on a phone).
    label = browser.execute_script(
        "return getComputedStyle(document.querySelector('table.cw-bom td.cw-qty'), '::before').content"
    )
    assert ("Qté" if lang == "fr" else "Qty") in label


def test_drawings_keep_readable_labels_and_open_alone_on_a_phone(built, browser):
    viewport(browser, PHONE)
    browser.get(url(built.out_dir, "fr/soldering.html"))
    figures = browser.execute_script("""
        return Array.from(document.querySelectorAll('figure.cw-figure')).map(f => {
          const img = f.querySelector('img'), box = f.querySelector('.cw-scroll');
          return [img.getAttribute('src'), img.closest('a').getAttribute('href'), img.clientWidth,
                  img.naturalWidth, box.scrollWidth > box.clientWidth, box.clientWidth];});""")
    assert len(figures) == 9
    for src, href, shown, natural, scrolls, box in figures:
        assert href == src  # the drawing is a link to itself
        assert shown == natural > box and scrolls, (src, shown, natural)  # not shrunk: it scrolls in its box
    # The smallest text of the layout, at that scale, is still 11 px.
    svg = (built.out_dir / "fr" / "img" / "layout.svg").read_text(encoding="utf-8")
    assert min(float(size) for size in re.findall(r'font-size="([\d.]+)"', svg)) >= 11
    # Opened alone, the drawing is the whole document (the phone's own zoom then works on it).
    browser.get(url(built.out_dir, "fr/img/layout.svg"))
    assert browser.execute_script("return document.documentElement.tagName") == "svg"


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_axe_core_finds_nothing_on_any_guide_page(built, browser, width):
    viewport(browser, width)
    found = {}
    pages = guide_pages(built.out_dir)
    for page in pages:
        browser.get(url(built.out_dir, page))
        violations = axe_violations(browser)
        if violations:
            found[page] = violations
    assert found == {}, f"axe-core at {width} px: {found}"
    assert len(pages) >= 27


def test_axe_core_sees_an_unreachable_scrolling_table(built, browser, tmp_path):
    """The check above can fail: a box that scrolls but that the keyboard cannot reach, as the
    guide's wide tables did before, is reported."""
    viewport(browser, PHONE)
    page = tmp_path / "p.html"
    page.write_text(
        '<!DOCTYPE html><html lang="fr"><head><title>t</title></head><body><main><h1>t</h1>'
        '<div id="box" style="overflow:auto;width:200px;height:100px">'
        '<p style="width:900px;height:300px">une nomenclature trop large</p></div>'
        "</main></body></html>",
        encoding="utf-8",
    )
    browser.get(page.as_uri())
    assert [(v[0], v[2]) for v in axe_violations(browser)] == [("scrollable-region-focusable", [["#box"]])]
