"""The book's structure: table of contents, Colab install cells, parameters, citations, glue."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files():
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_every_toc_entry_exists_and_every_chapter_is_listed():
    listed = set(toc_files())
    for entry in listed:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".ipynb", ".md")), entry
    for chapter in CHAPTERS:
        assert f"book/{chapter.stem}" in listed, f"{chapter.name} is not in _toc.yml"


def test_config_executes_every_chapter_and_has_colab():
    # `make book` empties the jupyter-cache and executes every chapter into it before Jupyter
    # Book reads it (tools/execute_book.py): nothing cached outlives an edit
    assert CONFIG["execute"]["execute_notebooks"] == "cache"
    book_recipe = (ROOT / "Makefile").read_text().split("\nbook:", 1)[1].split("\n\n", 1)[0]
    assert book_recipe.index("tools/execute_book.py _build/.jupyter_cache") < book_recipe.index(
        "jupyter-book build")
    assert "shutil.rmtree(args.cache" in (ROOT / "tools" / "execute_book.py").read_text()
    # myst-nb's copy in _build/jupyter_execute lacks the cached outputs: replaced after the build
    assert book_recipe.index("jupyter-book build") < book_recipe.index("--export $(EXECUTED)")
    assert CONFIG["execute"]["allow_errors"] is False
    assert CONFIG["execute"]["timeout"] > 0
    assert CONFIG["launch_buttons"]["colab_url"].startswith("https://colab.research.google.com")
    assert CONFIG["repository"]["url"].startswith("https://github.com/")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_first_code_cell_installs_from_the_configured_repository(path):
    nb = nbformat.read(path, as_version=4)
    first = code_cells(nb)[0].source
    url, branch = CONFIG["repository"]["url"], CONFIG["repository"]["branch"]
    assert '"google.colab" in sys.modules' in first
    assert f'"ebmlib[book] @ git+{url}@{branch}"' in first, (
        f"{path.name}: the install cell does not match _config.yml's repository ({url}@{branch})"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_parameters_cell_holds_seed_and_device_as_literals(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in code_cells(nb) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    names = {}
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds assignments only"
        names[node.targets[0].id] = ast.literal_eval(node.value)
    assert isinstance(names.get("SEED"), int) and isinstance(names.get("DEVICE"), str)


# The rendered page fits a line of 88 characters in a code cell and of 86 in a folded
# (hide-input) one, whose box is narrower (measured in Chromium at 1440 x 900 by
# tools/check_site.py's code-width check). Checked here in a moment, before a book build.
WIDTH, FOLDED_WIDTH = 88, 86


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_rendered_cell(path):
    nb = nbformat.read(path, as_version=4)
    too_wide = []
    for index, cell in enumerate(code_cells(nb)):
        tags = cell.metadata.get("tags", [])
        if "remove-cell" in tags or "remove-input" in tags:
            continue
        limit = FOLDED_WIDTH if "hide-input" in tags else WIDTH
        too_wide += [f"cell {index}: {len(line)} > {limit}: {line[:60]!r}"
                     for line in cell.source.splitlines() if len(line) > limit]
    assert not too_wide, f"{path.name}: " + "; ".join(too_wide)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs_and_check_their_claims(path):
    nb = nbformat.read(path, as_version=4)
    for cell in code_cells(nb):
        assert not cell.outputs and cell.execution_count is None, f"{path.name} has stored outputs"
    assert any(re.search(r"^\s*assert |\bch\.check\(", c.source, re.M) for c in code_cells(nb)), (
        f"{path.name} checks none of its claims (ch.check, or an assert)"
    )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_citations_exist_and_glued_names_are_defined(path):
    nb = nbformat.read(path, as_version=4)
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in code_cells(nb))
    for group in re.findall(r"\{cite:[pt]\}`([^`]+)`", text):
        for key in group.split(","):
            assert key.strip() in keys, f"{path.name} cites unknown key {key}"
    for name in re.findall(r"\{glue(?::text|:figure|:md|-table)?\}`?\s*([A-Za-z_][A-Za-z0-9_]*)", text):
        prefixes = ["_".join(name.split("_")[:i]) for i in range(1, name.count("_") + 1)]
        glued = (re.search(rf'glue\("{re.escape(name)}"', code) or re.search(rf"\b{re.escape(name)}=", code)
                 or any(re.search(rf'\*\*\{{f"{re.escape(p)}_\{{', code) for p in prefixes))  # **{f"ll_{k}": ..}
        assert glued, f"{path.name} shows unglued {name}"


def test_every_chapter_is_converted_to_the_page_rules():
    """Every chapter opted in to the page rules (notebook metadata ebmlib.page_rules), so the
    test below and the site check hold all of them, and a new chapter cannot skip them."""
    sys.path.insert(0, str(ROOT / "tools"))
    from page_rules import follows_page_rules

    missing = [path.name for path in CHAPTERS if not follows_page_rules(path)]
    assert not missing, f"not converted to the page rules: {missing}"
    # ... and to the site check's output rules: figure text of 10 px or more as displayed,
    # no bare reprs (checked on the built pages, so only the opt-in is checked here)
    missing = [path.name for path in CHAPTERS if not follows_page_rules(path, "output_rules")]
    assert not missing, f"not opted in to the output rules: {missing}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_that_state_checked_claims_follow_the_page_rules(path):
    """A chapter converted to the page rules (notebook metadata ebmlib.page_rules) keeps them:
    no unfolded cell over 25 lines, no glue, check or bare assert in view, set-up and plotting
    folded, "chapter N" as a link (tools/page_rules.py; the site check sees the same)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from page_rules import follows_page_rules, problems

    if not follows_page_rules(path):
        pytest.skip(f"{path.name} is not converted to the page rules yet")

    found = problems(path)
    assert not found, f"{path.name}: " + "; ".join(found)


def test_labels_are_unique_across_the_book():
    """Sphinx labels (figure names, targets) are global: a name used twice is a build warning."""
    seen = {}
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        names = re.findall(r"^:name:\s*(\S+)", text, re.M) + re.findall(r"^\(([\w-]+)\)=", text, re.M)
        for name in names:
            assert name not in seen, f"label {name} is used in {seen.get(name)} and {path.name}"
            seen[name] = path.name


def test_a_chapter_runs_under_papermill_with_overridden_parameters(tmp_path):
    out = tmp_path / "preface.ipynb"
    subprocess.run(
        [sys.executable, "-m", "papermill", "--log-level", "ERROR", str(ROOT / "book" / "00_preface.ipynb"),
         str(out), "-p", "SEED", "7", "-p", "DEVICE", "cpu"],
        check=True, cwd=ROOT / "book", capture_output=True,
    )
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "SEED = 7" in injected[0].source


def test_readme_install_line_matches_the_configured_repository():
    url, branch = CONFIG["repository"]["url"], CONFIG["repository"]["branch"]
    assert f"git+{url}@{branch}" in (ROOT / "README.md").read_text()


def test_bibliography_keys_are_unique():
    """A repeated key is a bibtex warning, which fails the build."""
    keys = re.findall(r"@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text())
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    assert not repeated, f"repeated bibliography keys: {repeated}"


LIST_MARKER = re.compile(r"^\s*([-+*]|\d+[.)])\s")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_line_of_display_math_reads_as_a_list_item(path):
    """$$...$$ that opens inside a paragraph or list item (not at the start of a line of its own)
    is inline math that runs over lines; a line of it that starts with '- ' (or '+ ', '* ',
    '1. ') is then parsed as a new list item, which breaks the formula and leaves raw TeX on
    the page. (A display block that opens at column 0 is safe: its lines are not parsed.)"""
    nb = nbformat.read(path, as_version=4)
    broken = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        state = None  # None, "block" or "inline": which kind of $$ is open
        for line in cell.source.splitlines():
            if state == "inline" and LIST_MARKER.match(line):
                broken.append(f"cell {index}: {line.strip()[:60]!r}")
            if line.count("$$") % 2 == 1:
                if state is None:
                    state = "block" if line.startswith("$$") else "inline"
                else:
                    state = None
    assert not broken, f"{path.name}: " + "; ".join(broken)
