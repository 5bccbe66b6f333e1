#!/usr/bin/env bash
# Static checks of the architecture and the code: import-linter (the layers of
# docs/architecture.md), ruff, mypy. Run by scripts/test.sh before the tests; alone:
#   ./scripts/check.sh      (after ./scripts/test.sh has made .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
"$PY" scripts/pkgtree.py "$tree"
status=0
echo "== import-linter"
(cd "$tree" && PYTHONPATH="$tree" "$OLDPWD/.venv/bin/lint-imports" --config "$OLDPWD/.importlinter" --no-cache) || status=1
echo "== ruff"
.venv/bin/ruff check . || status=1
echo "== mypy"
(cd "$tree" && MYPYPATH="$tree" "$OLDPWD/.venv/bin/mypy" --config-file "$OLDPWD/pyproject.toml" \
    -p citizenwatt.cli -p citizenwatt.config -p citizenwatt.errors -p citizenwatt.i18n \
    -p citizenwatt.demo -p citizenwatt.broker -p citizenwatt.store -p citizenwatt.collector \
    -p citizenwatt.api -p citizenwatt.workshop -p citizenwatt.guide) || status=1
if [ "$status" -ne 0 ]; then
  echo "Vérifications statiques en échec : corrigez les points ci-dessus (voir docs/architecture.md)." >&2
fi
exit "$status"
