"""Workshop tool: from a blank ESP32 to a flashed, provisioned, calibrated and checked meter.

The commands live in citizenwatt.workshop.commands and are registered in citizenwatt.cli.
Every error a person reads is a WorkshopError whose message says what to do next.
"""
