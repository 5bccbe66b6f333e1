"""An offline copy of micropython-lib packages, laid out like the package index itself.

`fill_cache` downloads packages (and their dependencies) from the index
(https://micropython.org/pi/v2 by default) into
    <cache>/mip/package/<mpy>/<name>/<version>.json
    <cache>/mip/file/<hh>/<sha256 prefix>
which is exactly the layout mpremote's `mip install --index` reads. `install` then runs
mpremote's own mip installer with that folder as the index, so a workshop without
internet installs a package the way `mpremote mip install NAME` would.

The meter firmware needs none today (its MQTT client is its own, firmware/mqtt.py): this is
the way to add one it comes to need.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from argparse import Namespace
from pathlib import Path

import httpx

from citizenwatt.i18n import N_
from citizenwatt.workshop.errors import ReadBackMismatch, WorkshopError

INDEX_URL = "https://micropython.org/pi/v2"
# What the meter firmware needs from micropython-lib: nothing (flashing installs these).
FIRMWARE_PACKAGES: tuple[str, ...] = ()
# .mpy format 6 for MicroPython >= 1.22, plus plain .py for any other board.
MPY_VERSIONS = ("6", "py")


def default_cache_dir() -> Path:
    from citizenwatt.config import workshop_settings

    env = workshop_settings().cache_dir  # CITIZENWATT_WORKSHOP__CACHE_DIR
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "citizenwatt"


def _unreachable(url: str, detail: str) -> WorkshopError:
    return WorkshopError("mip.index_unreachable", N_(
        "Cannot reach the MicroPython package index ({url}: {detail}). Check the internet "
        "connection, or work offline with an already filled cache."), url=url, detail=detail)


def _get(client: httpx.Client, url: str) -> bytes:
    try:
        r = client.get(url)
    except httpx.HTTPError as e:
        raise _unreachable(url, type(e).__name__) from None
    if r.status_code != 200:
        raise _unreachable(url, "HTTP %d" % r.status_code)
    return r.content


def _bad_hash(url: str) -> WorkshopError:
    """A downloaded index file that is not what its hash says (or not usable as one)."""
    return WorkshopError("mip.bad_hash", N_(
        "The downloaded file {url} does not match its hash. Run `citizenwatt flash "
        "--fill-cache` again; if it happens again, the index is corrupted."), url=url)


def fill_cache(
    cache_dir: Path,
    packages=FIRMWARE_PACKAGES,
    index_url: str = INDEX_URL,
    mpy_versions=MPY_VERSIONS,
    timeout_s: float = 20.0,
) -> list[str]:
    """Download packages and their dependencies; return the files written (relative)."""
    root = Path(cache_dir) / "mip"
    written: list[str] = []
    index_url = index_url.rstrip("/")
    with httpx.Client(timeout=timeout_s, follow_redirects=True) as client:
        for mpy in mpy_versions:
            todo = [(p, "latest") for p in packages]
            seen = set()
            while todo:
                name, version = todo.pop(0)
                if (name, version) in seen:
                    continue
                seen.add((name, version))
                rel = f"package/{mpy}/{name}/{version}.json"
                raw = _get(client, index_url + "/" + rel)
                try:
                    meta = json.loads(raw)
                except ValueError:
                    raise _bad_hash(index_url + "/" + rel) from None
                for _path, short in meta.get("hashes", ()):
                    frel = f"file/{short[:2]}/{short}"
                    dest = root / frel
                    if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest().startswith(short):
                        continue
                    data = _get(client, index_url + "/" + frel)
                    if not hashlib.sha256(data).hexdigest().startswith(short):
                        raise _bad_hash(index_url + "/" + frel)
                    _atomic_write(dest, data)
                    written.append(frel)
                if meta.get("urls"):
                    # Packages pointing at other hosts cannot be mirrored by hash; ours do not.
                    raise _bad_hash(index_url + "/" + rel)
                _atomic_write(root / rel, raw)
                if version == "latest" and meta.get("version"):
                    _atomic_write(root / ("package/{}/{}/{}.json".format(mpy, name, meta["version"])), raw)
                written.append(rel)
                for dep, dep_version in meta.get("deps", ()):
                    todo.append((dep, dep_version or "latest"))
    return written


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _not_cached(package: str, cache_dir: Path) -> WorkshopError:
    return WorkshopError("mip.not_cached", N_(
        "The library {package} is not in the offline cache ({cache}). On a computer with "
        "internet access, run `citizenwatt flash --fill-cache`, then copy the cache folder."),
        package=package, cache=str(cache_dir))


def package_files(cache_dir: Path, package: str, mpy: str) -> list[tuple[str, str]]:
    """(path under the lib folder, sha256 prefix) of a cached package and its deps."""
    root = Path(cache_dir) / "mip"
    out: list[tuple[str, str]] = []
    todo, seen = [(package, "latest")], set()
    while todo:
        name, version = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        meta_path = root / "package" / mpy / name / (f"{version}.json")
        if not meta_path.is_file():
            raise _not_cached(name, cache_dir)
        meta = json.loads(meta_path.read_text())
        out.extend((p, h) for p, h in meta.get("hashes", ()))
        todo.extend((d, v or "latest") for d, v in meta.get("deps", ()))
    return out


def require_cached(cache_dir: Path, package: str) -> None:
    for mpy in MPY_VERSIONS:
        if (Path(cache_dir) / "mip" / "package" / mpy / package / "latest.json").is_file():
            return
    raise _not_cached(package, cache_dir)


def install(board, package: str, cache_dir: Path, target: str = "/lib") -> list[tuple[str, str]]:
    """Install `package` from the offline cache with mpremote's mip; verify; return files."""
    from mpremote.commands import CommandError
    from mpremote.mip import do_mip

    mpy = str(board.eval("getattr(__import__('sys').implementation, '_mpy', 0) & 0xFF") or "py")
    files = package_files(cache_dir, package, mpy)  # fails early, before touching the board

    class _State:  # the part of mpremote's State that do_mip uses
        transport = board.transport

        def did_action(self):
            pass

        def ensure_raw_repl(self, soft_reset=None):
            pass

    args = Namespace(
        command=["install"], packages=[package], index=str(Path(cache_dir) / "mip"), target=target, mpy=True
    )
    with board.guard(), contextlib.redirect_stdout(io.StringIO()):
        try:
            do_mip(_State(), args)
        except CommandError:
            raise _not_cached(package, cache_dir) from None
    for path, short in files:
        remote = board.sha256(target + "/" + path)
        if remote is None or not remote.startswith(short):
            raise ReadBackMismatch(target + "/" + path)
    return files
