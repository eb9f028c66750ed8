"""The layout holds: imports run one way, and no package reaches into another's private modules.

The direction is pyproject.toml's import-linter contracts (docs/architecture.md
draws them); a private module is one whose name starts with ``_``: only the
package it sits in may import it (tests may).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gis", "layers", "api", "cli")
CHECKED = (*PACKAGES, "benchmarks", "scripts")
GIS_PACKAGES = (
    "exports",
    "demo",
    "imports",
    "features",
    "basemap",
    "tiles",
    "care",
    "accounts",
    "coverage",
    "incidents",
    "people",
    "participation",
    "network",
    "areas",
    "db",
    "geo",
)
KERNEL = ("principal", "localtime", "progress", "settings", "errors", "lang")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on the checkout at ``root`` (its own code, not the installed one)."""
    run = (
        "import sys; sys.path.insert(0, '.'); "
        "from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", run], cwd=root, capture_output=True, text=True, check=False
    )


def test_imports_run_one_way() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_lower_package_importing_a_higher_one_is_caught(tmp_path: Path) -> None:
    """The same contracts on a copy of the layout where gis.geo imports gis.incidents."""
    for package in ("gis", *(f"gis/{p}" for p in GIS_PACKAGES), "layers", "api", "cli"):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "__init__.py").write_text("")
    for module in KERNEL:
        (tmp_path / f"gis/{module}.py").write_text("")
    (tmp_path / "gis/incidents/workflow.py").write_text("STATES = ()\n")
    (tmp_path / "gis/geo/datum.py").write_text("from gis.incidents.workflow import STATES\n")
    config = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(config[config.index("[tool.importlinter]") :])
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "gis.geo.datum -> gis.incidents.workflow" in result.stdout


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in a file, ``from a import b`` as ``a.b`` too."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(root: Path) -> list[str]:
    """``file:line imports module`` for each import of a private module from outside its package."""
    found = []
    for top in CHECKED:
        for path in sorted((root / top).rglob("*.py")):
            importer = _module_name(path, root)
            for line, imported in _imports(path):
                parts = imported.split(".")
                if parts[0] not in PACKAGES:
                    continue
                private = [i for i, part in enumerate(parts) if part.startswith("_")]
                if not private:
                    continue
                owner = ".".join(parts[: private[0]])
                target = ".".join(parts[: private[0] + 1])
                if not (root / Path(*target.split("."))).with_suffix(".py").exists():
                    continue  # a private name in a public module, not a private module
                if importer != owner and not importer.startswith(owner + "."):
                    found.append(f"{path.relative_to(root)}:{line} imports {target}")
    return list(dict.fromkeys(found))


def test_no_package_reaches_into_another_packages_private_modules() -> None:
    assert private_imports(ROOT) == []


def test_reaching_into_a_private_module_is_caught(tmp_path: Path) -> None:
    files = {
        "gis/demo/_grids.py": "def bisect(): ...\n",
        "gis/demo/generate.py": "from gis.demo._grids import bisect\n",
        "cli/main.py": "from gis.demo import _grids\nfrom gis.demo._grids import bisect\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    assert private_imports(tmp_path) == [
        "cli/main.py:1 imports gis.demo._grids",
        "cli/main.py:2 imports gis.demo._grids",
    ]
