"""The page rules a chapter notebook can be checked against in a second, before any build.

Usage: python tools/page_rules.py book/03_cd_and_sml.ipynb [...]     (exit status 1 on a problem)

What a reader sees unfolded is the experiment: a code cell shown unfolded (not tagged
hide-input, remove-input or remove-cell, and not an exercise's solution, which the book folds
into a dropdown)
  * has at most 25 lines,
  * does not glue or check (ch.glue, ch.check, glue(), a bare assert): those go in a folded
    cell under it; a cell tagged show-assert may keep an assert the reader should see (a
    reference implementation checked against the library),
  * does not set up or draw (ebmlib.book.setup, plt., ax.set_..., ebmlib.plotting);
and the text writes "chapter N" as a link ({chapter}`N`) when the book has a chapter N.

The browser checks (tools/check_site.py) see the same on the built pages, and more; these are
the ones a notebook shows without being built. A chapter opts in when it has been converted to
these rules, with ``"ebmlib": {"page_rules": true}`` in its notebook metadata
(:func:`follows_page_rules`); tests/test_book.py and tools/check_site.py then hold it to them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

MAX_LINES = 25
FOLDED = {"hide-input", "remove-input", "remove-cell", "solution"}
PLUMBING = [
    (re.compile(r"\bch\.glue\("), "ch.glue"),
    (re.compile(r"\bch\.check\("), "ch.check"),
    (re.compile(r"(?<![.\w])glue\("), "glue()"),
    (re.compile(r"^\s*assert\b", re.M), "assert"),
]
DRAWING = re.compile(r"\bsetup\(|\bplt\.|\bax\w*\.(set_|plot|imshow|hist|scatter|legend)|\bplotting\.")
CHAPTER = re.compile(r"\b[Cc]hapters?\s+(\d+)(?!\d|\.\d)")  # "chapter 2." ends a sentence
LINKED = re.compile(r"\{chapter\}`[^`]*`|\[[^\]]*\]\([^)]*\)|\{(doc|ref|numref)\}`[^`]*`|`[^`]*`")


def follows_page_rules(path: str | Path, rules: str = "page_rules") -> bool:
    """Whether the notebook at ``path`` opted in to the page rules (a converted chapter), or with
    ``rules="output_rules"`` to the site check's rules for its outputs (figure text, reprs)."""
    nb = nbformat.read(path, as_version=4)
    return bool(nb.metadata.get("ebmlib", {}).get(rules, False))


def problems(path: str | Path) -> list[str]:
    """Every rule the notebook at ``path`` breaks, as 'cell N: what'."""
    nb = nbformat.read(path, as_version=4)
    folder = Path(path).parent
    out = []
    for index, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type == "markdown":
            text = LINKED.sub("", cell.source)
            for match in CHAPTER.finditer(text):
                if not list(folder.glob(f"{int(match.group(1)):02d}_*.ipynb")):
                    continue  # not one of ours ("chapter 18 of Goodfellow et al.")
                out.append(f"cell {index}: '{match.group(0)}' is not a link (write {{chapter}}`N`)")
            continue
        if cell.cell_type != "code" or tags & FOLDED:
            continue
        lines = cell.source.rstrip("\n").splitlines()
        if len(lines) > MAX_LINES:
            out.append(f"cell {index}: {len(lines)} lines shown unfolded (at most {MAX_LINES}): "
                       f"{lines[0][:50]!r}")
        if "show-assert" not in tags:
            for pattern, what in PLUMBING:
                if pattern.search(cell.source):
                    out.append(f"cell {index}: {what} in a cell shown unfolded (move it to a "
                               "hide-input cell under it)")
        match = DRAWING.search(cell.source)
        if match:
            out.append(f"cell {index}: set-up or plotting code shown unfolded ({match.group(0)!r}); "
                       "tag the cell hide-input")
    return out


def main(argv: list[str]) -> int:
    status = 0
    for path in argv:
        found = problems(path)
        for problem in found:
            print(f"{path}: {problem}")
        status |= bool(found)
    if not status:
        print(f"page rules: {len(argv)} notebook(s) pass")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
