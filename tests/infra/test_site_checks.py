"""The site check catches each defect it targets, and the book's Sphinx extensions do what they
say: on the mini book (minibook.py), built with the book's own _config.yml and extensions.

The mini book has two clean chapters that use the whole toolkit (ch.check, book.table with
{glue-table}, typeset numbers, a figure in the book style, an exercise with an executed
solution, {chapter} links, {runtime}) and a page with one instance of every defect. Every check
must pass on the clean pages and report each defect on the other. Takes two to three minutes
(one build, one browser pass); skipped without Chromium.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from minibook import ROOT, make_minibook

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEFECTS = "book/03_defects.html"
# What the defects page must provoke: check -> a phrase of its report.
EXPECTED = {
    "math": ["a literal $", "a TeX backslash"],
    "math-width": ["at 1440px", "at 390px"],
    "tables": ["'inf'", "'NaN'"],
    "cell-length": ["30 lines"],
    "plumbing": ["ch.glue", "assert"],
    "repr": ["{'a': 1, 'b': 2}"],
    "chapter-links": ["See chapter 1"],
    "figure-text": ["smallest text"],
    "sideways": ["at 390px"],
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed")
    book = make_minibook(tmp_path_factory.mktemp("minibook"), defects=True)
    # jupyter-book's command, run by this interpreter (PATH need not hold the environment's bin)
    build = subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
                            "build", str(book), "--warningiserror", "--nitpick", "--keep-going"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-2000:]
    html = book / "_build" / "html"
    check = subprocess.run([sys.executable, str(ROOT / "tools" / "check_site.py"), "--html", str(html),
                            "--root", str(book), "--screenshots", str(book / "_build" / "screenshots"),
                            "--chromium", CHROMIUM], capture_output=True, text=True)
    failures = defaultdict(list)
    for line in check.stdout.splitlines():
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) == 3:
            failures[(parts[0], parts[1])].append(parts[2])
    return book, html, check, failures


def test_every_defect_is_reported(site):
    _, _, check, failures = site
    for name, phrases in EXPECTED.items():
        reports = " ".join(failures.get((DEFECTS, name), []))
        for phrase in phrases:
            assert phrase in reports, f"{name} did not report {phrase!r}:\n{check.stdout}"


def test_the_clean_pages_pass_every_check(site):
    _, _, check, failures = site
    elsewhere = {k: v for k, v in failures.items() if k[0] != DEFECTS}
    assert not elsewhere, check.stdout
    assert check.returncode == 1  # because of the defects page


def test_screenshots_at_both_widths(site):
    book, *_ = site
    shots = {p.name for p in (book / "_build" / "screenshots").glob("*.png")}
    assert {"book__01_demo.png", "book__01_demo-390.png", "book__claims-390.png"} <= shots


def test_the_claims_page_lists_each_check_with_its_values_and_a_link(site):
    _, html, _, _ = site
    page = (html / "book" / "claims.html").read_text()
    assert "2 claims in 2 chapters." in page
    assert "the estimate lands within <strong>0.1</strong> nats of the truth: off by <strong>0.016</strong>" in page
    assert 'href="01_demo.html#ebm-check-1"' in page and 'href="02_other.html#ebm-check-1"' in page
    assert 'id="ebm-check-1"' in (html / "book" / "01_demo.html").read_text()
    assert "1. The demo chapter" in page


def test_numbers_tables_figures_and_references_render(site):
    _, html, _, _ = site
    page = (html / "book" / "01_demo.html").read_text()
    assert re.search(r"<h1>1\. The demo chapter", page) or "1. </span>The demo chapter" in page \
        or re.search(r"1\.\s*The demo chapter", page)
    assert r"\(2^{784}\)" in page and r"\(8.9 \times 10^{-16}\)" in page   # {glue}: maths
    assert "8.9 × 10⁻¹⁶" in page and "0.000" in page and "-0.000" not in page
    assert "Table 1.1" in page and 'href="#tab-demo"' in page             # {glue-table}, {numref}
    assert "Fig. 1.1" in page
    assert "−150.11\u00a0±\u00a00.31" in page or "−150.11&nbsp;±&nbsp;0.31" in page
    assert 'href="02_other.html"' in page and ">chapter 2<" in page         # {chapter}`2`
    assert re.search(r"runs in <span class=\"ebm-runtime\">about \d+ (seconds|minutes?)", page)
    assert "solution" in page and "dropdown" in page and "6.9315" in page  # folded, executed
    other = (html / "book" / "02_other.html").read_text()
    assert other.count('class="output stream') == 1 and "step 2" in other   # merged streams


def test_run_times_and_author_year_labels(site):
    _, html, _, _ = site
    runtimes = (html / "book" / "execution.html").read_text()
    assert "1. The demo chapter" in runtimes and "CPU cores" in runtimes
    assert re.search(r"<td[^>]*><p>\d+ s</p>", runtimes)
    bib = (html / "book" / "bibliography.html").read_text()
    assert "Ackley <em>et al.</em>, 1985" in bib or "Ackley et al., 1985" in bib
    assert "AHS85" not in bib
