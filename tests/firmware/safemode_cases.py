# The crash-loop guard's decisions (fw.safemode), run unchanged on the MicroPython VM and
# on CPython: a table of single decisions and boot sequences driven through them.

from fw import safemode


def boots(outcomes, limit):
    """Drive the guard through a run of boots. outcomes, one per boot that runs the meter:
    ("crash", uptime_ms) for a reset at that uptime, ("clean", uptime_ms) for a clean stop.
    A safe-mode boot takes no outcome: it waits out the retry delay and stores its count.
    Returns what each boot did and the strikes stored after it."""
    strikes = 0
    log = []
    k = 0
    while k < len(outcomes):
        mode, reason, retry = safemode.at_boot(strikes, limit)
        if mode == safemode.SAFE:
            strikes = retry
            log.append(["safe", strikes])
            continue
        strikes = safemode.count_boot(strikes)
        kind, uptime_ms = outcomes[k]
        k += 1
        # The meter checkpoints once it becomes stable, and on a clean stop.
        if safemode.is_stable(uptime_ms):
            strikes = safemode.at_checkpoint(strikes, False, True)
        if kind == "clean":
            strikes = safemode.at_checkpoint(strikes, True, False)
        log.append([kind, strikes])
    return log


def run():
    minute = 60000
    out = {
        "at_boot": [list(safemode.at_boot(s, 3)) for s in (0, 1, 2, 3, 4, 9)],
        "at_boot_config": list(safemode.at_boot(0, 3, "config.json invalide")),
        "count_boot": [safemode.count_boot(s) for s in (0, 2, 7)],
        "is_stable": [safemode.is_stable(ms) for ms in (0, 10 * minute - 1, 10 * minute)],
        "at_checkpoint": [safemode.at_checkpoint(2, c, s)
                          for c, s in ((False, False), (True, False), (False, True))],
        "crash_loop": boots([["crash", 30000]] * 6, 3),
        "stable_then_crash": boots([["crash", 30000], ["crash", 30000],
                                    ["crash", 10 * minute + 1], ["crash", 30000],
                                    ["crash", 30000], ["crash", 30000]], 3),
        "power_cuts_then_clean": boots([["crash", 9 * minute], ["crash", 9 * minute],
                                        ["clean", 1000], ["crash", 1000]], 2),
        "limit_5": boots([["crash", 1]] * 7, 5),
    }
    return out
