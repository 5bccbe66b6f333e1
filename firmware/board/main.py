# Citizen Watt meter, run by MicroPython after boot.py. Copied to the root of the ESP32's
# flash by `citizenwatt firmware bundle`; the firmware itself is /lib/citizenwatt/firmware.
from citizenwatt.firmware import device

device.main()
