"""Texts a person reads, in French (default) and English, and how a request picks one."""

from __future__ import annotations

from fastapi import Request

LANGS = ("fr", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # -- errors (API and pages): say what went wrong and what to do next
    "err.meter_id": {
        "fr": "L'identifiant de compteur « {value} » n'est pas valide : utilisez 1 à 32 caractères parmi a-z, 0-9, - et _.",
        "en": "The meter id \"{value}\" is not valid: use 1 to 32 characters among a-z, 0-9, - and _.",
    },
    "err.meter_unknown": {
        "fr": "Le compteur « {meter_id} » n'a encore rien envoyé. Vérifiez son identifiant, ou attendez sa première mesure.",
        "en": "Meter \"{meter_id}\" has not sent anything yet. Check its id, or wait for its first reading.",
    },
    "err.range_order": {
        "fr": "La date de fin ({end}) est avant la date de début ({start}) : inversez-les.",
        "en": "The end date ({end}) is before the start date ({start}): swap them.",
    },
    "err.range_too_long": {
        "fr": "La période demandée compte {days} jours ; au pas « {resolution} », {max_days} jours au plus. Raccourcissez la période ou choisissez un pas plus grand (day, week, month).",
        "en": "The range spans {days} days; at resolution \"{resolution}\" at most {max_days} days are allowed. Shorten the range or pick a coarser resolution (day, week, month).",
    },
    "err.channel_twice": {
        "fr": "La voie {channel} est donnée deux fois : envoyez chaque voie une seule fois, avec son nom.",
        "en": "Channel {channel} is given twice: send each channel once, with its label.",
    },
    "err.body_too_large": {
        "fr": "Le contenu envoyé dépasse {max_mb} Mo : envoyez-le en plusieurs fois, par morceaux plus petits.",
        "en": "The request body is larger than {max_mb} MB: send it in several smaller parts.",
    },
    "err.date_bounds": {
        "fr": "La date {value} est hors des limites acceptées ({min} à {max}).",
        "en": "The date {value} is outside the accepted bounds ({min} to {max}).",
    },
    "err.timezone": {
        "fr": "Le fuseau horaire « {value} » est inconnu : utilisez un nom comme Europe/Paris.",
        "en": "The time zone \"{value}\" is unknown: use a name such as Europe/Paris.",
    },
    "err.param": {
        "fr": "Le paramètre « {name} » n'est pas valide ({detail}). Corrigez-le et réessayez.",
        "en": "The parameter \"{name}\" is not valid ({detail}). Fix it and try again.",
    },
    "err.body_object": {
        "fr": "Le contenu envoyé n'a pas la forme attendue : du JSON en UTF-8, un objet ou une liste selon l'adresse (voir /docs). Corrigez-le et réessayez.",
        "en": "The request body does not have the expected shape: JSON in UTF-8, an object or a list depending on the address (see /docs). Fix it and try again.",
    },
    "err.body": {
        "fr": "Le contenu envoyé n'est pas lisible (JSON attendu, en UTF-8). Corrigez-le et réessayez.",
        "en": "The request body cannot be read (JSON in UTF-8 expected). Fix it and try again.",
    },
    "err.not_found": {
        "fr": "Cette page n'existe pas. Vérifiez l'adresse.",
        "en": "This page does not exist. Check the address.",
    },
    "err.method": {
        "fr": "Cette adresse n'accepte pas la méthode {method}.",
        "en": "This address does not accept the {method} method.",
    },
    "err.auth_required": {
        "fr": "Il faut le lien secret de votre foyer, ou vous connecter comme membre de l'équipe (page /staff/login).",
        "en": "You need your household's secret link, or to sign in as staff (page /staff/login).",
    },
    "err.bad_token": {
        "fr": "Ce lien ou ce jeton n'est pas (ou plus) valable. Demandez un nouveau lien à l'animateur de l'atelier.",
        "en": "This link or token is not (or no longer) valid. Ask the workshop leader for a new link.",
    },
    "err.household_unknown": {
        "fr": "Foyer {household_id} introuvable avec ces droits. Vérifiez le lien ou le numéro.",
        "en": "Household {household_id} not found with these rights. Check the link or the number.",
    },
    "err.deployment_unknown": {
        "fr": "Déploiement {deployment_id} introuvable avec ces droits. Vérifiez le numéro.",
        "en": "Deployment {deployment_id} not found with these rights. Check the number.",
    },
    "err.staff_only": {
        "fr": "Cette page est réservée à l'équipe de l'association ; le lien d'un foyer n'y donne pas accès.",
        "en": "This is for the association's staff only; a household link does not open it.",
    },
    "err.role": {
        "fr": "Votre compte n'a pas le rôle nécessaire ({role}). Demandez-le à un administrateur.",
        "en": "Your account does not have the required role ({role}). Ask an administrator.",
    },
    "err.deployment_exists": {
        "fr": "Un déploiement s'appelle déjà « {name} » : choisissez un autre nom.",
        "en": "A deployment named \"{name}\" already exists: pick another name.",
    },
    "err.household_exists": {
        "fr": "Un foyer s'appelle déjà « {name} » dans ce déploiement : choisissez un autre nom.",
        "en": "A household named \"{name}\" already exists in this deployment: pick another name.",
    },
    "err.user_exists": {
        "fr": "Le compte « {name} » existe déjà : choisissez un autre identifiant.",
        "en": "The account \"{name}\" already exists: pick another username.",
    },
    "err.meter_elsewhere": {
        "fr": "Le compteur « {meter_id} » appartient à un autre déploiement.",
        "en": "Meter \"{meter_id}\" belongs to another deployment.",
    },
    "err.meter_not_registered": {
        "fr": "Le compteur « {meter_id} » n'est pas enregistré dans ce déploiement : enregistrez-le d'abord.",
        "en": "Meter \"{meter_id}\" is not registered in this deployment: register it first.",
    },
    "err.assignment_overlap": {
        "fr": "Le compteur « {meter_id} » mesure déjà un foyer depuis le {day} : choisissez une date après celle-ci.",
        "en": "Meter \"{meter_id}\" already measures a household from {day}: pick a later date.",
    },
    "err.meter_in_household": {
        "fr": "Le compteur « {meter_id} » mesure déjà le foyer « {household} » (depuis le {day}). Vérifiez la référence du foyer ; pour déplacer le compteur, utilisez POST /api/v1/households/<foyer>/meters avec la date du changement.",
        "en": "Meter \"{meter_id}\" already measures household \"{household}\" (since {day}). Check the household reference; to move the meter, use POST /api/v1/households/<household>/meters with the date of the move.",
    },
    "err.register_deployment": {
        "fr": "Votre compte voit tous les déploiements : indiquez lequel avec « deployment_id », ou utilisez le jeton d'un compte de ce déploiement (rôle leader).",
        "en": "Your account sees every deployment: say which one with \"deployment_id\", or use the token of an account of that deployment (leader role).",
    },
    "err.household_timezone": {
        "fr": "Les foyers de ce déploiement vivent à l'heure de {deployment_tz}, pas de {value} : envoyez ce fuseau (ou aucun), ou enregistrez ce foyer dans un déploiement de ce fuseau.",
        "en": "This deployment's households live on {deployment_tz} time, not {value}: send that time zone (or none), or register the household in a deployment with that time zone.",
    },
    "err.baseline_pair": {
        "fr": "Donnez le début et la fin de la période de référence, ou aucun des deux.",
        "en": "Give both the start and the end of the baseline period, or neither.",
    },
    "err.confirm_name": {
        "fr": "Pour confirmer la suppression, recopiez exactement le nom du foyer : « {name} ».",
        "en": "To confirm the deletion, type the household's name exactly: \"{name}\".",
    },
    "err.tariff_prices": {
        "fr": "Un tarif « {option} » a besoin de : {fields}.",
        "en": "A \"{option}\" tariff needs: {fields}.",
    },
    "err.token_unknown": {
        "fr": "Ce jeton n'existe pas parmi les vôtres.",
        "en": "No such token among yours.",
    },
    "err.login": {
        "fr": "Identifiant ou mot de passe incorrect. Réessayez, ou demandez à un administrateur de réinitialiser votre compte.",
        "en": "Wrong username or password. Try again, or ask an administrator to reset your account.",
    },
    "err.internal": {
        "fr": "Une erreur interne est survenue. Réessayez dans un instant ; si elle persiste, prévenez l'équipe de l'atelier.",
        "en": "An internal error occurred. Try again in a moment; if it persists, tell the workshop team.",
    },
    # -- the error page: a heading that says what happened, then a way back
    "errpage.400": {"fr": "Demande illisible", "en": "Request not readable"},
    "errpage.401": {"fr": "Connexion nécessaire", "en": "Sign-in needed"},
    "errpage.403": {"fr": "Accès refusé", "en": "Access denied"},
    "errpage.404": {"fr": "Page introuvable", "en": "Page not found"},
    "errpage.405": {"fr": "Action non permise ici", "en": "Action not allowed here"},
    "errpage.409": {"fr": "Déjà pris", "en": "Already taken"},
    "errpage.413": {"fr": "Envoi trop gros", "en": "Too much sent"},
    "errpage.422": {"fr": "Demande à corriger", "en": "Request to correct"},
    "errpage.4xx": {"fr": "Demande refusée", "en": "Request refused"},
    "errpage.5xx": {"fr": "Erreur du serveur", "en": "Server error"},
    "errpage.code": {"fr": "Code d'erreur {status}", "en": "Error code {status}"},
    "errpage.back_household": {"fr": "Retour à ma consommation", "en": "Back to my electricity use"},
    "errpage.back_home": {"fr": "Retour à l'accueil", "en": "Back to the home page"},
    # -- pages
    "page.title": {"fr": "Ma consommation d'électricité", "en": "My electricity use"},
    "page.meters": {"fr": "Compteurs", "en": "Meters"},
    "page.no_meters": {
        "fr": "Aucun compteur n'a encore envoyé de mesure. Branchez un compteur ou lancez la démo : citizenwatt demo",
        "en": "No meter has sent a reading yet. Plug in a meter or start the demo: citizenwatt demo",
    },
    "live.title": {"fr": "En ce moment", "en": "Right now"},
    "live.waiting": {"fr": "En attente d'une mesure…", "en": "Waiting for a reading…"},
    "live.updated": {"fr": "Mesuré il y a {age}", "en": "Measured {age} ago"},
    "live.stale": {
        "fr": "Aucune mesure depuis {age} : le compteur est peut-être débranché ou hors Wi-Fi.",
        "en": "No reading for {age}: the meter may be unplugged or out of Wi-Fi range.",
    },
    "live.offline": {
        "fr": "Connexion perdue avec le serveur, nouvel essai dans quelques secondes.",
        "en": "Lost the connection to the server, trying again in a few seconds.",
    },
    "live.channel": {"fr": "Pince {n}", "en": "Clamp {n}"},
    "today.title": {"fr": "Aujourd'hui, heure par heure", "en": "Today, hour by hour"},
    "today.total": {"fr": "Total depuis minuit : {energy}", "en": "Total since midnight: {energy}"},
    "today.gaps": {
        "fr": "{n} heure(s) sans mesure (barres absentes) : ce ne sont pas des zéros.",
        "en": "{n} hour(s) without readings (missing bars): these are not zeros.",
    },
    "chart.empty": {"fr": "Pas encore de mesure aujourd'hui.", "en": "No reading yet today."},
    "chart.label": {
        "fr": "Consommation par heure, en wattheures",
        "en": "Energy per hour, in watt-hours",
    },
    "nav.live": {"fr": "En direct", "en": "Live"},
    "nav.history": {"fr": "Historique", "en": "History"},
    "nav.savings": {"fr": "Économies", "en": "Savings"},
    "nav.compare": {"fr": "Comparer", "en": "Compare"},
    "nav.data": {"fr": "Mes données", "en": "My data"},
    "page.demo_mode": {"fr": "Mode démo : ces pages de compteurs sont ouvertes à tous tant qu'aucun foyer n'est créé.", "en": "Demo mode: these meter pages are open to anyone until a household is created."},
    "history.day": {"fr": "Jour", "en": "Day"},
    "history.month": {"fr": "Mois", "en": "Month"}, "history.month_heading": {"fr": "{month} {year}", "en": "{month} {year}"},
    "history.year": {"fr": "Année", "en": "Year"},
    "history.prev": {"fr": "Période précédente", "en": "Previous period"},
    "history.next": {"fr": "Période suivante", "en": "Next period"},
    "history.total": {"fr": "Total : {energy}", "en": "Total: {energy}"},
    "history.none": {"fr": "Aucune mesure sur cette période.", "en": "No readings in this period."},
    "history.gaps": {"fr": "{n} période(s) sans mesure (barres absentes) : ce ne sont pas des zéros.", "en": "{n} period(s) without readings (missing bars): these are not zeros."},
    "history.table": {"fr": "Voir les chiffres", "en": "See the figures"},
    "history.csv": {"fr": "Télécharger ces chiffres (CSV, tableur)", "en": "Download these figures (CSV, spreadsheet)"},
    "period": {"fr": "Du {start} au {end}", "en": "From {start} to {end}"},
    "form.from": {"fr": "Du", "en": "From"},
    "form.to": {"fr": "au", "en": "to"},
    "form.show": {"fr": "Afficher", "en": "Show"},
    "savings.energy": {"fr": "Énergie économisée", "en": "Energy saved"},
    "savings.pct": {"fr": "soit {pct} de moins qu'avant", "en": "that is {pct} less than before"},
    "savings.money": {"fr": "Argent économisé", "en": "Money saved"},
    "savings.co2": {"fr": "CO2 évité", "en": "CO2 avoided"},
    "savings.co2_factor": {"fr": "Facteur : {factor} g de CO2 par kWh.", "en": "Factor: {factor} g CO2 per kWh."},
    "savings.method": {"fr": "Comment c'est calculé", "en": "How it is computed"},
    "compare.you": {"fr": "Vous", "en": "You"},
    "compare.median": {"fr": "Foyers semblables (médiane)", "en": "Similar households (median)"},
    "compare.per_day": {"fr": "par jour en moyenne", "en": "a day on average"},
    "compare.less": {"fr": "Vous consommez {pct} % de moins que le foyer médian de votre groupe.", "en": "You use {pct}% less than the median household of your group."},
    "compare.more": {"fr": "Vous consommez {pct} % de plus que le foyer médian de votre groupe.", "en": "You use {pct}% more than the median household of your group."},
    "compare.no_own_data": {"fr": "Pas assez de jours mesurés en entier chez vous sur cette période pour comparer.", "en": "Not enough fully measured days at your home in this period to compare."},
    "compare.no_profile": {"fr": "Votre foyer n'a pas encore de profil (type de logement, chauffage) : demandez à l'animateur de l'atelier de le renseigner pour pouvoir comparer.", "en": "Your household has no profile yet (type of home, heating): ask the workshop leader to set it so you can compare."},
    "compare.too_small": {"fr": "Comparaison indisponible : {n} foyer(s) semblable(s) avec assez de mesures, il en faut au moins {min} pour que personne ne soit reconnaissable.", "en": "Comparison unavailable: {n} similar household(s) with enough readings, at least {min} are needed so nobody can be recognised."},
    "compare.method": {"fr": "On compare votre consommation moyenne par jour (jours mesurés en entier) à la médiane des autres foyers du même déploiement et du même profil (« {profile} ») : la moitié consomme moins, l'autre moitié plus. Elle n'est montrée que si au moins {min} foyers ont assez de mesures, toujours sur une semaine au moins et arrondie au demi-kWh : aucun chiffre d'un autre foyer n'est montré.", "en": "Your mean use per day (fully measured days) is compared with the median of the other households of the same deployment and profile (\"{profile}\"): half of them use less, half more. It is shown only when at least {min} households have enough readings, always over a week at least and rounded to half a kWh: no other household's figure is ever shown."},
    "data.export": {"fr": "Emporter mes données", "en": "Take my data"},
    "data.export_text": {"fr": "Tout ce que nous gardons sur votre foyer, dans un fichier : profil, compteurs, énergie heure par heure.", "en": "Everything we keep about your household, in one file: profile, meters, energy hour by hour."},
    "data.export_json": {"fr": "Télécharger toutes mes données (JSON)", "en": "Download all my data (JSON)"},
    "data.delete": {"fr": "Supprimer mes données", "en": "Delete my data"},
    "data.delete_text": {"fr": "La suppression efface votre foyer, son lien et les mesures de ses compteurs pendant qu'ils étaient chez vous. C'est définitif : téléchargez d'abord vos données si vous voulez les garder.", "en": "Deleting erases your household, its link and its meters' readings while they were at your home. It cannot be undone: download your data first if you want to keep it."},
    "data.delete_confirm": {"fr": "Pour confirmer, recopiez le nom du foyer : « {name} »", "en": "To confirm, type the household's name: \"{name}\""},
    "data.delete_button": {"fr": "Tout supprimer", "en": "Delete everything"},
    "data.deleted": {"fr": "Données supprimées", "en": "Data deleted"},
    "data.deleted_text": {"fr": "Votre foyer et ses mesures sont effacés. Ce lien ne fonctionne plus.", "en": "Your household and its readings are erased. This link no longer works."},
    "data.deleted_record_only": {"fr": "Votre foyer et son lien sont effacés. Les mesures brutes restent dans le stockage de séries temporelles, qui ne sait pas encore les effacer : l'équipe les effacera à la main.", "en": "Your household and its link are erased. The raw readings stay in the time-series store, which cannot erase them yet: the staff will erase them by hand."},
    "landing.text": {"fr": "Pour voir la consommation de votre foyer, ouvrez le lien secret que l'animateur de l'atelier vous a donné (ou scannez son QR code).", "en": "To see your household's use, open the secret link the workshop leader gave you (or scan its QR code)."},
    "landing.staff": {"fr": "Espace de l'équipe", "en": "Staff area"},
    "login.title": {"fr": "Connexion de l'équipe", "en": "Staff sign-in"},
    "login.username": {"fr": "Identifiant", "en": "Username"},
    "login.password": {"fr": "Mot de passe", "en": "Password"},
    "login.submit": {"fr": "Se connecter", "en": "Sign in"},
    "staff.title": {"fr": "Compteurs et foyers", "en": "Meters and households"},
    "staff.signed_in": {"fr": "Connecté : {user} ({role})", "en": "Signed in: {user} ({role})"},
    "staff.logout": {"fr": "Se déconnecter", "en": "Sign out"},
    "staff.meters": {"fr": "Compteurs", "en": "Meters"},
    "staff.meter": {"fr": "Compteur", "en": "Meter"},
    "staff.state": {"fr": "État", "en": "State"},
    "staff.last_seen": {"fr": "Dernier relevé", "en": "Last reading"},
    "staff.faults": {"fr": "Pinces en défaut", "en": "Clamp faults"},
    "staff.drops": {"fr": "Pertes file", "en": "Queue drops"},
    "staff.household": {"fr": "Foyer", "en": "Household"},
    "staff.households": {"fr": "Foyers", "en": "Households"},
    "staff.profile": {"fr": "Profil", "en": "Profile"},
    "staff.link": {"fr": "Lien", "en": "Link"},
    "staff.link_active": {"fr": "actif", "en": "active"},
    "staff.link_revoked": {"fr": "révoqué", "en": "revoked"},
    "staff.online": {"fr": "en ligne", "en": "online"},
    "staff.offline": {"fr": "hors ligne", "en": "offline"},
    "staff.never": {"fr": "jamais vu", "en": "never seen"},
    "staff.no_meters": {"fr": "Aucun compteur enregistré.", "en": "No meter registered."},
    "staff.no_households": {"fr": "Aucun foyer.", "en": "No household."},
    "month.1": {"fr": "janvier", "en": "January"},
    "month.2": {"fr": "février", "en": "February"},
    "month.3": {"fr": "mars", "en": "March"},
    "month.4": {"fr": "avril", "en": "April"},
    "month.5": {"fr": "mai", "en": "May"},
    "month.6": {"fr": "juin", "en": "June"},
    "month.7": {"fr": "juillet", "en": "July"},
    "month.8": {"fr": "août", "en": "August"},
    "month.9": {"fr": "septembre", "en": "September"},
    "month.10": {"fr": "octobre", "en": "October"},
    "month.11": {"fr": "novembre", "en": "November"},
    "month.12": {"fr": "décembre", "en": "December"},
    "lang.switch": {"fr": "English", "en": "Français"},
    "unit.s": {"fr": "{n} s", "en": "{n} s"},
    "unit.min": {"fr": "{n} min", "en": "{n} min"},
    "unit.h": {"fr": "{n} h", "en": "{n} h"},
    "unit.d": {"fr": "{n} j", "en": "{n} d"},
}


def t(lang: str, key: str, **params) -> str:
    entry = MESSAGES[key]
    text = entry.get(lang) or entry["fr"]
    return text.format(**params) if params else text


def negotiate(query_lang: str | None, accept_language: str | None, default: str = "fr") -> str:
    """?lang= wins, then the browser's Accept-Language (by q-value), then the default."""
    if query_lang in LANGS:
        return query_lang
    best, best_q = None, 0.0
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        # Earlier entries win ties, as browsers list them in preference order.
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best or default


def request_lang(request: Request) -> str:
    """Pages: ?lang= (the pages' links carry it on), else French, the households' language,
    whatever the phone's locale. JSON API: ?lang=, then the client's Accept-Language (the
    workshop tool sends it), then the default."""
    settings = getattr(request.app.state, "settings", None)
    default = settings.default_lang if settings else "fr"
    accept = request.headers.get("accept-language") if request.url.path.startswith("/api/") else None
    return negotiate(request.query_params.get("lang"), accept, default)


def format_number(value: float, lang: str, decimals: int = 0) -> str:
    s = f"{value:,.{decimals}f}"
    if lang == "fr":
        # French: narrow no-break space between thousands, comma for decimals.
        s = s.replace(",", "\u202f").replace(".", ",")
    return s


def format_energy(energy_wh: float, lang: str) -> str:
    if abs(energy_wh) >= 1000:
        return format_number(energy_wh / 1000, lang, 2) + "\u00a0kWh"
    return format_number(energy_wh, lang, 0) + "\u00a0Wh"


def format_power(power_w: float, lang: str) -> str:
    if abs(power_w) >= 10000:
        return format_number(power_w / 1000, lang, 1) + "\u00a0kW"
    return format_number(power_w, lang, 0) + "\u00a0W"


def format_age(age_s: float, lang: str) -> str:
    age_s = max(0, int(age_s))
    if age_s < 120:
        return t(lang, "unit.s", n=age_s)
    if age_s < 7200:
        return t(lang, "unit.min", n=age_s // 60)
    if age_s < 172800:
        return t(lang, "unit.h", n=age_s // 3600)
    return t(lang, "unit.d", n=age_s // 86400)
