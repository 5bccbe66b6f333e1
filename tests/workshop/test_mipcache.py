"""The offline micropython-lib cache: filled from an index on loopback, installed with
mpremote's own mip onto a simulated board. The firmware needs no package today
(FIRMWARE_PACKAGES is empty); these tests name the index's one package themselves."""

from __future__ import annotations

import json

import pytest

from citizenwatt.workshop import mipcache
from citizenwatt.workshop.board import Board
from citizenwatt.workshop.errors import WorkshopError


def test_fill_cache_mirrors_the_index(tmp_path, mip_index):
    cache = tmp_path / "cache"
    written = mipcache.fill_cache(cache, packages=("umqtt.simple",), index_url=mip_index["url"])
    assert "package/6/umqtt.simple/latest.json" in written
    meta = json.loads((cache / "mip/package/6/umqtt.simple/latest.json").read_text())
    (path, short), = meta["hashes"]
    assert path == "umqtt/simple.mpy"
    assert (cache / "mip/file" / short[:2] / short).read_bytes() == mip_index["contents"]["mpy"]
    assert (cache / "mip/package/py/umqtt.simple/1.4.0.json").is_file()
    # A second fill downloads no file again.
    again = mipcache.fill_cache(cache, packages=("umqtt.simple",), index_url=mip_index["url"])
    assert not [w for w in again if w.startswith("file/")]


def test_unreachable_index_says_so(tmp_path):
    with pytest.raises(WorkshopError) as e:
        mipcache.fill_cache(tmp_path, packages=("umqtt.simple",), index_url="http://127.0.0.1:9",
                            timeout_s=2)
    assert e.value.key == "mip.index_unreachable"


def test_corrupted_download_is_refused(tmp_path, mip_index):
    root = tmp_path / "index"
    import shutil
    shutil.copytree(mip_index["root"], root)
    for f in (root / "file").rglob("*"):
        if f.is_file():
            f.write_bytes(b"tampered")
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    SimpleHTTPRequestHandler.log_message = lambda *a: None
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(WorkshopError) as e:
            mipcache.fill_cache(tmp_path / "c", packages=("umqtt.simple",),
                                index_url="http://127.0.0.1:%d" % srv.server_address[1])
        assert e.value.key == "mip.bad_hash"
    finally:
        srv.shutdown()
        srv.server_close()


def test_install_from_cache_with_mpremote_mip(boards, cache_dir, mip_index):
    sim = boards()
    with Board(sim.port) as b:
        files = mipcache.install(b, "umqtt.simple", cache_dir)
    assert files[0][0] == "umqtt/simple.mpy"  # the board said .mpy version 6
    assert sim.fs.read("/lib/umqtt/simple.mpy") == mip_index["contents"]["mpy"]


def test_install_of_a_package_not_in_the_cache(boards, tmp_path):
    sim = boards()
    with Board(sim.port) as b:
        with pytest.raises(WorkshopError) as e:
            mipcache.install(b, "umqtt.robust", tmp_path / "empty")
    assert e.value.key == "mip.not_cached"
    assert "--fill-cache" in str(e.value)
    assert "/lib/umqtt/robust.mpy" not in sim.fs.files


def test_the_firmware_needs_no_package_and_imports_none(mip_index, tmp_path):
    """The meter's MQTT client is its own (firmware/mqtt.py): no firmware module imports a
    micropython-lib package, and filling the cache for the firmware downloads nothing."""
    import ast

    from citizenwatt.host.bundle import BOARD, firmware_modules

    imported = set()
    for module in firmware_modules() + sorted(BOARD.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert {"machine", "network"} <= imported and "umqtt" not in imported, sorted(imported)
    assert mipcache.FIRMWARE_PACKAGES == ()
    assert mipcache.fill_cache(tmp_path / "cache", index_url=mip_index["url"]) == []
    assert not (tmp_path / "cache" / "mip").exists()
