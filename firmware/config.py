# Citizen Watt meter configuration: defaults, the JSON file on flash, and validation at the
# boundary so a bad file fails at boot with a sentence saying what to fix (ESPHome-style).

import json

# The reference board's wiring (hardware/pinout.csv, the build guide, the workshop tool and
# the host simulator all read these). ADC1 only: ADC2 cannot be read while Wi-Fi is on.
# Clamps 1-3 take the input-only pins 36, 34, 35, as the guide's board wires them (no
# pull-ups, nothing else on them); clamps 4-5 (not on the reference board) take 32 and 33.
# The AC-AC adapter takes 39. 37 and 38 are not broken out on most ESP32 boards.
CURRENT_PINS = (36, 34, 35, 32, 33)
VOLTAGE_PIN = 39
# GPIO of each ADC1 channel: ADC1_PINS[n] is ADC1_CHn.
ADC1_PINS = (36, 37, 38, 39, 32, 33, 34, 35)

DEFAULTS = {  # type: dict
    "meter_id": "",
    "wifi_ssid": "",
    "wifi_password": "",
    "mqtt_host": "",
    "mqtt_port": 1883,
    "mqtt_user": None,
    "mqtt_password": None,
    "keepalive_s": 60,
    "interval_s": 10,          # one reading every interval_s
    "measure_period_s": 2,     # one measurement of every channel every measure_period_s
    "mains_hz": 50,
    "nominal_v": 230.0,
    "sample_rate_hz": 4000,    # V/I pairs per second during a measurement window
    "cycles": 20,              # mains cycles per measurement window
    "atten_db": 11,
    "channels": [{"id": 0, "pin": CURRENT_PINS[0], "clamp": "SCT-013-000",
                  "max_current_a": 100.0}],
    "voltage": None,           # {"pin": VOLTAGE_PIN, "adapter_v": 9.0, "trim": 1.0, "phase_deg": 0.0}
    "queue_hours": 26,         # store-and-forward capacity (>= 24 h)
    "hass": False,             # Home Assistant MQTT discovery
    "hass_prefix": "homeassistant",
    "ntp_host": "pool.ntp.org",
    "wdt_s": 60,
    "safe_mode_strikes": 3,    # unfinished boots in a row before safe mode
    "backoff_min_s": 1,
    "backoff_max_s": 300,
}

CHANNEL_DEFAULTS = {  # type: dict
    "clamp": "SCT-013-000", "max_current_a": 100.0, "trim": 1.0, "reverse": False,
    "noise_a": None,
}


class ConfigError(ValueError):
    pass


def _need(cond, message):
    if not cond:
        raise ConfigError(message)


def _pin_list():
    return ", ".join([str(p) for p in sorted(ADC1_PINS)])


def validate(raw):
    """Merge raw (a dict from config.json) over DEFAULTS and check it; return the result."""
    _need(isinstance(raw, dict), "config.json doit contenir un objet JSON { ... }.")
    cfg = {}  # type: dict
    for k in DEFAULTS:
        cfg[k] = DEFAULTS[k]
    for k in raw:
        _need(k in DEFAULTS, "Clé inconnue %r dans config.json : vérifiez son orthographe "
              "(clés possibles : %s)." % (k, ", ".join(sorted(DEFAULTS))))
        cfg[k] = raw[k]
    mid = cfg["meter_id"]
    ok = isinstance(mid, str) and 0 < len(mid) <= 32
    if ok:
        for c in mid:
            if not ("a" <= c <= "z" or "0" <= c <= "9" or c in "-_"):
                ok = False
    _need(ok, "meter_id %r invalide : 1 à 32 caractères parmi a-z 0-9 - _ (par exemple "
          "\"atelier-07\")." % (mid,))
    _need(isinstance(cfg["mqtt_host"], str) and cfg["mqtt_host"] != "",
          "mqtt_host est vide : indiquez l'adresse du broker MQTT.")
    for k, lo, hi in (("mqtt_port", 1, 65535), ("interval_s", 1, 3600),
                      ("measure_period_s", 0.1, 3600), ("sample_rate_hz", 200, 50000),
                      ("cycles", 1, 200), ("queue_hours", 1, 24 * 30), ("wdt_s", 5, 3600),
                      ("keepalive_s", 0, 65535), ("safe_mode_strikes", 2, 100),
                      ("backoff_min_s", 0.1, 3600), ("backoff_max_s", 1, 86400),
                      ("nominal_v", 50, 400)):
        v = cfg[k]
        _need(isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi,
              "%s vaut %r : donnez un nombre entre %s et %s." % (k, v, lo, hi))
    _need(cfg["mains_hz"] in (50, 60), "mains_hz vaut %r : mettez 50 (Europe) ou 60."
          % (cfg["mains_hz"],))
    _need(cfg["measure_period_s"] <= cfg["interval_s"],
          "measure_period_s doit être inférieur ou égal à interval_s.")
    ratio = cfg["interval_s"] / cfg["measure_period_s"]
    _need(abs(ratio - round(ratio)) < 1e-6,
          "interval_s doit être un multiple de measure_period_s (par exemple 10 et 2).")
    window_s = cfg["cycles"] / cfg["mains_hz"]
    chans = cfg["channels"]
    _need(isinstance(chans, list) and 0 < len(chans) <= 6,
          "channels doit lister de 1 à 6 pinces.")
    _need(window_s * (len(chans)) < cfg["measure_period_s"],
          "Une mesure de %d pinces sur %d cycles dure plus que measure_period_s : réduisez "
          "cycles ou augmentez measure_period_s." % (len(chans), cfg["cycles"]))
    out = []
    seen = []
    used = []
    for c in chans:
        _need(isinstance(c, dict) and "id" in c and "pin" in c,
              "Chaque pince de channels doit avoir un id et une pin.")
        ch = {}  # type: dict
        for k in CHANNEL_DEFAULTS:
            ch[k] = CHANNEL_DEFAULTS[k]
        for k in c:
            ch[k] = c[k]
        _need(isinstance(ch["id"], int) and 0 <= ch["id"] < 6 and ch["id"] not in seen,
              "Pince id %r : un entier de 0 à 5, différent pour chaque pince." % (ch["id"],))
        seen.append(ch["id"])
        _need(ch["pin"] in ADC1_PINS and ch["pin"] not in used,
              "Pince id %d sur la broche %r : choisissez une entrée ADC1 libre parmi GPIO %s "
              "(carte de référence : id 0 sur %d, id 1 sur %d, id 2 sur %d). L'ADC2 ne mesure "
              "pas quand le Wi-Fi est actif." % (ch["id"], ch["pin"], _pin_list(),
                                                 CURRENT_PINS[0], CURRENT_PINS[1],
                                                 CURRENT_PINS[2]))
        used.append(ch["pin"])
        _need(isinstance(ch["trim"], (int, float)) and 0.5 <= ch["trim"] <= 2,
              "trim de la pince %d vaut %r : mettez un facteur entre 0.5 et 2 (1 sans "
              "étalonnage)." % (ch["id"], ch["trim"]))
        out.append(ch)
    cfg["channels"] = out
    v = cfg["voltage"]
    if v is not None:
        _need(isinstance(v, dict) and "pin" in v,
              "voltage doit être null ou un objet avec au moins \"pin\".")
        vv = {"adapter_v": 9.0, "trim": 1.0, "phase_deg": 0.0}
        for k in v:
            vv[k] = v[k]
        _need(vv["pin"] in ADC1_PINS and vv["pin"] not in used,
              "Tension sur la broche %r : choisissez une entrée ADC1 libre parmi GPIO %s, autre "
              "que celles des pinces (carte de référence : %d)."
              % (vv["pin"], _pin_list(), VOLTAGE_PIN))
        cfg["voltage"] = vv
    return cfg


def load(path, opener=open):
    try:
        with opener(path, "r") as f:
            text = f.read()
    except OSError:
        raise ConfigError("Fichier %s introuvable : copiez config.json sur la carte avec "
                          "l'outil d'atelier (citizenwatt atelier)." % path)
    try:
        raw = json.loads(text)
    except ValueError:
        raise ConfigError("%s n'est pas du JSON valide : vérifiez les virgules et les "
                          "guillemets." % path)
    return validate(raw)
