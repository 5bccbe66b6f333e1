"""One exception hierarchy: every error of the project is a CitizenWattError that says what
went wrong and what to do next, in the reader's language; the firmware keeps builtin bases
(it runs on MicroPython and imports nothing of the project)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import citizenwatt
from citizenwatt import errors
from citizenwatt.errors import CitizenWattError
from citizenwatt.i18n import N_, lang_scope

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = "citizenwatt.firmware"


def project_modules() -> tuple[list[object], list[str]]:
    """Every module of the installed package, and the firmware modules that need the device.

    An installed wheel holds every part under citizenwatt/; an editable install maps each
    part (citizenwatt.api -> api/ ...) separately, so the parts named in pyproject.toml are
    walked too."""
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    names = {"citizenwatt"}
    for package in [citizenwatt, *(importlib.import_module(p) for p in packages)]:
        names.add(package.__name__)
        names |= {m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")}
    modules, device_only = [], []
    for name in sorted(names):
        try:
            modules.append(importlib.import_module(name))
        except ImportError as e:
            # machine, network, ntptime...: MicroPython's own modules, on the ESP32 only
            if not name.startswith(FIRMWARE + ".") or e.name is None or e.name.startswith("citizenwatt"):
                raise
            device_only.append(name)
    return modules, device_only


def exception_classes(module) -> list[type]:
    return [c for c in vars(module).values()
            if inspect.isclass(c) and issubclass(c, Exception) and c.__module__ == module.__name__]


def test_every_exception_of_the_project_is_a_citizenwatt_error():
    modules, device_only = project_modules()
    assert {"citizenwatt.api.app", "citizenwatt.store.influx", "citizenwatt.workshop.batch",
            "citizenwatt.guide.pdf", "citizenwatt.host.platform"} <= {m.__name__ for m in modules}
    assert "citizenwatt.firmware.device" in device_only  # machine, network: ESP32 only
    defined = {c for m in modules if not m.__name__.startswith(FIRMWARE) for c in exception_classes(m)}
    assert len(defined) >= 20  # the 22 of the issue, less the firmware's, plus the groups
    assert sorted(c.__qualname__ for c in defined if not issubclass(c, CitizenWattError)) == []


def test_the_firmware_keeps_builtin_exceptions_the_host_can_catch():
    modules, _ = project_modules()
    firmware = {c for m in modules if m.__name__.startswith(FIRMWARE) for c in exception_classes(m)}
    assert {"ConfigError", "WireError", "DesignError", "MQTTError"} <= {c.__name__ for c in firmware}
    for c in firmware:
        assert issubclass(c, (ValueError, OSError)) and not issubclass(c, CitizenWattError), c


def test_old_import_paths_give_the_same_classes():
    from citizenwatt.api.db import DatabaseError
    from citizenwatt.collector.service import CollectorError
    from citizenwatt.config import ConfigError
    from citizenwatt.demo import DemoError
    from citizenwatt.guide.bom import BomError
    from citizenwatt.guide.build import GuideBuildError
    from citizenwatt.guide.pdf import PdfError
    from citizenwatt.guide.sources import GuideSourceError
    from citizenwatt.host.bundle import BundleError
    from citizenwatt.host.mpvm import MicroPythonVMError
    from citizenwatt.store import backends, influx

    assert (ConfigError, DemoError, CollectorError, DatabaseError) == (
        errors.ConfigError, errors.DemoError, errors.CollectorError, errors.DatabaseError)
    assert (BomError, GuideBuildError, PdfError, GuideSourceError) == (
        errors.BomError, errors.GuideBuildError, errors.PdfError, errors.GuideSourceError)
    assert (BundleError, MicroPythonVMError) == (errors.BundleError, errors.MicroPythonVMError)
    assert influx.StoreUnavailable is backends.StoreUnavailable is errors.StoreUnavailable
    assert influx.SpoolFull is errors.SpoolFull and influx.QueryFailed is errors.QueryFailed
    assert influx.DeletionRefused is errors.DeletionRefused


def test_builtin_bases_are_kept_for_existing_except_clauses():
    assert issubclass(errors.SpoolFull, OSError)  # the collector keeps the batch on OSError
    assert issubclass(errors.BomError, ValueError) and issubclass(errors.GuideSourceError, ValueError)
    assert issubclass(errors.DatabaseError, RuntimeError) and issubclass(errors.PdfError, RuntimeError)
    assert issubclass(errors.QueryFailed, errors.StoreUnavailable)
    failed = errors.QueryFailed("database not found: cw", 404)
    assert failed.status == 404 and str(failed) == "database not found: cw"


def test_an_error_says_what_went_wrong_then_what_to_do_in_the_readers_language():
    e = errors.DemoError(N_("The API could not start on {host}:{port}."),
                         N_("The port may be taken: try --port 8001."), host="127.0.0.1", port=8000)
    with lang_scope("fr"):
        assert e.sentence == "L'API n'a pas pu démarrer sur 127.0.0.1:8000."
        assert e.next_step == "Le port est peut-être pris : essayez --port 8001."
        assert str(e) == f"{e.sentence} {e.next_step}"
    # the language is the reader's, not the one in force where the error was raised
    with lang_scope("en"):
        assert str(e) == ("The API could not start on 127.0.0.1:8000. "
                          "The port may be taken: try --port 8001.")
    assert e.say("en") == "The API could not start on 127.0.0.1:8000. The port may be taken: try --port 8001."


def test_a_text_outside_the_catalogue_is_shown_as_it_is():
    e = errors.StoreUnavailable("HTTP 503 on /ping {not a field}")
    assert str(e) == "HTTP 503 on /ping {not a field}" and e.next_step == ""
    assert str(errors.CitizenWattError()) == ""  # never the catalogue's header


def test_wrapping_keeps_the_first_error_and_adds_a_next_step(tmp_path):
    from citizenwatt.collector.service import Collector
    from citizenwatt.store.sqlite import SqliteStore
    from tests.services import free_port

    store = SqliteStore(tmp_path / "readings.sqlite")
    with pytest.raises(errors.CollectorError) as raised:
        Collector(store, "127.0.0.1", free_port()).start(timeout_s=1)
    store.close()
    wrapped = errors.DemoError.wrap(
        raised.value, N_("Or remove CITIZENWATT_MQTT__HOST: the demo then starts its own broker."))
    with lang_scope("fr"):
        assert wrapped.sentence == raised.value.sentence
        assert wrapped.sentence.startswith("Le collecteur ne peut pas se connecter au broker MQTT")
        assert wrapped.next_step == (raised.value.next_step + " Ou retirez "
                                     "CITIZENWATT_MQTT__HOST : la démo lance alors son propre broker.")
    with lang_scope("en"):
        assert wrapped.next_step.endswith("Or remove CITIZENWATT_MQTT__HOST: the demo then starts "
                                          "its own broker.")


def test_the_workshop_and_api_errors_speak_through_the_same_base():
    """Their texts come from their parts' tables: the whole text is the sentence."""
    from citizenwatt.api.errors import ApiError
    from citizenwatt.workshop.errors import BoardGone

    gone = BoardGone("/dev/ttyUSB0")
    assert isinstance(gone, CitizenWattError) and gone.next_step == ""
    assert str(gone) == gone.sentence and "/dev/ttyUSB0" in str(gone)
    twice = ApiError(422, "channel_twice",
                     "Channel {channel} is given twice: send each channel once, with its label.",
                     channel=3)
    assert isinstance(twice, errors.HttpError) and twice.status == 422
    assert str(twice) == twice.sentence and "3" in str(twice) and "voie" in twice.say("fr")
    assert twice.say("fr") != twice.say("en")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_command_stopped_by_an_error_prints_its_sentence_and_next_step(tmp_path, monkeypatch, lang):
    """`citizenwatt api` on a database it cannot open: the sentence and the next step,
    in the reader's language, no traceback, a failing exit code."""
    monkeypatch.setenv("CITIZENWATT_LANG", lang)
    monkeypatch.setenv("CITIZENWATT_API_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/folder/db.sqlite")
    from citizenwatt.cli import app

    result = CliRunner().invoke(app, ["api", "--data-dir", str(tmp_path), "--port", "1"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # nothing escaped as an exception
    assert "Traceback" not in result.output
    said = {"fr": ("Impossible d'ouvrir la base de données sqlite:///",
                   "Vérifiez l'adresse, les droits et que le serveur tourne."),
            "en": ("Cannot open the database sqlite:///",
                   "Check the address, the permissions and that the server is running.")}[lang]
    assert said[0] in result.output and result.output.rstrip().endswith(said[1])
