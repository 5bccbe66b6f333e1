"""The one exception the workshop commands raise: a sentence saying what to do next."""

from __future__ import annotations

from citizenwatt.i18n import N_, _

# Build-guide section ids (hardware/ guide anchors). Stable: the guide links to them.
SECTIONS = ("adc-input", "bias-network", "burden-resistor", "noise-floor",
            "clamp-orientation", "calibration", "wifi", "broker", "usb-serial")


class WorkshopError(Exception):
    """A failure a trainee can fix: `key` a stable code, `msgid` the English sentence (marked
    with N_). str() is the sentence in the current language."""

    def __init__(self, key: str, msgid: str, section: str | None = None, **kw):
        self.key = key
        self.msgid = msgid
        self.section = section
        self.kw = kw
        super().__init__(key)

    def __str__(self) -> str:
        kw = dict(self.kw)
        if self.section:
            kw.setdefault("section", self.section)
        return _(self.msgid, **kw)


class BoardGone(WorkshopError):
    """The serial link died: the board was unplugged or reset mid-command."""

    def __init__(self, port: str):
        super().__init__("board.gone", N_(
            "The board on {port} was unplugged or stopped answering. Plug it back in (cable "
            "firmly seated), then run the same command again: it starts over from the beginning."),
            section="usb-serial", port=port)
