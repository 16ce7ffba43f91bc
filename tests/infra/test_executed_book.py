"""The chapters as `make book` executed them, checked instead of executed a second time.

`make test` sets EBMLIB_EXECUTED_BOOK (to _build/jupyter_execute) only when the stamp beside
it, _build/book.stamp, shows that `make book` succeeded on exactly the sources and environment
present now (see tools/book_stamp.py and the Makefile); otherwise it executes every chapter with
nbval and these tests are skipped. They hold the executed notebooks to what nbval --nbval-lax
would have asked of a fresh run: every code cell ran, once, in order, with no error (so every
assert held), from the very code now in book/.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ebmlib.book.checks import OUTPUT_WIDTH

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
EXECUTED = os.environ.get("EBMLIB_EXECUTED_BOOK")

pytestmark = pytest.mark.skipif(
    not EXECUTED, reason="the chapters are executed by nbval in this run (see `make test`)")


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_stamp_still_matches_the_sources():
    """Checked again here, so that nothing can change between the Makefile's check and now."""
    stamp = Path(EXECUTED).parent / "book.stamp"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "book_stamp.py"), "check", str(stamp)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_cell_of_the_chapter_ran_without_error(path):
    executed_path = Path(EXECUTED) / "book" / path.name
    assert executed_path.is_file(), f"make book left no executed copy of {path.name}"
    source = nbformat.read(path, as_version=4)
    executed = nbformat.read(executed_path, as_version=4)
    assert [c.source for c in code_cells(executed)] == [c.source for c in code_cells(source)], (
        f"{executed_path} was not executed from the current {path.name}")
    counts = []
    for index, cell in enumerate(code_cells(executed)):
        if not cell.source.strip():
            continue
        assert cell.execution_count is not None, f"{path.name}: code cell {index} did not run"
        counts.append(cell.execution_count)
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" not in cell.metadata.get("tags", []):
            assert not errors, (
                f"{path.name}: code cell {index} raised {errors[0].ename}: {errors[0].evalue}")
    assert counts == sorted(counts) and len(set(counts)) == len(counts), (
        f"{path.name}: the cells did not run once each, in order: {counts}")


# A line of OUTPUT_WIDTH (88) characters fits an output block of the rendered page
# (tools/check_site.py); ebmlib.book wraps its check lines there.


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_shown_outputs_fit_the_page_and_carry_no_warnings(path):
    """What a reader sees under a cell: no warning or progress bar (stderr), no line too wide.

    Checked on the executed notebooks in a moment, instead of after the browser checks."""
    executed = nbformat.read(Path(EXECUTED) / "book" / path.name, as_version=4)
    problems = []
    for index, cell in enumerate(code_cells(executed)):
        tags = cell.metadata.get("tags", [])
        if "remove-cell" in tags or "remove-output" in tags:
            continue
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {index} writes to stderr: {output.text[:80]!r}")
                continue
            # A figure or an HTML output (a table, a checked claim) shows no plain text on the
            # page; the browser checks measure those (tools/check_site.py).
            data = output.get("data", {})
            text = output.get("text", "") if output.output_type == "stream" else (
                data.get("text/plain", "") if not {"image/png", "text/html"} & set(data) else "")
            problems += [f"cell {index}: output line of {len(line)} > {OUTPUT_WIDTH}: {line[:60]!r}"
                         for line in text.splitlines() if len(line) > OUTPUT_WIDTH]
    assert not problems, f"{path.name}: " + "; ".join(problems)
