"""The one exception the workshop commands raise: a sentence saying what to do next."""

from __future__ import annotations

from citizenwatt.errors import CitizenWattError
from citizenwatt.i18n import N_, _
from citizenwatt.workshop.diagnose import SECTION_TITLES, guide_pointer

# Build-guide section ids (hardware/ guide anchors, in diagnose.SECTION_TITLES). Stable: the
# guide links to them, and tests/hardware/test_guide_pointers.py checks each one resolves.
SECTIONS = tuple(SECTION_TITLES)


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
        """The sentence in `lang` (the current language), then where the guide explains it."""
        text = _(self.msgid, lang=lang, **self.kw)
        if self.section:
            text += " " + guide_pointer(self.section, lang=lang)
        return text


class BoardGone(WorkshopError):
    """The serial link died: the board was unplugged or reset mid-command."""

    def __init__(self, port: str):
        super().__init__("board.gone", N_(
            "The board on {port} was unplugged or stopped answering. Plug it back in (cable "
            "firmly seated), then run the same command again: it starts over from the beginning."),
            section="usb-serial", port=port)


class ReadBackMismatch(WorkshopError):
    """A file written to the board reads back different: the USB link garbled it."""

    def __init__(self, path: str):
        super().__init__("install.hash_mismatch", N_(
            "The file {path} read back from the board does not match the original. Run "
            "`citizenwatt flash` again; if it happens again, change the USB cable."), path=path)
