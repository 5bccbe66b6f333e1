"""The API's import rule: route modules (api/routes/) import no other route module, and
no other module of the API imports a route module except app.py, which wires them. What
routes share lives in deps.py (dependencies) and schemas.py (models); what they compute,
in the domain modules."""

from __future__ import annotations

import ast
from pathlib import Path

import citizenwatt.api

API = Path(citizenwatt.api.__file__).parent
ROUTES = "citizenwatt.api.routes"


def module_name(path: Path) -> str:
    parts = path.relative_to(API).with_suffix("").parts
    return ".".join(("citizenwatt.api", *parts)).removesuffix(".__init__")


def imports(path: Path) -> set[str]:
    """Every module `path` imports, with `from X import Y` counted as both X and X.Y."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = ".".join(p for p in (base if node.level else "", node.module or "") if p)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def is_route(name: str) -> bool:
    return name == ROUTES or name.startswith(ROUTES + ".")


def test_route_modules_import_no_other_route_module():
    routes = sorted((API / "routes").glob("*.py"))
    assert len(routes) >= 5
    for path in routes:
        own = module_name(path)
        others = sorted(m for m in imports(path) if is_route(m) and m != own)
        assert not others, f"{own} imports {others}: share through deps.py or schemas.py"


def test_only_the_app_imports_route_modules():
    modules = sorted(API.glob("*.py"))
    assert len(modules) >= 15
    for path in modules:
        if path.name == "app.py":
            assert any(is_route(m) for m in imports(path))  # the rule's one exception is real
            continue
        wrong = sorted(m for m in imports(path) if is_route(m))
        assert not wrong, f"{module_name(path)} imports {wrong}: a domain module imports no route"
