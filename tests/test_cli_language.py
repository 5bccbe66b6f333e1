"""The command line speaks one language at a time, its framework's own words included: every
command's --help and a wrong option, walked from the real click tree (a new command is covered
without touching this test), in French by default and in English with --lang en or
CITIZENWATT_LANG=en."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from citizenwatt.cli import app

# Sentences of click/typer and frequent English words; none may reach a French reader.
ENGLISH = ("Usage:", "Options:", "Arguments:", "Commands:", "Show this message", "Try '",
           "for help", "Error:", "No such option", "No such command", "Missing argument",
           "Missing option", "Invalid value", "Possible options", "[default:", "[required]",
           " the ", " this ", " and ", " with ", " your ", " you ", " is ", " of ", " to ",
           "Show ", "Create ", "Run ")
# Frequent French words and marks; none may reach an English reader.
FRENCH = ("Utilisation", "Erreur", "Essayez", "Option inconnue", "obligatoire", "défaut",
          " le ", " la ", " les ", " des ", " du ", " une ", " est ", " et ", " pour ",
          " avec ", " ou ", "é", "è", "ê", "à ", "ç", "« ", " :")


def command_paths(command, prefix=()):
    yield prefix
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        if not sub.hidden:
            yield from command_paths(sub, (*prefix, name))


PATHS = list(command_paths(typer.main.get_command(app)))


def run(args, env=None):
    r = CliRunner().invoke(app, list(args), env={"CITIZENWATT_LANG": None, **(env or {})})
    return r.exit_code, r.output


def found(words, text):
    return sorted({w.strip() or w for w in words if w in text})


def test_the_walk_reaches_every_level_of_the_tree():
    assert ("admin", "token") in PATHS and ("firmware", "bundle") in PATHS
    assert ("guide", "build") in PATHS and ("provision",) in PATHS and () in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "citizenwatt")
def test_help_and_wrong_option_in_french_by_default(path):
    code, out = run([*path, "--help"])
    assert code == 0 and "Utilisation : citizenwatt" in out and "Options :" in out, out
    assert not found(ENGLISH, out), out
    code, out = run([*path, "--no-such-option"])
    assert code == 2 and "Option inconnue : --no-such-option" in out, out
    assert "Essayez 'citizenwatt" in out and "Erreur : " in out
    assert not found(ENGLISH, out), out


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "citizenwatt")
def test_help_and_wrong_option_in_english(path):
    code, out = run(["--lang", "en", *path, "--help"])
    assert code == 0 and "Usage: citizenwatt" in out and "Options:" in out, out
    assert not found(FRENCH, out), out
    code, out = run([*path, "--no-such-option"], env={"CITIZENWATT_LANG": "en"})
    assert code == 2 and "No such option: --no-such-option" in out, out
    assert not found(FRENCH, out), out


def test_missing_argument_and_bad_value_in_both_languages():
    code, out = run(["admin", "token"])
    assert code == 2 and "Argument manquant : 'username'." in out and not found(ENGLISH, out)
    code, out = run(["demo", "--meters", "beaucoup"])
    assert code == 2 and "Valeur non valide pour '--meters' : un nombre entier est attendu" in out
    code, out = run(["--lang=en", "demo", "--meters", "many"])
    assert code == 2 and "Invalid value for '--meters': a whole number is expected" in out
    code, out = run(["--lang", "en", "admin", "tokn"])
    assert code == 2 and re.search(r"No such command 'tokn'\. Did you mean 'token'\?", out), out
