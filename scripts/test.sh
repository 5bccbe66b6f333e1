#!/usr/bin/env bash
# Set up and run the whole test suite. Installs the Debian packages the tests run for real
# (needs root or sudo the first time), then the Python packages into .venv, then pytest.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS=(mosquitto mosquitto-clients influxdb postgresql postgresql-client chromium chromium-driver
      poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
      systemd openssl caddy  # tests/deploy: systemd-analyze, the broker certificates, the proxy
      iproute2)  # tests/deploy/test_multihost.py: network namespaces (ip netns) for collector hosts
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installation des paquets Debian : ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
EXTRAS="test" source scripts/_venv.sh
set +e
# The architecture and the code first (import-linter, ruff, mypy: scripts/check.sh); the
# tests run whatever they say, and the run fails if either does.
checks=0
if [ "${CITIZENWATT_SKIP_CHECKS:-0}" != "1" ]; then
  bash scripts/check.sh
  checks=$?
fi
# The suite on several pytest-xdist workers: its tests mostly wait on real services and
# subprocesses, so more workers than cores pay (2 cores: 4 workers). A file runs whole on one
# worker (tests/conftest.py: the guide's tests together, the slowest files first).
# CITIZENWATT_TEST_WORKERS sets another count (0: one process); an -n or --numprocesses among
# the arguments wins.
workers=(-n "${CITIZENWATT_TEST_WORKERS:-4}" --dist loadfile)
for a in "$@"; do
  case "$a" in -n|-n[0-9]*|--numprocesses|--numprocesses=*|-nauto|-nlogical) workers=() ;; esac
done
.venv/bin/python -m pytest "${workers[@]}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest n'a trouvé aucun test (code 5) : c'est une erreur ici, la suite en compte toujours." >&2
  exit 1
fi
if [ "$rc" -eq 0 ] && [ "$checks" -ne 0 ]; then
  echo "Les tests passent, mais les vérifications statiques (scripts/check.sh) ont échoué." >&2
  exit 1
fi
exit "$rc"
