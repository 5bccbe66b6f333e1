# Meter firmware (MicroPython). Modules here run on the ESP32 and, unchanged, on CPython
# for the host simulator and tests. The CPython-only adapters live in host/ (citizenwatt.host).
