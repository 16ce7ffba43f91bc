"""The Colab path: a chapter's first cells run the way Colab runs them.

A fresh virtual environment that already has torch (as Colab does) and IPython; a stand-in
`google.colab` module imported at start-up (as Colab imports the real one), so that the
chapter's install cell takes its Colab branch; that cell's `%pip install "ebmlib[book] @ git+URL@BRANCH"`
pointed by this test (the notebook is not edited) at this checkout's HEAD commit as a git URL;
then the chapter's cells up to and including its set-up cell (the first code cell after the
`parameters` cell), in an empty working directory, so that `import ebmlib` can only find the
installed package. It proves that the install spec, the `book` extras and the package build work
from a git URL. A git URL installs what is committed, so the notebook is read from the same
commit. Takes a few minutes (torch and the extras are installed); skipped only where git or a
virtual environment is not available.
"""

import json
import shutil
import subprocess
import textwrap

import nbformat
import pytest
import yaml

from venvs import ROOT, clean_env, make_venv, pip_install, run, tail

CHAPTER = "book/00_preface.ipynb"
STUB = '"""Stand-in for Colab\'s module: a chapter only asks whether it is imported."""\n'
DRIVER = textwrap.dedent('''
    import json, sys
    import google.colab  # Colab imports it at start-up
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    for index, source in enumerate(json.load(open(sys.argv[1]))):
        print(f"--- cell {index}", flush=True)
        if not shell.run_cell(source).success:
            sys.exit(f"cell {index} failed")
    import ebmlib
    print("EBMLIB", ebmlib.__file__)
''')


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def first_cells(nb) -> list[str]:
    """The code cells up to and including the set-up cell (the one after `parameters`)."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged and tagged[0] + 1 < len(cells), f"{CHAPTER} has no set-up cell after its parameters cell"
    return [c.source for c in cells[: tagged[0] + 2]]


def test_the_first_cells_of_a_chapter_run_as_in_colab(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    try:
        commit = git("rev-parse", "HEAD").strip()
        notebook = nbformat.reads(git("show", f"{commit}:{CHAPTER}"), as_version=4)
    except subprocess.CalledProcessError as err:
        pytest.skip(f"not a git checkout with {CHAPTER} committed: {err.stderr.strip()}")

    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    published = f"git+{config['url']}@{config['branch']}"
    local = f"git+file://localhost{ROOT}@{commit}"  # a host, which older pips insist on
    cells = first_cells(notebook)
    assert published in cells[0] and '"google.colab" in sys.modules' in cells[0], (
        f"{CHAPTER}'s first code cell does not install {published} in Colab only")
    cells[0] = cells[0].replace(published, local)

    python = make_venv(tmp_path / "colab")
    # What Colab has before the notebook runs: torch (the pinned one) and IPython.
    pip_install(python, "torch==2.13.0", "ipykernel", constraint=ROOT / "requirements.txt")

    stub = tmp_path / "colab-modules" / "google" / "colab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(STUB)
    (tmp_path / "cells.json").write_text(json.dumps(cells))
    (tmp_path / "driver.py").write_text(DRIVER)
    workdir = tmp_path / "content"  # Colab's empty working directory
    workdir.mkdir()
    # The extras resolve to the versions requirements.txt pins (the tested ones, in pip's cache).
    env = clean_env(PYTHONPATH=str(tmp_path / "colab-modules"), PIP_CONSTRAINT=str(ROOT / "requirements.txt"))
    result = run([python, tmp_path / "driver.py", tmp_path / "cells.json"], cwd=workdir, env=env)
    assert result.returncode == 0, f"the first cells of {CHAPTER} failed as in Colab:\n{tail(result)}"

    installed = result.stdout.split("EBMLIB ")[-1].strip()
    assert "site-packages" in installed and str(ROOT) not in installed, (
        f"ebmlib was imported from {installed}, not from the package installed by the install cell")
    version = run([python, "-m", "pip", "show", "ebmlib"], env=env)
    assert "Version:" in version.stdout, tail(version)
