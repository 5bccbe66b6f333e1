"""Per-meter MQTT credentials for Mosquitto: a password-file entry and ACL lines.

The password entry uses Mosquitto 2's own format (what `mosquitto_passwd` writes):
    <user>:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>
The ACL block lets the meter write under cw/<meter_id>/# only (the wire contract's
topics), and under Home Assistant's discovery prefix for its own node when enabled.
Both files are rewritten whole through a temporary file, so a meter done twice has one
entry, and a cut never leaves a half-written file for Mosquitto to choke on.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from citizenwatt.firmware import wire
from citizenwatt.i18n import N_
from citizenwatt.workshop.errors import WorkshopError

ITERATIONS = 101  # mosquitto_passwd's default
COLLECTOR_PREFIX = "cwc-"  # collector accounts; refused as a meter id (acl_lines)
API_PREFIX = "cwa-"  # the API's account (meter commands); refused as a meter id too
SALT_BYTES = 12


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return "$7$%d$%s$%s" % (iterations, base64.b64encode(salt).decode(),
                            base64.b64encode(digest).decode())


def check_password(entry_hash: str, password: str) -> bool:
    try:
        _, kind, iterations, salt, digest = entry_hash.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    return secrets.compare_digest(got, base64.b64decode(digest))


def new_password() -> str:
    return secrets.token_urlsafe(18)


def _rewrite(path: Path, text: str) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        st = path.stat() if path.exists() else None
        mode = st.st_mode & 0o777 if st else 0o600
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if st and os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
            # root:mosquitto 0640: Mosquitto rereads the files on SIGHUP as its own user,
            # so a rewrite by root must keep the group, not leave root:root
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except OSError as e:
        raise WorkshopError(
            "mqtt.file",
            N_("Cannot write {path} ({detail}). Check the path and the permissions (sudo?), then try again."),
            path=str(path),
            detail=e.strerror or str(e),
        ) from None


def set_password(passwd_file: Path, username: str, password: str) -> None:
    """Add or replace `username`'s entry."""
    if ":" in username or not username:
        raise WorkshopError(
            "config.invalid",
            N_("Invalid meter configuration: {detail}. Fix this value then try again."),
            detail=f"MQTT user {username!r}",
        )
    path = Path(passwd_file)
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [ln for ln in lines if ln.split(":", 1)[0] != username]
    kept.append(f"{username}:{hash_password(password)}")
    _rewrite(path, "\n".join(kept) + "\n")


def acl_lines(meter_id: str, username: str | None = None, hass_prefix: str | None = None) -> list[str]:
    wire.check_meter_id(meter_id)
    if meter_id.startswith(COLLECTOR_PREFIX) or meter_id.startswith(API_PREFIX):
        raise WorkshopError(
            "config.invalid",
            N_("Invalid meter configuration: {detail}. Fix this value then try again."),
            detail=f"meter id {meter_id!r} starts with {meter_id[:4]!r}, kept for the server's accounts",
        )
    lines = ["user %s" % (username or meter_id), f"topic write {wire.TOPIC_ROOT}/{meter_id}/#",
             # its retained counters, read back at connect, and the commands the server sends
             # it (firmware updates), which it may read but never write
             f"topic read {wire.counters_topic(meter_id)}",
             f"topic read {wire.COMMAND_ROOT}/{meter_id}/#"]
    if hass_prefix:
        # Discovery configs under <prefix>/<component>/<meter_id>/<object>/config.
        lines.append(f"topic write {hass_prefix}/+/{meter_id}/#")
    return lines


def set_acl(
    acl_file: Path, meter_id: str, username: str | None = None, hass_prefix: str | None = None
) -> None:
    """Add or replace the meter's block, delimited by marker comments."""
    begin, end = f"# citizenwatt meter {meter_id}", f"# end citizenwatt meter {meter_id}"
    path = Path(acl_file)
    lines = path.read_text().splitlines() if path.exists() else []
    out, skipping = [], False
    for ln in lines:
        if ln == begin:
            skipping = True
            continue
        if skipping:
            if ln == end:
                skipping = False
            continue
        out.append(ln)
    while out and not out[-1].strip():
        out.pop()
    block = [begin] + acl_lines(meter_id, username, hass_prefix) + [end]
    _rewrite(path, "\n".join(out + ([""] if out else []) + block) + "\n")


def set_collector_acl(acl_file: Path, username: str) -> None:
    """Let the collector's account read every meter's topics (done once per deployment)."""
    begin, end = f"# citizenwatt collector {username}", f"# end citizenwatt collector {username}"
    path = Path(acl_file)
    text = path.read_text() if path.exists() else ""
    if begin in text.splitlines():
        return
    block = [begin, f"user {username}", f"topic read {wire.TOPIC_ROOT}/#", end]
    _rewrite(path, text.rstrip("\n") + ("\n\n" if text.strip() else "") + "\n".join(block) + "\n")




def set_api_acl(acl_file: Path, username: str) -> None:
    """Let the API's account write the meters' command topics, and nothing else (once)."""
    begin, end = f"# citizenwatt api {username}", f"# end citizenwatt api {username}"
    path = Path(acl_file)
    text = path.read_text() if path.exists() else ""
    if begin in text.splitlines():
        return
    block = [begin, f"user {username}", f"topic write {wire.COMMAND_ROOT}/#", end]
    _rewrite(path, text.rstrip("\n") + ("\n\n" if text.strip() else "") + "\n".join(block) + "\n")


def setup_api(passwd_file: Path, acl_file: Path, env_file: Path) -> tuple[str, bool]:
    """Give the API its own account once (like setup_collector): it alone writes cwcmd/#,
    the meters' command topics; its settings (CITIZENWATT_API__MQTT_USERNAME, __PASSWORD) go
    in `env_file`, which the API's service reads. Returns (user name, created)."""
    env = read_env(env_file)
    user = env.get("CITIZENWATT_API__MQTT_USERNAME", "")
    if user.startswith(API_PREFIX) and env.get("CITIZENWATT_API__MQTT_PASSWORD") \
            and has_user(passwd_file, user):
        set_api_acl(acl_file, user)
        return user, False
    user, password = API_PREFIX + secrets.token_hex(10), secrets.token_urlsafe(32)
    set_password(passwd_file, user, password)
    set_api_acl(acl_file, user)
    set_env(env_file, {"CITIZENWATT_API__MQTT_USERNAME": user,
                       "CITIZENWATT_API__MQTT_PASSWORD": password})
    return user, True


def new_collector_account() -> tuple[str, str]:
    """A collector's user name and password, both drawn from the system's CSPRNG.

    The shipped broker config makes the client id the user name, so the name is also the
    collector's session name: 80 random bits, so that no meter account can guess it (a
    fixed, documented id let one meter's credentials take the collector's session over)."""
    return COLLECTOR_PREFIX + secrets.token_hex(10), secrets.token_urlsafe(32)


def has_user(passwd_file: Path, username: str) -> bool:
    path = Path(passwd_file)
    return path.exists() and any(ln.split(":", 1)[0] == username
                                 for ln in path.read_text().splitlines())


def read_env(env_file: Path) -> dict[str, str]:
    """NAME=value lines of an environment file (systemd's EnvironmentFile= format, without
    quotes); comments and blank lines skipped."""
    path = Path(env_file)
    if not path.exists():
        return {}
    out = {}
    for ln in path.read_text().splitlines():
        if ln.strip() and not ln.lstrip().startswith("#") and "=" in ln:
            name, value = ln.split("=", 1)
            out[name.strip()] = value.strip()
    return out


def set_env(env_file: Path, values: dict[str, str]) -> None:
    """Set NAME=value lines in an environment file, in place of the same names (commented
    out or not), the other lines kept; the file is created 0600 (it holds secrets)."""
    path = Path(env_file)
    lines = path.read_text().splitlines() if path.exists() else []
    todo = dict(values)
    out = []
    for ln in lines:
        name = ln.lstrip("# ").split("=", 1)[0].strip() if "=" in ln else None
        if name in todo:
            out.append(f"{name}={todo.pop(name)}")
        else:
            out.append(ln)
    out += [f"{name}={value}" for name, value in todo.items()]
    _rewrite(path, "\n".join(out) + "\n")


def setup_collector(passwd_file: Path, acl_file: Path, env_file: Path) -> tuple[str, bool]:
    """Give the collector its own account once: a generated user name (its client id too)
    and password in Mosquitto's files, the read ACL on cw/#, and the collector's settings
    (CITIZENWATT_MQTT__USERNAME, __PASSWORD, CITIZENWATT_COLLECTOR__ID) in `env_file`.
    Run again, it keeps the account the env file names if the password file still has it.
    Returns (user name, created)."""
    env = read_env(env_file)
    user = env.get("CITIZENWATT_MQTT__USERNAME", "")
    if user.startswith(COLLECTOR_PREFIX) and env.get("CITIZENWATT_MQTT__PASSWORD") \
            and has_user(passwd_file, user):
        set_collector_acl(acl_file, user)
        return user, False
    user, password = new_collector_account()
    set_password(passwd_file, user, password)
    set_collector_acl(acl_file, user)
    set_env(env_file, {"CITIZENWATT_MQTT__USERNAME": user, "CITIZENWATT_MQTT__PASSWORD": password,
                       "CITIZENWATT_COLLECTOR__ID": user})
    return user, True


def reload(command: str) -> None:
    """Run the command that makes Mosquitto reread its files (it does so on SIGHUP)."""
    import shlex
    import subprocess

    try:
        r = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WorkshopError(
            "mqtt.reload",
            N_(
                'The Mosquitto reload command "{command}" failed '
                "({detail}). Reload Mosquitto by hand (`sudo systemctl reload "
                "mosquitto`), then try again."
            ),
            command=command,
            detail=str(e),
        ) from None
    if r.returncode != 0:
        raise WorkshopError(
            "mqtt.reload",
            N_(
                'The Mosquitto reload command "{command}" failed '
                "({detail}). Reload Mosquitto by hand (`sudo systemctl reload "
                "mosquitto`), then try again."
            ),
            command=command,
            detail=(r.stderr or r.stdout).strip()[-160:] or "code %d" % r.returncode,
        )
