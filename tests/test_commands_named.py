"""Every `citizenwatt <command> [<subcommand>]` named in a message or a doc exists in the
real command line, so that renaming a command cannot leave a stale instruction behind
(the meter's safe mode once told trainees to run `citizenwatt atelier`, which never existed).

Where a mention can hide: the project's Python string literals (messages, help texts,
docstrings), the gettext catalogues, README.md, docs/, hardware/ and the HTML templates.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import typer.main
from babel.messages.pofile import read_po
from typer.core import TyperGroup

from citizenwatt.cli import app

ROOT = Path(__file__).resolve().parents[1]
NOT_SCANNED = {"tests", ".git", ".venv", "build", "dist", "node_modules", "__pycache__"}

# "citizenwatt" then one or two words; not `citizenwatt.api`, a path or an identifier.
MENTION = re.compile(r"(?<![\w./-])citizenwatt\s+([a-z][\w-]*)(?:[ \t]+([a-z][\w-]*))?")
# Phrases that name no command, each with the file where it is meant and why.
NOT_COMMANDS = {
    ("workshop/mqttauth.py", "citizenwatt meter"):
        "the marker line around a meter's block in Mosquitto's ACL file",
}


def command_tree() -> dict[str, set[str] | None]:
    """Each command of `citizenwatt` -> the names of its subcommands (None: not a group)."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    tree: dict[str, set[str] | None] = {}
    for name, command in root.commands.items():
        tree[name] = set(command.commands) if isinstance(command, TyperGroup) else None
    return tree


def project_files(pattern: str) -> list[Path]:
    return sorted(p for p in ROOT.rglob(pattern)
                  if not NOT_SCANNED & set(p.relative_to(ROOT).parts[:-1])
                  and not any(part.endswith(".egg-info") for part in p.parts))


def python_strings(path: Path) -> list[str]:
    """The string literals of a module (an f-string gives its literal parts, joined)."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.JoinedStr):
            texts.append(" ".join(v.value for v in node.values
                                  if isinstance(v, ast.Constant) and isinstance(v.value, str)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append(node.value)
    return texts


def catalogue_strings(path: Path) -> list[str]:
    with path.open("rb") as f:
        catalog = read_po(f)
    texts = []
    for message in catalog:
        for part in (message.id, message.string):
            texts.extend(part if isinstance(part, (tuple, list)) else [part])
    return [t for t in texts if t]


def texts_to_check() -> dict[str, list[str]]:
    """Relative path -> the texts a person may read in it."""
    texts: dict[str, list[str]] = {}
    for path in project_files("*.py"):
        texts[str(path.relative_to(ROOT))] = python_strings(path)
    for path in project_files("*.po"):
        texts[str(path.relative_to(ROOT))] = catalogue_strings(path)
    for pattern in ("*.md", "*.html"):
        for path in project_files(pattern):
            if pattern == "*.html" and "templates" not in path.parts:
                continue
            texts[str(path.relative_to(ROOT))] = [path.read_text(encoding="utf-8")]
    return texts


def mentions(text: str) -> list[tuple[str, str | None]]:
    found = []
    for m in MENTION.finditer(text):
        before = text[max(0, m.start() - 7):m.start()]
        if before.endswith(("from ", "import ")):
            continue  # Python's import statement quoted in a doc
        found.append((m.group(1), m.group(2)))
    return found


def stale(where: str, text: str, tree: dict[str, set[str] | None]) -> list[str]:
    """The mentions in `text` of a command or subcommand that `tree` does not have."""
    problems = []
    for command, sub in mentions(text):
        if (where, f"citizenwatt {command}") in NOT_COMMANDS:
            continue
        if command not in tree:
            problems.append(f"{where}: `citizenwatt {command}` is not a command "
                            f"(commands: {', '.join(sorted(tree))})")
        elif tree[command] is not None and sub is not None and sub not in tree[command]:
            problems.append(f"{where}: `citizenwatt {command} {sub}` is not a subcommand "
                            f"(subcommands: {', '.join(sorted(tree[command]))})")
    return problems


def test_every_command_named_in_a_message_or_a_doc_exists():
    tree = command_tree()
    texts = texts_to_check()
    problems = [p for where, parts in texts.items() for text in parts
                for p in stale(where, text, tree)]
    assert problems == []


def test_the_scan_reads_the_places_where_commands_are_named():
    """The check above proves nothing if it reads nothing: it finds known mentions in each
    kind of source, including the meter's safe-mode message."""
    texts = texts_to_check()

    def named(where: str) -> set[tuple[str, str | None]]:
        return {m for text in texts[where] for m in mentions(text)}

    assert "provision" in {command for command, _ in named("firmware/device.py")}
    assert "demo" in {command for command, _ in named("README.md")}
    assert ("guide", "build") in named("docs/workshop.md") | named("hardware/README.md") \
        | named("guide/build.py")
    assert any(m for where in texts if where.startswith("hardware/guide/") for text in texts[where]
               for m in mentions(text))
    assert {"citizenwatt/locale/fr/LC_MESSAGES/citizenwatt.po", "api/templates/base.html",
            "docs/architecture.md"} <= set(texts)


def test_a_renamed_command_is_caught():
    tree = command_tree()
    assert "provision" in tree and tree["admin"] and "token" in tree["admin"]
    safe_mode_then = "Branchez l'outil d'atelier (citizenwatt atelier), corrigez la configuration"
    assert stale("device.py", safe_mode_then, tree) == [
        "device.py: `citizenwatt atelier` is not a command "
        f"(commands: {', '.join(sorted(tree))})"]
    assert stale("x.md", "run `citizenwatt admin tokens NAME`", tree)[0].startswith(
        "x.md: `citizenwatt admin tokens` is not a subcommand")
    # arguments after a command that is not a group, imports and module paths are not commands
    assert stale("x.md", "citizenwatt calibrate kettle; from citizenwatt import cli; "
                         "citizenwatt.api; python -m citizenwatt.cli", tree) == []
