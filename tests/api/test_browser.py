"""The pages in a real browser (headless Chromium driven by Selenium), on readings that
went through the whole chain: wire payloads -> Mosquitto -> collector -> SqliteStore -> API.

Each page is loaded on a 360 px wide window as a household and as staff; the test checks
what a person sees (figures, bars drawn, no sideways scrolling, no console error, no
axe-core accessibility violation) and keeps a screenshot of each page in tests/artifacts/api/.
The household and staff pages are checked with axe-core at 1280 px too.
"""

from __future__ import annotations

import shutil
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from citizenwatt.api.app import create_app
from citizenwatt.config import Settings
from citizenwatt.firmware import wire
from citizenwatt.store.sqlite import SqliteStore
from tests.services import Mosquitto, free_port, wait_port

from .helpers import PARIS, check_comparison_shown, history, local_ts, register_neighbours

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "api"
STEP_S = 1800
DAYS = 30
PASSWORD = "un mot de passe long"
# The app's and the collector's clock, pinned: the pages' "today", the readings' dates and
# the figures shown are the same on every run. On this day the comparison page shows its
# two roundings at their worst ("9,8 kWh" against a median of "10,5 kWh").
NOW = local_ts(2026, 11, 30, 10, 17)


def publish_history(host, port, meters: dict[str, float], now: float) -> int:
    """Publish DAYS days of readings per meter; the first half 25 % higher (the baseline)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-test-meters")
    client.connect(host, port)
    client.loop_start()
    infos, n = [], 0
    for meter, scale in meters.items():
        for seq, (t, p, energy_wh) in enumerate(history(now, scale, DAYS, STEP_S)):
            payload = wire.encode_reading(meter, 1, seq, seq * STEP_S * 1000, STEP_S,
                                          [wire.channel(0, energy_wh, p, p / 230)], ts=t)
            infos.append(client.publish(wire.reading_topic(meter), payload, qos=1))
            n += 1
        client.publish(wire.status_topic(meter), wire.encode_status(
            meter, "online", {"dropped": 2, "faults": {}}), qos=1, retain=True)
    for info in infos:
        info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()
    return n


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import uvicorn

    from citizenwatt.collector.service import Collector

    tmp = tmp_path_factory.mktemp("browser")
    broker = Mosquitto(tmp / "mosquitto").start()
    store = SqliteStore(tmp / "readings.sqlite")
    collector = Collector(store, broker.host, broker.port, client_id="browser-test-collector",
                          clock=lambda: NOW)
    collector.start()
    meters = {"foyer-1": 1.0, "voisin-1": 0.8, "voisin-2": 0.9, "voisin-3": 1.1, "voisin-4": 1.2,
              "voisin-5": 1.4}
    sent = publish_history(broker.host, broker.port, meters, NOW)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = sum(m.readings for m in store.meters())
        if stored >= sent and collector.wait_idle(1):
            break
        time.sleep(0.1)
    assert sum(m.readings for m in store.meters()) == sent, "the collector did not store every reading"

    app = create_app(store, Settings(api={"live_refresh_s": 1, "open_meters": False,
                                          "database_url": "sqlite://"}), clock=lambda: NOW)
    today = datetime.fromtimestamp(NOW, PARIS).date()
    links, baseline = register_neighbours(app, list(meters), today, DAYS, password=PASSWORD)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port("127.0.0.1", port, 15)
    yield {"base": f"http://127.0.0.1:{port}", "link": links["foyer-1"], "broker": broker,
           "today": today, "baseline": baseline, "store": store, "collector": collector}
    server.should_exit = True
    thread.join(10)
    collector.stop()
    store.close()
    broker.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(binary).exists() and Path(driver_path).exists()):
        pytest.fail("chromium et chromium-driver sont nécessaires : apt-get install chromium "
                    "chromium-driver", pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
                 "--window-size=360,800", "--lang=fr-FR",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)  # axe-core's run, on a loaded machine
    # A phone's viewport: 360 CSS px wide (a headless window cannot be made that narrow).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def load(driver, url: str, shot: str):
    """Open url, check the page fits 360 px and logged no console error, keep a screenshot."""
    from selenium.webdriver.common.by import By

    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete")
    body = driver.find_element(By.TAG_NAME, "body")
    assert driver.execute_script("return document.documentElement.scrollWidth") <= \
        driver.execute_script("return window.innerWidth"), f"{shot}: the page scrolls sideways at 360 px"
    driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"{shot}: console errors {errors}"
    assert axe_violations(driver) == [], f"{shot}: axe-core violations"
    assert scrolled_away(driver) == [], f"{shot}: a table scrolls sideways at 360 px"
    return body.text


def axe_violations(driver) -> list[tuple[str, str, list]]:
    """axe-core's violations on the page as it is now (every rule the axe-core 4.9 that
    selenium-axe-python bundles runs by default: WCAG 2.x A and AA and the best practices,
    scrollable-region-focusable among them; the guide's pages are checked with the same,
    tests/hardware/test_phone.py), each as (rule, impact, the first elements at fault)."""
    from selenium_axe_python import Axe

    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:4]]) for v in results["violations"]]


SCROLLED_AWAY_JS = """
return [...document.querySelectorAll('.table-wrap')]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.getAttribute('aria-label') || e.className) + ' ' + e.scrollWidth + '/' + e.clientWidth);"""


def scrolled_away(driver) -> list[str]:
    """The tables wider than their box (part of them seen only by scrolling sideways)."""
    return driver.execute_script(SCROLLED_AWAY_JS)


def wait_for(cond, timeout_s: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def bars(driver, chart_id: str) -> int:
    return driver.execute_script(
        f"return document.querySelectorAll('#{chart_id} rect.bar').length")


def test_household_live_page_updates_from_the_collector(site, browser):
    from selenium.webdriver.common.by import By

    url = f"{site['base']}/h/{site['link']}"
    text = load(browser, url, "household-live-fr")
    assert "Famille Martin" in text and "En ce moment" in text and "Aujourd'hui, heure par heure" in text
    assert "Total depuis minuit" in text
    assert bars(browser, "today-chart") >= 1
    power = browser.find_element(By.ID, "live-power").text
    assert power.endswith("W") and power != "—"
    # A new reading from the meter shows up on the open page (refresh every second).
    import paho.mqtt.client as mqtt
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-test-live")
    c.connect(site["broker"].host, site["broker"].port)
    c.loop_start()
    last = site["store"].latest("foyer-1")[0]
    payload = wire.encode_reading("foyer-1", 1, last.seq + 1, 1, 10,
                                  [wire.channel(0, last.energy_wh + 9, 3240.0, 14.1)], ts=NOW)
    c.publish(wire.reading_topic("foyer-1"), payload, qos=1).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()
    # (Selenium reports the no-break space before the unit as a plain space.)
    wait_for(lambda: browser.find_element(By.ID, "live-power").text == "3\u202f240 W", 15,
             "the live power to show 3 240 W")
    assert "Mesuré il y a" in browser.find_element(By.ID, "live-age").text
    browser.save_screenshot(str(ARTIFACTS / "household-live-fr-updated.png"))


def test_household_page_in_english(site, browser):
    text = load(browser, f"{site['base']}/h/{site['link']}?lang=en", "household-live-en")
    assert "Right now" in text and "Today, hour by hour" in text and "Total since midnight" in text


def test_history_pages_draw_hourly_daily_and_monthly_bars(site, browser):
    base = f"{site['base']}/h/{site['link']}/history"
    yesterday = site["today"] - timedelta(days=1)
    text = load(browser, f"{base}?view=day&date={yesterday}", "history-day")
    assert bars(browser, "history-chart") in (23, 24, 25) and "Total :" in text
    text = load(browser, f"{base}?view=month&date={site['today']}", "history-month")
    assert bars(browser, "history-chart") >= min(site["today"].day, DAYS)
    text = load(browser, f"{base}?view=year&date={site['today']}", "history-year")
    assert 1 <= bars(browser, "history-chart") <= 2 and "kWh" in text


def test_savings_page_shows_figures_next_to_their_method(site, browser):
    from selenium.webdriver.common.by import By

    start = site["baseline"][1] + timedelta(days=2)  # after the day the use dropped
    end = site["today"] - timedelta(days=1)
    text = load(browser, f"{site['base']}/h/{site['link']}/savings?start={start}&end={end}", "savings")
    kwh = browser.find_element(By.CSS_SELECTOR, "#saved-kwh .big").text
    eur = browser.find_element(By.CSS_SELECTOR, "#saved-eur .big").text
    assert kwh.endswith("kWh") and not kwh.startswith("-") and eur.endswith("€")
    # The baseline was 25 % higher: savings are 20 % of what was expected.
    assert "soit 20 % de moins" in text
    method = browser.find_element(By.ID, "method").text
    assert "Référence" in method and "CO2" in method and "Économie" in method


def test_comparison_page_shows_the_median_of_five_neighbours(site, browser):
    from selenium.webdriver.common.by import By

    start = site["baseline"][1] + timedelta(days=1)
    end = site["today"] - timedelta(days=1)
    text = load(browser, f"{site['base']}/h/{site['link']}/compare?start={start}&end={end}", "compare")
    median = browser.find_element(By.ID, "median").text
    own = browser.find_element(By.ID, "own").text
    assert median.endswith("kWh") and own.endswith("kWh")
    # Neighbours scale 0.8 0.9 1.1 1.2 1.4: the median is 1.1 times this household's use
    # (1 - 1/1.1 = 9 % less), shown rounded to half a kWh a day so that it is no one's
    # exact figure, beside this household's own figure rounded to 0.1 kWh; the verdict
    # follows the median shown.
    check_comparison_shown(own, median, browser.find_element(By.ID, "verdict").text, ratio=1.1)
    assert "Voisin" not in text


def test_data_page_and_staff_pages(site, browser):
    from selenium.webdriver.common.by import By

    text = load(browser, f"{site['base']}/h/{site['link']}/data", "data")
    assert "Télécharger toutes mes données" in text and "Tout supprimer" in text
    load(browser, f"{site['base']}/staff/login", "staff-login")
    browser.find_element(By.NAME, "username").send_keys("animatrice")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: browser.current_url.endswith("/staff?lang=fr"), 10, "the staff page")
    text = load(browser, browser.current_url, "staff")
    assert "Famille Martin" in text and "foyer-1" in text and "en ligne" in text
    rows = browser.find_elements(By.CSS_SELECTOR, ".meters-table tbody tr")
    assert len(rows) == 6
    # The fault and drop figures of every meter are on screen at 360 px: inside the
    # viewport and inside their table's box (not hidden in a part scrolled away).
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
    cells = browser.execute_script("""
        const w = window.innerWidth;
        return [...document.querySelectorAll('.meters-table td.faults, .meters-table td.drops')]
          .map(td => { const r = td.getBoundingClientRect();
                       const box = td.closest('.table-wrap').getBoundingClientRect();
                       return {text: td.innerText.trim(), width: r.width, inside: r.left >= 0 &&
                               r.right <= w && r.left >= box.left - 0.5 && r.right <= box.right + 0.5,
                               label: getComputedStyle(td, '::before').content}; });""")
    assert len(cells) == 12
    assert all(c["inside"] and c["width"] > 0 for c in cells), cells
    # Each status said "dropped": 2 and no clamp fault; the label names the column.
    assert [c["text"] for c in cells[1::2]] == ["2"] * 6
    assert [c["text"] for c in cells[0::2]] == ["—"] * 6
    assert cells[0]["label"] == '"Pinces en défaut"' and cells[1]["label"] == '"Pertes file"'
    text = load(browser, f"{site['base']}/staff/households/1/savings", "staff-household-savings")
    assert "Économies" in text and "Comment c'est calculé" in text
    kwh = browser.find_element(By.CSS_SELECTOR, "#saved-kwh .big").text
    assert kwh.endswith("kWh") and not kwh.startswith("-")
    # the pages that manage (forms), each at 360 px with axe-core, like every page load() opens
    for path, shot in STAFF_MANAGING_PAGES:
        load(browser, f"{site['base']}{path}?lang=fr", shot)


# the staff pages with forms (api/routes/staff_pages.py): a deployment's, a household's, the log
STAFF_MANAGING_PAGES = [("/staff/deployments/1", "staff-deployment"),
                        ("/staff/households/1/manage", "staff-household-manage"),
                        ("/staff/audit", "staff-audit")]


def household_views(site) -> dict[str, str]:
    """Every household view, by the name of its screenshot."""
    base = f"{site['base']}/h/{site['link']}"
    yesterday = site["today"] - timedelta(days=1)
    start = site["baseline"][1] + timedelta(days=2)
    return {
        "household-live": base,
        "history-day": f"{base}/history?view=day&date={yesterday}",
        "history-week": f"{base}/history?view=week&date={yesterday}",
        "history-month": f"{base}/history?view=month&date={site['today']}",
        "history-year": f"{base}/history?view=year&date={site['today']}",
        "savings": f"{base}/savings?start={start}&end={yesterday}",
        "compare": f"{base}/compare?start={start}&end={yesterday}",
        "data": f"{base}/data",
    }


SMALL_TARGETS_JS = """
return [...document.querySelectorAll('a, button, input, select, summary')]
  .filter(e => e.offsetParent !== null && e.type !== 'hidden')
  .map(e => { const r = e.getBoundingClientRect();
              return {what: e.outerHTML.slice(0, 90), width: r.width, height: r.height}; })
  .filter(t => t.width < 44 || t.height < 44);"""
CHART_TEXT_PX_JS = """
const out = [];
document.querySelectorAll('svg.chart').forEach(svg => {
  const k = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  svg.querySelectorAll('text').forEach(t => out.push(parseFloat(getComputedStyle(t).fontSize) * k));
});
return out;"""


def test_each_household_view_on_a_phone_reads_large_and_taps_easily(site, browser):
    """At 360 px: each view (screenshot in tests/artifacts/api/), chart text of 12 px or
    more, every link, button and field at least 44 x 44 px, no axe-core violation (load)."""
    for shot, url in household_views(site).items():
        text = load(browser, url, shot)
        assert "Famille Martin" in text, shot
        sizes = browser.execute_script(CHART_TEXT_PX_JS)
        if shot not in ("savings", "compare", "data"):
            assert sizes and min(sizes) >= 12, (shot, min(sizes or [0]))
        assert browser.execute_script(SMALL_TARGETS_JS) == [], shot
    # The week: seven daily bars, named by their weekday.
    load(browser, household_views(site)["history-week"], "history-week")
    assert bars(browser, "history-chart") == 7
    assert browser.execute_script(
        "return [...document.querySelectorAll('#history-chart text.xlab')].map(t => t.textContent)"
    ) == ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."]


def test_household_and_staff_pages_have_no_axe_violation_at_1280_px(site, browser):
    from selenium.webdriver.common.by import By

    wide = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", wide)
    try:
        for shot, url in household_views(site).items():
            browser.get(url + ("&" if "?" in url else "?") + "lang=fr")
            wait_for(lambda: browser.execute_script("return document.readyState") == "complete")
            assert axe_violations(browser) == [], shot
            browser.get(url + ("&" if "?" in url else "?") + "lang=en")
            assert axe_violations(browser) == [], f"{shot} (en)"
        browser.get(f"{site['base']}/staff/login")
        assert axe_violations(browser) == [], "staff-login"
        browser.find_element(By.NAME, "username").send_keys("animatrice")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(lambda: "/staff?" in browser.current_url, 10, "the staff page")
        staff_pages = [browser.current_url] + [url.replace(f"/h/{site['link']}", "/staff/households/1")
                                               for url in household_views(site).values()]
        staff_pages += [f"{site['base']}{path}?lang={lang}" for path, _shot in STAFF_MANAGING_PAGES
                        for lang in ("fr", "en")]
        for url in staff_pages:
            browser.get(url)
            wait_for(lambda: browser.execute_script("return document.readyState") == "complete")
            assert axe_violations(browser) == [], url
            # Staff work at a desk: their tables fit whole (the meters' had 718 px in 650).
            assert scrolled_away(browser) == [], url
        browser.get(f"{site['base']}/")
        assert axe_violations(browser) == [], "home"
    finally:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})


def test_axe_core_finds_what_the_pages_used_to_get_wrong(site, browser):
    """The check is not vacuous: the header brand in its old colour (dark on green, 3.11:1)
    and a pale text are each reported by the bundled axe-core (4.9), and so is a table that
    scrolls sideways in a box the keyboard cannot reach (scrollable-region-focusable: the
    boxes have tabindex="0")."""
    from selenium_axe_python import Axe

    load(browser, f"{site['base']}/h/{site['link']}", "household-live")
    axe = Axe(browser)
    axe.inject()
    assert axe.run()["testEngine"]["version"].startswith("4.9.")
    browser.execute_script("document.querySelector('.brand').style.color = '#1b1f23';")
    found = axe_violations(browser)
    assert [v[0] for v in found] == ["color-contrast"] and found[0][2] == [[".brand"]], found
    load(browser, f"{site['base']}/h/{site['link']}/data", "data")
    browser.execute_script("document.querySelector('h1').style.color = '#bbb';")
    assert [(v[0], v[2]) for v in axe_violations(browser)] == [("color-contrast", [["h1"]])]
    # The figures' table, opened and made wider than the phone: it scrolls in its box,
    # which the keyboard reaches; without tabindex axe-core reports it.
    yesterday = site["today"] - timedelta(days=1)
    load(browser, f"{site['base']}/h/{site['link']}/history?view=day&date={yesterday}", "history-day")
    wrap = "document.querySelector('details .table-wrap')"
    browser.execute_script(f"document.querySelector('details').open = true;"
                           f"{wrap}.querySelector('table').style.minWidth = '900px';")
    assert scrolled_away(browser) and axe_violations(browser) == []
    browser.execute_script(f"{wrap}.removeAttribute('tabindex');")
    found = axe_violations(browser)
    assert [(v[0], len(v[2])) for v in found] == [("scrollable-region-focusable", 1)], found
