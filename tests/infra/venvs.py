"""Helpers: fresh virtual environments for the tests of the reader's install paths (Colab, oldest
dependencies). Each is created with the interpreter running the tests and sees nothing of the
project's .venv; pip installs into it from the configured package indexes (its cache makes a
second run quick)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a process of a fresh venv: none of this one's venv or paths."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "EBMLIB_EXECUTED_BOOK"}}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", MPLBACKEND="Agg", **extra)
    return env


def run(cmd: list, timeout: int = 1200, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", clean_env())
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs)


def tail(result: subprocess.CompletedProcess, n: int = 4000) -> str:
    return (result.stdout + "\n" + result.stderr)[-n:]


def make_venv(path: Path) -> Path:
    """Create a virtual environment at path and return its python; skip the test (with the
    reason) only where one cannot be created."""
    result = run([sys.executable, "-m", "venv", path], timeout=300)
    python = path / "bin" / "python"
    if result.returncode != 0 or not python.exists():
        pytest.skip(f"cannot create a virtual environment here: {tail(result, 500)}")
    return python


def pip_install(python: Path, *requirements: str, constraint: Path | None = None) -> None:
    cmd = [python, "-m", "pip", "install", "--quiet", *requirements]
    if constraint is not None:
        cmd += ["--constraint", constraint]
    result = run(cmd)
    assert result.returncode == 0, f"pip install {' '.join(requirements)} failed:\n{tail(result)}"
