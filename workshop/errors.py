"""The one exception the workshop commands raise: a sentence saying what to do next."""

from __future__ import annotations

from citizenwatt.errors import CitizenWattError
from citizenwatt.i18n import N_, _

# Build-guide section ids (hardware/ guide anchors). Stable: the guide links to them.
SECTIONS = ("adc-input", "bias-network", "burden-resistor", "noise-floor",
            "clamp-orientation", "calibration", "wifi", "broker", "usb-serial")


class WorkshopError(CitizenWattError):
    """A failure a trainee can fix: `key` a stable code, `msgid` the English sentence (marked
    with N_) that says what went wrong and what to do; str() is it in the current language.

    The one sentence carries both, so `sentence` is all of it and `next_step` is empty.
    """

    def __init__(self, key: str, msgid: str, section: str | None = None, **kw):
        super().__init__(msgid)
        self.key = key
        self.msgid = msgid
        self.section = section
        self.kw = kw

    @property
    def sentence(self) -> str:
        return self.say()

    def say(self, lang: str | None = None) -> str:
        kw = dict(self.kw)
        if self.section:
            kw.setdefault("section", self.section)
        return _(self.msgid, lang=lang, **kw)


class BoardGone(WorkshopError):
    """The serial link died: the board was unplugged or reset mid-command."""

    def __init__(self, port: str):
        super().__init__("board.gone", N_(
            "The board on {port} was unplugged or stopped answering. Plug it back in (cable "
            "firmly seated), then run the same command again: it starts over from the beginning."),
            section="usb-serial", port=port)
