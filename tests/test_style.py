"""Habits, checked: ebmlib passes ruff (lint and format) and mypy, as configured in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def tool(name: str) -> str:
    """The tool next to this Python (the tested environment pins it), else the one on PATH."""
    here = Path(sys.executable).with_name(name)
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -r requirements.txt")
    return found


def test_ruff_lint():
    result = run(tool("ruff"), "check", "ebmlib")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = run(tool("ruff"), "format", "--check", "ebmlib")
    assert result.returncode == 0, "run `ruff format ebmlib`:\n" + result.stdout + result.stderr


def test_mypy():
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
