# Citizen Watt: first file MicroPython runs at power-up. Kept tiny so that a mistake in
# the firmware can never stop the REPL from coming up (main.py runs after this).
import esp

esp.osdebug(None)
