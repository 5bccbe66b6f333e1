"""The README's own steps, as a person follows them: `citizenwatt demo`, then
`citizenwatt admin deployment "Atelier"` and `citizenwatt admin household "Atelier" "Foyer 1"
--meter demo-01`, then the household link in a browser (headless Chromium). The day's total
must be the whole-house clamp's energy, not whole house + water heater: the demo's meters
publish their clamps' labels ("Toute la maison", "Chauffe-eau") and `admin household`
derives the roles from them; the water heater shows as a breakdown ("dont chauffe-eau").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from citizenwatt.config import DEFAULT_TIMEZONE
from citizenwatt.store.sqlite import SqliteStore
from tests.services import free_port
from tests.test_demo import stop, wait_for

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TZ = ZoneInfo(DEFAULT_TIMEZONE)  # the demo's and the deployment's default zone


def citizenwatt(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "citizenwatt.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def kwh(text: str) -> tuple[float, float]:
    """ "9,64 kWh" -> (9.64, 0.005): the value in kWh and half its last shown digit."""
    m = re.search(r"([\d\u202f\u00a0 ]+(?:,\d+)?)\s*(kWh|Wh)", text)
    assert m, f"no energy in {text!r}"
    digits = re.sub(r"[\u202f\u00a0 ]", "", m.group(1)).replace(",", ".")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    scale = 1.0 if m.group(2) == "kWh" else 0.001
    return float(digits) * scale, 0.5 * 10 ** -decimals * scale


@pytest.fixture
def chromium(tmp_path):
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
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=360,800", "--lang=fr-FR",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
    yield driver
    driver.quit()


def test_readme_steps_give_the_whole_house_total_with_the_water_heater_as_a_breakdown(tmp_path, chromium):
    from selenium.webdriver.common.by import By

    data = tmp_path / "citizenwatt-data"
    port, mqtt_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, CITIZENWATT_MQTT__PORT=str(mqtt_port), PYTHONUNBUFFERED="1",
               CITIZENWATT_LANG="fr")
    for k in ("CITIZENWATT_MQTT__HOST", "CITIZENWATT_API__TIMEZONE", "CITIZENWATT_API__DATABASE_URL"):
        env.pop(k, None)
    # One reading every 10 minutes after the replay of the day since midnight: the figures
    # stay still while the test compares them.
    demo = subprocess.Popen(
        [sys.executable, "-m", "citizenwatt.cli", "demo", "--data-dir", str(data), "--port", str(port),
         "--meters", "1", "--interval", "600"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def replayed():
            meters = httpx.get(f"{base}/api/v1/meters", timeout=5).json()["meters"]
            m = next((m for m in meters if m["meter_id"] == "demo-01"), None)
            return (m is not None and m["last_ts_utc"] > time.time() - 300 and len(m["channels"]) == 2
                    and (m["status"] or {}).get("labels") and m)

        meter = wait_for(replayed, 240)
        assert meter["status"]["labels"] == {"0": "Toute la maison", "1": "Chauffe-eau"}

        # The README's admin steps, with the same data folder.
        r = citizenwatt("admin", "deployment", "Atelier", "--data-dir", str(data), env=env)
        assert r.returncode == 0, r.stderr
        r = citizenwatt("admin", "household", "Atelier", "Foyer 1", "--meter", "demo-01",
                        "--data-dir", str(data), env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert 'Pince 1 "Toute la maison" : comptée dans le total du foyer.' in r.stdout
        assert 'Pince 2 "Chauffe-eau" : montrée en détail' in r.stdout
        link = re.search(r"/h/[A-Za-z0-9_-]+", r.stdout).group(0)

        chromium.get(base + link)
        wait_for(lambda: chromium.execute_script("return document.readyState") == "complete", 30)
        total_text = chromium.find_element(By.ID, "today-total").text
        breakdown_text = chromium.find_element(By.ID, "today-breakdown").text
        ARTIFACTS.mkdir(exist_ok=True)
        chromium.save_screenshot(str(ARTIFACTS / "demo-household-roles-360.png"))

        # The store's own figures for the same local day: the whole-house clamp (channel 0)
        # and the water heater's (channel 1).
        now = time.time()
        day = datetime.fromtimestamp(now, TZ).date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()
        store = SqliteStore(data / "readings.sqlite")
        try:
            main_wh = sum(h.energy_wh for h in store.hourly("demo-01", midnight, now + 3600, 0))
            heater_wh = sum(h.energy_wh for h in store.hourly("demo-01", midnight, now + 3600, 1))
        finally:
            store.close()
    finally:
        out = stop(demo)
    assert "Traceback" not in out

    shown, half_digit = kwh(total_text)
    assert "Total depuis minuit" in total_text
    # Within 0.5 % (or the page's rounding, when that is coarser), and not the double count.
    assert abs(shown * 1000 - main_wh) <= max(0.005 * main_wh, half_digit * 1000), \
        f"page {total_text!r}, whole-house clamp {main_wh:.1f} Wh, water heater {heater_wh:.1f} Wh"
    assert breakdown_text.startswith("dont chauffe-eau :"), breakdown_text
    heater_shown, heater_half = kwh(breakdown_text)
    assert abs(heater_shown * 1000 - heater_wh) <= max(0.005 * heater_wh, heater_half * 1000)
