"""The code base stays ruff-clean: part of the suite, so CI fails on a lint error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "rctscale", "tests", "benchmarks"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_package_ships() -> None:
    """Every package directory is listed in pyproject.toml, so the wheel carries it."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "rctscale").rglob("__init__.py")}
    assert found - listed == set(), f"add these packages to pyproject.toml: {sorted(found - listed)}"
