"""Compile the gettext catalogues (.po -> .mo, with Babel) when the package is built.

Everything else about the package is in pyproject.toml; this only adds a step to build_py so
that wheels and installs carry citizenwatt/locale/*/LC_MESSAGES/citizenwatt.mo. The .mo files
are not kept in git (citizenwatt.i18n compiles the .po in memory in a checkout without them).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def compile_catalogues(locale_dir: Path) -> list[Path]:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parents[1].name, domain=po.stem)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        written.append(mo)
    return written


class BuildWithCatalogues(build_py):
    """build_py that first compiles the .po files next to them, so package-data picks the .mo up."""

    def run(self):
        compile_catalogues(Path(__file__).resolve().parent / "citizenwatt" / "locale")
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogues})
