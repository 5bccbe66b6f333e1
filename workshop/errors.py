"""The one exception the workshop commands raise: a sentence saying what to do next."""

from __future__ import annotations

from citizenwatt.errors import CitizenWattError
from citizenwatt.workshop.i18n import t

# Build-guide section ids (hardware/ guide anchors). Stable: the guide links to them.
SECTIONS = ("adc-input", "bias-network", "burden-resistor", "noise-floor",
            "clamp-orientation", "calibration", "wifi", "broker", "usb-serial")


class WorkshopError(CitizenWattError):
    """A failure a trainee can fix. str() is the translated sentence.

    Its text is the workshop table's entry `key`, which says what went wrong and what to do
    in one sentence: that is `sentence`, and `next_step` is empty.
    """

    def __init__(self, key: str, section: str | None = None, **kw):
        super().__init__(key)
        self.key = key
        self.section = section
        self.kw = kw

    @property
    def sentence(self) -> str:
        kw = dict(self.kw)
        if self.section:
            kw.setdefault("section", self.section)
        return t(self.key, **kw)

    def say(self, lang: str | None = None) -> str:
        return self.sentence  # in the workshop's language (--lang, CITIZENWATT_LANG)


class BoardGone(WorkshopError):
    """The serial link died: the board was unplugged or reset mid-command."""

    def __init__(self, port: str):
        super().__init__("board.gone", section="usb-serial", port=port)
