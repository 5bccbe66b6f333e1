# Citizen Watt: first file MicroPython runs at power-up. Kept tiny so that a mistake in
# the firmware can never stop the REPL from coming up (main.py runs after this).
#
# Updates over Wi-Fi (firmware/update.py): choose the slot to run (/data/ota/a or b, else
# the workshop's /lib copy), counting a trial version's boots, and arm the trial window:
# a new version that has not come on line within it is rolled back at the next boot.
import esp

esp.osdebug(None)

try:
    import sys

    from citizenwatt.firmware import update  # the workshop's copy, in /lib

    _path = "/data/" + update.STATE_FILE
    _slot, _st = update.at_boot(update.load_state(_path))
    if _st:
        update.save_state(_path, _st)
    if _slot is not None:
        sys.path.insert(0, "/data/ota/" + _slot)
        for _name in list(sys.modules):
            if _name.startswith("citizenwatt"):
                del sys.modules[_name]  # main.py imports the slot's modules, not these
    if _st.get("trial") is not None:
        import machine

        def _expire(_t):
            st = update.expire(update.load_state(_path))
            if st is not None:  # still unconfirmed: back to the old version
                update.save_state(_path, st)
                machine.reset()

        machine.Timer(1).init(mode=machine.Timer.ONE_SHOT, period=update.TRIAL_WINDOW_MS,
                              callback=_expire)
except Exception as _e:  # never keep the REPL from coming up
    print("Citizen Watt boot.py:", _e)
