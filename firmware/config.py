# Citizen Watt meter configuration: defaults, the JSON file on flash, and validation at the
# boundary so a bad file fails at boot with a sentence saying what to fix (ESPHome-style).

import binascii
import json

from . import calib

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
    "mqtt_port": 1883,         # 8883 when mqtt_tls and no mqtt_port is given
    "mqtt_user": None,
    "mqtt_password": None,
    "mqtt_tls": False,         # MQTT over TLS, the broker's certificate checked against ca_file
    # The one CA file (PEM, beside config.json; the workshop copies it): the authorities the
    # meter trusts, for MQTT over TLS and for update downloads over HTTPS alike. It may hold
    # several certificates (the association's CA, and the root of the API's HTTPS
    # certificate when another authority signed it, e.g. Let's Encrypt's ISRG Root X1).
    "ca_file": "ca.pem",
    "mqtt_server_name": None,  # the name in the broker's certificate (None: mqtt_host)
    "mqtt_timeout_s": 10,      # longest wait for the broker's answer (CONNACK, PUBACK...)
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
    # The deployment's Ed25519 public key (64 hex digits) that signs firmware updates;
    # empty: the meter takes no update over Wi-Fi (docs/firmware.md).
    "update_key": "",
}

# Old names still read, for one release: mqtt_ca_file is now ca_file (the download of an
# update uses the same CA file as MQTT).
OLD_NAMES = {"mqtt_ca_file": "ca_file"}
# The most certificates ca_file may hold: each takes 1 to 2 kB of the ESP32's heap.
MAX_CA_CERTS = 4

# The most V/I pairs one window may hold: two int arrays of this size stay under 64 KB of
# the ESP32's heap (the default window is 1,600 pairs).
MAX_WINDOW_PAIRS = 8000

CHANNEL_DEFAULTS = {  # type: dict
    "clamp": "SCT-013-000", "max_current_a": 100.0, "trim": 1.0, "reverse": False,
    "noise_a": None,
    # What the clamp measures, in the workshop's words ("Toute la maison", "Chauffe-eau"):
    # published in the status, so the server can tell a whole-house clamp from a sub-circuit.
    "label": "",
    # "consumption" (the default, a sub-circuit or a household that never exports): only
    # imported energy counts, and clearly negative power means the clamp is on backwards.
    # "bidirectional" (the mains clamp of a household with solar panels): power below zero
    # is energy sent back to the grid, counted in the channel's export counter.
    "direction": "consumption",
}
DIRECTIONS = ("consumption", "bidirectional")
MAX_LABEL = 40


class ConfigError(ValueError):
    pass


def _need(cond, message):
    if not cond:
        raise ConfigError(message)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _pin_list():
    return ", ".join([str(p) for p in sorted(ADC1_PINS)])


def _channel(c, seen, used):
    """One entry of channels merged over CHANNEL_DEFAULTS and checked; its id joins seen and
    its pin joins used, so that the next entries cannot take them again."""
    _need(isinstance(c, dict) and "id" in c and "pin" in c,
          "Chaque pince de channels doit avoir un id et une pin.")
    ch = {}  # type: dict
    for k in CHANNEL_DEFAULTS:
        ch[k] = CHANNEL_DEFAULTS[k]
    for k in c:
        _need(k in CHANNEL_DEFAULTS or k in ("id", "pin"),
              "Clé inconnue %r dans une pince de channels : vérifiez son orthographe (clés "
              "possibles : id, pin, %s)." % (k, ", ".join(sorted(CHANNEL_DEFAULTS))))
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
    _need(_is_number(ch["trim"]) and 0.5 <= ch["trim"] <= 2,
          "trim de la pince %d vaut %r : mettez un facteur entre 0.5 et 2 (1 sans "
          "étalonnage)." % (ch["id"], ch["trim"]))
    _need(_is_number(ch["max_current_a"]) and 0 < ch["max_current_a"] <= 200,
          "max_current_a de la pince %d vaut %r : donnez le courant maximal en ampères, "
          "au plus 200 (100 pour une SCT-013-000)." % (ch["id"], ch["max_current_a"]))
    _need(isinstance(ch["reverse"], bool),
          "reverse de la pince %d vaut %r : mettez true (pince posée à l'envers) ou false."
          % (ch["id"], ch["reverse"]))
    _need(ch["noise_a"] is None or (_is_number(ch["noise_a"]) and 0 <= ch["noise_a"] < 5),
          "noise_a de la pince %d vaut %r : mettez null, ou le bruit mesuré pince "
          "débranchée, en ampères (entre 0 et 5)." % (ch["id"], ch["noise_a"]))
    _need(ch["direction"] in DIRECTIONS,
          "direction de la pince %d vaut %r : mettez \"consumption\" (consommation seule) ou "
          "\"bidirectional\" (pince du compteur d'un foyer qui renvoie de l'énergie au réseau, "
          "panneaux solaires)." % (ch["id"], ch["direction"]))
    _need(isinstance(ch["label"], str) and len(ch["label"]) <= MAX_LABEL,
          "label de la pince %d vaut %r : écrivez ce qu'elle mesure entre guillemets, %d "
          "caractères au plus (par exemple \"Chauffe-eau\")." % (ch["id"], ch["label"], MAX_LABEL))
    return ch


def _check_mqtt(cfg):
    """The broker account and TLS settings."""
    for k in ("mqtt_user", "mqtt_password"):
        _need(cfg[k] is None or isinstance(cfg[k], str),
              "%s vaut %r : écrivez-le entre guillemets, ou null sans identifiant." % (k, cfg[k]))
    _need(cfg["mqtt_user"] is not None or cfg["mqtt_password"] is None,
          "mqtt_password est donné sans mqtt_user : MQTT n'envoie pas de mot de passe sans "
          "identifiant ; mettez mqtt_user (l'identifiant du compteur) ou mqtt_password à null.")
    _need(isinstance(cfg["mqtt_tls"], bool), "mqtt_tls vaut %r : mettez true (MQTT chiffré, "
          "port 8883) ou false." % (cfg["mqtt_tls"],))
    _need(isinstance(cfg["ca_file"], str) and 0 < len(cfg["ca_file"]) <= 64,
          "ca_file vaut %r : donnez le nom du fichier des certificats d'autorité, "
          "\"ca.pem\" à côté de config.json." % (cfg["ca_file"],))
    _need(cfg["mqtt_server_name"] is None or (isinstance(cfg["mqtt_server_name"], str)
                                              and cfg["mqtt_server_name"] != ""),
          "mqtt_server_name vaut %r : donnez le nom inscrit dans le certificat du broker "
          "(par exemple \"mqtt.example.org\"), ou null pour mqtt_host."
          % (cfg["mqtt_server_name"],))
    # The waits of one connection (TCP, TLS, CONNACK) fit before the watchdog bites.
    _need(3 * cfg["mqtt_timeout_s"] <= cfg["wdt_s"],
          "mqtt_timeout_s vaut %r : trois attentes du broker doivent tenir dans wdt_s (%r s) ; "
          "réduisez mqtt_timeout_s ou augmentez wdt_s." % (cfg["mqtt_timeout_s"], cfg["wdt_s"]))


def _merge(raw):
    """raw over DEFAULTS, each key known (an old name read as its new one)."""
    _need(isinstance(raw, dict), "config.json doit contenir un objet JSON { ... }.")
    cfg = {}  # type: dict
    for k in DEFAULTS:
        cfg[k] = DEFAULTS[k]
    for k in raw:
        new = OLD_NAMES.get(k)
        if new is not None:
            if new in raw and raw[new] != raw[k]:
                raise ConfigError("%s et %s donnent deux fichiers (%r et %r) : le compteur n'a "
                                  "qu'un fichier d'autorités, pour MQTT et pour les mises à "
                                  "jour ; gardez seulement %s." % (k, new, raw[k], raw[new], new))
            cfg[new] = raw[k]
            continue
        _need(k in DEFAULTS, "Clé inconnue %r dans config.json : vérifiez son orthographe "
              "(clés possibles : %s)." % (k, ", ".join(sorted(DEFAULTS))))
        cfg[k] = raw[k]
    return cfg


def validate(raw):
    """Merge raw (a dict from config.json) over DEFAULTS and check it; return the result."""
    cfg = _merge(raw)
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
    if cfg["mqtt_tls"] is True and "mqtt_port" not in raw:
        cfg["mqtt_port"] = 8883
    _need(cfg["keepalive_s"] != 0,
          "keepalive_s vaut 0 : cela couperait la détection des liens morts par le broker, et "
          "avec elle l'état hors ligne (last will) ; mettez un nombre de secondes, 60 par "
          "défaut.")
    for k, lo, hi in (("mqtt_port", 1, 65535), ("interval_s", 1, 3600),
                      ("measure_period_s", 0.1, 3600), ("sample_rate_hz", 200, 50000),
                      ("cycles", 1, 200), ("queue_hours", 1, 24 * 30), ("wdt_s", 5, 3600),
                      ("keepalive_s", 1, 65535), ("safe_mode_strikes", 2, 100),
                      ("mqtt_timeout_s", 0.1, 60),
                      ("backoff_min_s", 0.1, 3600), ("backoff_max_s", 1, 86400),
                      ("nominal_v", 50, 400)):
        v = cfg[k]
        _need(isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi,
              "%s vaut %r : donnez un nombre entre %s et %s." % (k, v, lo, hi))
    _need(cfg["mains_hz"] in (50, 60), "mains_hz vaut %r : mettez 50 (Europe) ou 60."
          % (cfg["mains_hz"],))
    for k in ("wifi_ssid", "wifi_password"):
        _need(isinstance(cfg[k], str), "%s vaut %r : écrivez-le entre guillemets (un texte)."
              % (k, cfg[k]))
    _check_mqtt(cfg)
    uk = cfg["update_key"]
    _need(isinstance(uk, str) and (uk == "" or (len(uk) == 64 and not uk.strip(
        "0123456789abcdef"))), "update_key vaut %r : collez la clé publique du déploiement "
          "(64 chiffres hexadécimaux, citizenwatt admin firmware-key) ou laissez \"\"." % (uk,))
    _need(isinstance(cfg["hass"], bool), "hass vaut %r : mettez true ou false." % (cfg["hass"],))
    _need(cfg["atten_db"] in calib.ADC_LINEAR_V and not isinstance(cfg["atten_db"], bool),
          "atten_db vaut %r : mettez 11 (0 à 3,1 V, le montage de référence), 6, 2.5 ou 0."
          % (cfg["atten_db"],))
    _need(isinstance(cfg["cycles"], int),
          "cycles vaut %r : donnez un nombre entier de cycles du secteur (par exemple 20)."
          % (cfg["cycles"],))
    pairs = cfg["cycles"] * cfg["sample_rate_hz"] / cfg["mains_hz"]
    _need(pairs <= MAX_WINDOW_PAIRS,
          "Une fenêtre de %d cycles à %s paires/s fait %d mesures, plus que les %d que la "
          "mémoire de l'ESP32 peut garder : réduisez cycles ou sample_rate_hz."
          % (cfg["cycles"], cfg["sample_rate_hz"], pairs, MAX_WINDOW_PAIRS))
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
    seen = []  # type: list
    used = []  # type: list
    for c in chans:
        out.append(_channel(c, seen, used))
    cfg["channels"] = out
    v = cfg["voltage"]
    if v is not None:
        _need(isinstance(v, dict) and "pin" in v,
              "voltage doit être null ou un objet avec au moins \"pin\".")
        vv = {"adapter_v": 9.0, "trim": 1.0, "phase_deg": 0.0}
        for k in v:
            _need(k in vv or k == "pin",
                  "Clé inconnue %r dans voltage : vérifiez son orthographe (clés possibles : "
                  "pin, adapter_v, trim, phase_deg)." % (k,))
            vv[k] = v[k]
        _need(_is_number(vv["adapter_v"]) and 1 <= vv["adapter_v"] <= 48,
              "voltage.adapter_v vaut %r : donnez la tension de sortie de l'adaptateur AC-AC "
              "en volts (9 pour celui du guide)." % (vv["adapter_v"],))
        _need(_is_number(vv["trim"]) and 0.5 <= vv["trim"] <= 2,
              "voltage.trim vaut %r : mettez un facteur entre 0.5 et 2 (1 sans étalonnage)."
              % (vv["trim"],))
        _need(_is_number(vv["phase_deg"]) and -30 <= vv["phase_deg"] <= 30,
              "voltage.phase_deg vaut %r : donnez l'avance de phase de l'adaptateur en degrés, "
              "entre -30 et 30 (0 si inconnue)." % (vv["phase_deg"],))
        _need(vv["pin"] in ADC1_PINS and vv["pin"] not in used,
              "Tension sur la broche %r : choisissez une entrée ADC1 libre parmi GPIO %s, autre "
              "que celles des pinces (carte de référence : %d)."
              % (vv["pin"], _pin_list(), VOLTAGE_PIN))
        cfg["voltage"] = vv
    for ch in out:
        # Without voltage the power is apparent, never negative: export cannot be seen.
        _need(ch["direction"] != "bidirectional" or cfg["voltage"] is not None,
              "La pince %d est bidirectional mais la carte n'a pas d'adaptateur de tension "
              "(voltage) : sans tension, le sens de l'énergie ne se mesure pas. Ajoutez "
              "voltage, ou mettez direction \"consumption\"." % ch["id"])
    # The design of each channel must exist, or the meter would fail at every boot.
    for ch in out:
        try:
            calib.design(clamp=ch["clamp"], max_current_a=ch["max_current_a"],
                         atten_db=cfg["atten_db"], mains_v=cfg["nominal_v"],
                         mains_hz=cfg["mains_hz"],
                         adapter_v=cfg["voltage"]["adapter_v"] if cfg["voltage"] else 0.0,
                         sample_rate_hz=cfg["sample_rate_hz"])
        except calib.DesignError as e:
            # from None here and below: the sentence says it all, and MicroPython warns on
            # `from e` at the meter's console.
            raise ConfigError("Pince %d : %s" % (ch["id"], e)) from None
    return cfg


def pem_certs(text, path="ca.pem"):
    """Every certificate of a PEM file, as a list of DER bytes (what MicroPython's
    SSLContext takes, one load_verify_locations() each; CPython's too)."""
    if isinstance(text, bytes):
        text = text.decode()
    begin = "-----BEGIN CERTIFICATE-----"
    end = "-----END CERTIFICATE-----"
    out = []  # type: list
    a = text.find(begin)
    _need(a >= 0 and text.find(end, a) > a, "%s ne contient pas de certificat (-----BEGIN "
          "CERTIFICATE-----) : copiez-y le certificat de l'autorité du broker "
          "(citizenwatt-ca.crt) avec citizenwatt provision." % path)
    while a >= 0:
        b = text.find(end, a)
        _need(b > a, "%s : un certificat n'a pas de fin (-----END CERTIFICATE-----) ; recopiez "
              "le fichier avec citizenwatt provision." % path)
        try:
            der = binascii.a2b_base64("".join(text[a + len(begin):b].split()))
        except ValueError:
            der = b""
        _need(len(der) > 100 and der[0] == 0x30, "%s : le certificat n° %d est abîmé (base64 "
              "invalide) ; recopiez citizenwatt-ca.crt avec citizenwatt provision."
              % (path, len(out) + 1))
        out.append(der)
        _need(len(out) <= MAX_CA_CERTS, "%s contient plus de %d certificats : gardez l'autorité "
              "du broker (citizenwatt-ca.crt) et, s'il en a une autre, celle du certificat HTTPS "
              "du serveur des mises à jour." % (path, MAX_CA_CERTS))
        a = text.find(begin, b)
    return out


def needs_ca(cfg):
    """Why this meter needs its CA file (the French words of the sentence when it is
    missing), or None: MQTT over TLS, and updates over Wi-Fi (downloaded over HTTPS)."""
    if cfg["mqtt_tls"]:
        return "mqtt_tls vaut true"
    if cfg["update_key"]:
        return "update_key est donnée (les mises à jour se téléchargent en HTTPS)"
    return None


def load(path, opener=open):
    try:
        with opener(path, "r") as f:
            text = f.read()
    except OSError:
        raise ConfigError("Fichier %s introuvable : copiez config.json sur la carte avec "
                          "l'outil d'atelier (citizenwatt provision)." % path) from None
    try:
        raw = json.loads(text)
    except ValueError:
        raise ConfigError("%s n'est pas du JSON valide : vérifiez les virgules et les "
                          "guillemets." % path) from None
    cfg = validate(raw)
    cfg["cadata"] = None
    why = needs_ca(cfg)
    if why:
        # The CA file sits beside config.json; read once here so that a missing or damaged
        # file fails at boot with its sentence, not at every connection or download.
        ca = cfg["ca_file"]
        if not ca.startswith("/"):
            k = path.rfind("/")
            ca = path[:k + 1] + ca if k >= 0 else ca
        try:
            with opener(ca, "r") as f:
                pem = f.read()
        except OSError:
            raise ConfigError("Fichier %s introuvable alors que %s : copiez le certificat de "
                              "l'autorité du broker sur la carte avec citizenwatt provision "
                              "(clé ca_file du profil)." % (ca, why)) from None
        cfg["cadata"] = pem_certs(pem, ca)
    return cfg
