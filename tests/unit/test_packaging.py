"""What installing modelplane puts into a user's environment.

The repository keeps the design card's top-level ``domain/``, ``projections/`` and ``api/``;
they ship as ``modelplane.domain``, ``modelplane.projections`` and ``modelplane.api`` so that
a user's own ``domain`` or ``api`` package is never shadowed by ours.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "projections", "api")


def _sources() -> list[Path]:
    """Our Python files: hidden folders are pruned unwalked (``.venv``, and the benchmark's
    ``benchmarks/.venvs`` of ZenML and MLflow, 15,000 files that are not ours)."""
    found: list[Path] = []
    for folder in (*LAYERS, "modelplane", "tests", "benchmarks"):
        for parent, folders, files in os.walk(ROOT / folder):
            folders[:] = [name for name in folders if not name.startswith(".")]
            found.extend(Path(parent) / name for name in files if name.endswith(".py"))
    return found


def test_no_module_imports_a_layer_by_its_bare_name() -> None:
    """``import domain`` would load a second copy of every aggregate beside
    ``modelplane.domain``; events of one would not be instances of the other."""
    offenders = []
    for path in _sources():
        if path.is_relative_to(ROOT / "modelplane") and path.parts[len(ROOT.parts) + 1] in LAYERS:
            continue  # the same files again, through the package's symlinks
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in LAYERS:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert offenders == []


def test_layers_are_subpackages_of_modelplane() -> None:
    import modelplane.api
    import modelplane.domain
    import modelplane.projections

    for module, folder in (
        (modelplane.domain, "domain"),
        (modelplane.projections, "projections"),
        (modelplane.api, "api"),
    ):
        assert Path(module.__file__ or "").resolve().parent == ROOT / folder


@pytest.mark.slow
def test_the_wheel_installs_only_the_modelplane_package(tmp_path: Path) -> None:
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("modelplane", *LAYERS):
        shutil.copytree(
            ROOT / folder,
            source / folder,
            symlinks=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    wheels = tmp_path / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = wheels.glob("modelplane-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"modelplane", wheel.name.split("-py")[0] + ".dist-info"}
    for folder in LAYERS:
        assert f"modelplane/{folder}/__init__.py" in names
    assert "modelplane/domain/model.py" in names
