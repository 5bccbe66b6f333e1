# Citizen Watt crash-loop guard: when a boot counts as unfinished, when the meter starts in
# safe mode and when the count goes back to zero. Pure functions of the counters kept in
# the checkpoint (no I/O), so they run the same on the ESP32, the MicroPython VM and
# CPython; device.py and meter.py only apply them.
#
# A strike is a boot that has not yet proved stable: counted on flash before anything can
# crash, cleared after STABLE_AFTER_MS of running or on a clean stop. After `limit`
# strikes in a row the meter starts in safe mode (no watchdog, no meter loop, the REPL
# free for the workshop tool) and tries again after SAFE_MODE_RETRY_MS with limit - 1
# strikes, so one more unfinished boot sends it straight back.

STABLE_AFTER_MS = 10 * 60 * 1000
SAFE_MODE_RETRY_MS = 10 * 60 * 1000

RUN = "run"
SAFE = "safe"


def at_boot(strikes, limit, config_error=None):
    """What to do at power-up: (mode, reason, strikes to store before the retry).

    mode is RUN or SAFE; reason is the sentence safe mode prints; the retry count is None
    when nothing needs storing (a bad config.json: the workshop tool fixes it, then the
    retry simply reboots).
    """
    if config_error is not None:
        return SAFE, config_error, None
    if strikes >= limit:
        return SAFE, "%d démarrages interrompus de suite" % strikes, limit - 1
    return RUN, None, None


def count_boot(strikes):
    """The strikes to store as the meter starts: this boot is unfinished until proved."""
    return strikes + 1


def is_stable(uptime_ms):
    """A meter that has run this long is not in a crash loop."""
    return uptime_ms >= STABLE_AFTER_MS


def at_checkpoint(strikes, clean, stable):
    """The strikes to store with a checkpoint: zero after a clean stop or once stable."""
    return 0 if clean or stable else strikes
