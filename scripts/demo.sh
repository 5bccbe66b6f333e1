#!/usr/bin/env bash
# Set up (first run only) and run the whole system on this machine: simulated meters ->
# MQTT -> collector -> store -> API -> household page. Extra arguments go to
# `citizenwatt demo` (try --help).
EXTRAS="" source "$(dirname "$0")/_venv.sh"
exec .venv/bin/citizenwatt demo "$@"
