"""The stamp that lets `make test` use the chapters `make book` executed instead of executing
them a second time.

    python tools/book_stamp.py write STAMP   # record what the chapters' execution reads
    python tools/book_stamp.py check STAMP   # exit 0 only if nothing of it has changed since

`make book` writes the stamp to a temporary file BEFORE it executes the chapters and moves it to
_build/book.stamp only when the build succeeded (every cell ran without error, no Sphinx
warning). `make test` checks the executed notebooks in _build/jupyter_execute when the stamp
matches, and executes every chapter itself with nbval when it does not (or is missing).

What is recorded: a SHA-256 of every file under book/ and ebmlib/ (tracked or untracked, less
what .gitignore ignores), of requirements.txt, pyproject.toml, _config.yml and _toc.yml, and of
the environment the kernel runs in (the Python version and every installed distribution with its
version). An edit of any of them, or a package installed by hand, makes the stamp stale.
Imports nothing heavy (no torch), so it runs in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ("book", "ebmlib")
FILES = ("requirements.txt", "pyproject.toml", "_config.yml", "_toc.yml")
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def input_files() -> list[str]:
    """The files the execution reads, relative to the repository root, sorted."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *TREES, *FILES],
            cwd=ROOT, check=True, capture_output=True, text=True).stdout
        paths = [p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the trees
        paths = [f for f in FILES if (ROOT / f).exists()]
        for tree in TREES:
            for dirpath, dirnames, filenames in os.walk(ROOT / tree):
                dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
                paths += [str((Path(dirpath) / f).relative_to(ROOT)) for f in filenames
                          if not f.endswith((".pyc", ".pt"))]
    return sorted(p for p in set(paths) if (ROOT / p).is_file())


def environment() -> str:
    dists = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()})
    return hashlib.sha256("\n".join([sys.version, *dists]).encode()).hexdigest()


def snapshot() -> dict:
    files = {p: hashlib.sha256((ROOT / p).read_bytes()).hexdigest() for p in input_files()}
    return {"files": files, "environment": environment()}


def write(stamp: Path) -> int:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n")
    return 0


def check(stamp: Path) -> int:
    """0 if the stamp matches the tree and environment now; 1 (and why) otherwise."""
    if not stamp.is_file():
        print(f"book stamp: {stamp} is missing (no successful `make book` since the last change)")
        return 1
    try:
        old = json.loads(stamp.read_text())
    except ValueError:
        print(f"book stamp: {stamp} is unreadable")
        return 1
    new = snapshot()
    changed = sorted(p for p in old["files"].keys() | new["files"].keys()
                     if old["files"].get(p) != new["files"].get(p))
    if old.get("environment") != new["environment"]:
        changed.append("(the installed packages or the Python version)")
    if changed:
        shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
        print(f"book stamp: changed since `make book` executed the chapters: {shown}")
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"write", "check"}:
        print(__doc__)
        return 2
    return (write if argv[0] == "write" else check)(Path(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
