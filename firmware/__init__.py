# Meter firmware (MicroPython). Modules here run on the ESP32 and, unchanged, on CPython
# for the host simulator and tests. firmware/host/ holds the CPython-only adapters.
