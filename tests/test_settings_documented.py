"""Every environment variable the code reads is in README's settings table.

A name counts as read when it appears anywhere in the program's own files
(Python, shell, the Makefile, the notebooks): a setting's alias, an
``os.environ`` lookup, a ``${VAR:-default}`` in a script, or an error message
telling the user to set it. Browser globals (``window.GRIDMAP_COVERAGE``) share
the prefix but are not environment variables and are left out.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("gis", "api", "cli", "layers", "scripts", "benchmarks", "notebooks", "tests")
SOURCE_SUFFIXES = {".py", ".sh", ".ipynb"}
SOURCE_FILES = ("Makefile",)

ENV_NAME = re.compile(r"(?<![\w.])(GRIDMAP_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL|XDG_[A-Z_]*[A-Z])\b")
SETTINGS_HEADING = "## Settings (environment variables)"


def source_files() -> list[Path]:
    files = [ROOT / name for name in SOURCE_FILES]
    for directory in SOURCE_DIRS:
        files += sorted(
            path
            for path in (ROOT / directory).rglob("*")
            if path.suffix in SOURCE_SUFFIXES and path.is_file() and "vendor" not in path.parts
        )
    return [path for path in files if path.resolve() != Path(__file__).resolve()]


BROWSER_GLOBAL = re.compile(r"window\.(GRIDMAP_[A-Z0-9_]*[A-Z0-9])\b")


def browser_globals() -> set[str]:
    """The pages' ``window.GRIDMAP_*`` objects: a test may name one without ``window.``."""
    names: set[str] = set()
    for path in (ROOT / "api" / "static" / "js").glob("*.js"):
        names.update(BROWSER_GLOBAL.findall(path.read_text(encoding="utf-8")))
    return names


def names_in_code() -> dict[str, list[str]]:
    """Each environment variable named in the code, with the files that name it."""
    found: dict[str, list[str]] = {}
    pages = browser_globals()
    for path in source_files():
        for name in sorted(set(ENV_NAME.findall(path.read_text(encoding="utf-8"))) - pages):
            found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def names_in_readme() -> set[str]:
    """The backticked names in the first column of README's settings table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SETTINGS_HEADING in text, f"README.md has no '{SETTINGS_HEADING}' section"
    section = text.split(SETTINGS_HEADING, 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[1]))
    return names


def test_the_scan_sees_the_settings_module() -> None:
    """Guards the scan itself: a regex that matched nothing would pass vacuously."""
    found = names_in_code()
    assert {"DATABASE_URL", "GRIDMAP_PORT", "XDG_DATA_HOME"} <= found.keys()
    assert not any(name.startswith(("GRIDMAP_COVERAGE", "GRIDMAP_INCIDENTS")) for name in found)
    assert {"GRIDMAP_COVERAGE", "GRIDMAP_INCIDENTS"} <= browser_globals()


def test_every_environment_variable_is_documented() -> None:
    documented = names_in_readme()
    missing = {name: files for name, files in names_in_code().items() if name not in documented}
    assert not missing, (
        "environment variables read by the code but missing from README.md's "
        f"settings table (add a row with default and meaning): {missing}"
    )
