"""The one exception the workshop commands raise: a sentence saying what to do next."""

from __future__ import annotations

from citizenwatt.workshop.i18n import t

# Build-guide section ids (hardware/ guide anchors). Stable: the guide links to them.
SECTIONS = ("adc-input", "bias-network", "burden-resistor", "noise-floor",
            "clamp-orientation", "calibration", "wifi", "broker", "usb-serial")


class WorkshopError(Exception):
    """A failure a trainee can fix. str() is the translated sentence."""

    def __init__(self, key: str, section: str | None = None, **kw):
        self.key = key
        self.section = section
        self.kw = kw
        super().__init__(key)

    def __str__(self) -> str:
        kw = dict(self.kw)
        if self.section:
            kw.setdefault("section", self.section)
        return t(self.key, **kw)


class BoardGone(WorkshopError):
    """The serial link died: the board was unplugged or reset mid-command."""

    def __init__(self, port: str):
        super().__init__("board.gone", section="usb-serial", port=port)
