"""The layers hold: ``ir`` imports nothing above it; ``frontend``, ``passes``,
``backends`` and ``viz`` never import each other; ``api``, ``tracing``, ``numpy_api``,
``interop``, ``corpus`` and the CLI sit on top (contract in pyproject.toml, checked by
import-linter's ``lint-imports``)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> list[str]:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.fail("import-linter is not installed: pip install '.[test]'")
    return [exe]


def test_import_layers_are_kept():
    run = subprocess.run(_lint_imports() + ["--no-cache"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_contract_catches_an_upward_import(tmp_path):
    """The check can fail: a copy of the package whose ``ir`` imports ``viz`` breaks it."""
    pkg = tmp_path / "graphc"
    shutil.copytree(ROOT / "graphc", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bad = pkg / "ir" / "upward.py"
    bad.write_text("from ..viz import graph_to_svg  # noqa: F401\n")
    run = subprocess.run(_lint_imports() + ["--no-cache"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert run.returncode != 0, run.stdout
    assert "graphc.ir.upward -> graphc.viz" in run.stdout
