"""Check the built book in a real browser, page by page, the way a reader meets it.

Usage: python tools/check_site.py [--html _build/html] [--screenshots _build/screenshots]
                                  [--chromium /usr/bin/chromium]

The site is served from a local HTTP server and opened in the system's Chromium (driven by
Playwright's Python package; no browser is ever downloaded). Every HTML page of the build is
visited (the chapters and reference pages of _toc.yml, the index, search and highlighted-source
pages that Sphinx adds) and checked:

  network       no request leaves the local server (MathJax, fonts and scripts are served from
                the build); no local request fails (404)
  console       no JavaScript console error and no uncaught exception
  images        every image has loaded (naturalWidth > 0)
  figures       every image in the text is in a figure with a caption, or has real alt text
                (not the file name that myst-nb writes by default)
  math          MathJax typeset every formula: each .math element holds an mjx-container, no
                mjx-merror node, no raw $...$, \\( \\[ or \\begin left in the visible text, and
                no lone $ or TeX backslash (\\alpha, \\_) in it either
  math-width    no formula is wider than its column at 1440 px (a display formula that scrolls
                or is cut off at the column's edge is reported); at 390 px (a phone) no inline
                formula is, and a display formula wider than the screen scrolls inside its own
                box (nothing is cut off and the page does not scroll sideways), as in the
                lectures this book is read beside
  references    no unresolved glue or cross-reference: no '??', no raw {role} markup, no
                glued value shown as a repr (tensor(...), array(...), quotes)
  links         every internal link resolves: the target file exists and so does its #anchor
  colab         the Colab launch link of each chapter points at _config.yml's repository.url,
                repository.branch and the chapter's notebook path, and that notebook exists
  code-width    no code or output block is wider than its box (scrollWidth <= clientWidth) for
                the notebook cells (div.cell_input pre, div.cell_output pre and each
                div.cell_output > div.output) and every other code block of a book page
                (div.highlight pre), in a 1440 x 900 window, where a line of 88 characters fits
  folding       the set-up and plotting code of a chapter is folded (hide-input): no code cell
                shown unfolded calls the set-up (ebmlib.book.setup) or draws (plt., ax.set_...,
                .plot(, .imshow(, subplots, ebmlib.plotting, ...), so that what a reader sees
                unfolded is the experiment and its check
  plumbing      no code cell shown unfolded glues or checks (ch.glue, ch.check, glue() or a
                bare assert); a cell tagged show-assert may hold an assert the reader should
                see (a reference implementation checked against the library)
  cell-length   no code cell shown unfolded is longer than 25 lines
  tables        no table shows NaN, inf, None, NaT or <NA> in a cell
  repr          no cell output is a bare repr (an expression's value shown as text/plain:
                tensor(...), a dict, an object); print what the reader needs, or show a table
  figure-text   the smallest text of every figure is at least 10 px as displayed at 1440 px:
                its font size (from the PNG's ebmlib:min-font-pt text chunk and dpi, which
                ebmlib.plotting writes, or an SVG's text elements) scaled by the displayed width
                over the image's natural width; a figure without that information is reported
  chapter-links "chapter N" in the text of a chapter is a link (the {chapter} role)
  sideways      no page scrolls sideways in a 390 px wide window (a phone)
  search        the search page finds each chapter by a word of its title
  toc           every entry of _toc.yml has a page
  load          every page loads (within 60 s) and the checks can run on it

A full-page screenshot of every page, at 1440 px (NAME.png) and at 390 px (NAME-390.png), is
saved under --screenshots. --pages limits the run to some pages (glob patterns), as the tests
of the checks do on a small book. The report lists every failure
as page | check | detail; the exit status is 1 if there is any.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import http.server
import json
import posixpath
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
MAX_CELL_LINES = 25
MIN_TEXT_PX = 10.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
INSTALL_HINT = (
    "Chromium is needed for the browser checks. On Debian or Ubuntu, as root:\n"
    "    apt-get update && apt-get install -y chromium\n"
    "or pass another Chromium or Chrome with --chromium PATH (make check-site CHROMIUM=PATH)."
)
# The blocks whose width is checked, and what the report calls them.
WIDTH_SELECTORS = {
    "cell input": "div.cell_input pre",
    "cell output": "div.cell_output pre, div.cell_output > div.output",
    "code block": "article div.highlight pre",
}


# --------------------------------------------------------------------------- the report


@dataclass
class Report:
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    pages: int = 0

    def fail(self, page: str, check: str, detail: str) -> None:
        self.failures.append((page, check, detail))

    def print(self, checks: list[str]) -> None:
        by_check = defaultdict(int)
        for _, check, _ in self.failures:
            by_check[check] += 1
        print(f"\nchecked {self.pages} pages: {', '.join(checks)}")
        if not self.failures:
            print("site checks: all passed")
            return
        print(f"\n{len(self.failures)} failure(s):")
        width = max(len(p) for p, _, _ in self.failures)
        for page, check, detail in self.failures:
            print(f"  {page:<{width}} | {check:<10} | {detail}")
        print("\nfailures by check: " + ", ".join(f"{c} {n}" for c, n in sorted(by_check.items())))


# --------------------------------------------------------------------------- the book's pages


def load_config(root: Path = ROOT) -> tuple[dict, list[str]]:
    config = yaml.safe_load((root / "_config.yml").read_text())
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    entries = [toc["root"]]
    for part in toc.get("parts", []):
        entries += [c["file"] for c in part.get("chapters", [])]
    for chapter in toc.get("chapters", []):
        entries.append(chapter["file"])
    return config, entries


def chapter_numbers(entries: list[str]) -> list[int]:
    """The chapter numbers of the book: NN of every entry named .../NN_name."""
    return sorted({int(m.group(1)) for e in entries if (m := re.search(r"(?:^|/)(\d{2})_", e))})


def site_pages(html: Path) -> list[str]:
    """Every HTML page of the build, as paths relative to its root (assets excluded)."""
    pages = []
    for path in sorted(html.rglob("*.html")):
        rel = path.relative_to(html).as_posix()
        if rel.split("/")[0] in {"_static", "_sources", "_images"}:
            continue
        pages.append(rel)
    return pages


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value or "")


@functools.lru_cache(maxsize=None)
def ids_of(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def serve(html: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve the build on 127.0.0.1 (an ephemeral port); return the server and its base URL.
    Failed requests are seen, and reported, by the page that made them."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# --------------------------------------------------------------------------- in the browser

WAIT_FOR_PAGE = """async () => {
  // MathJax (if the page loads it) has typeset everything it will typeset.
  const deadline = Date.now() + 30000;
  const hasMath = document.querySelector('.math') !== null;
  while (hasMath && !(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline)
    await new Promise(r => setTimeout(r, 50));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  // Every image has loaded or failed (lazy images are asked to load now).
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null :
    new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 10000); })));
  return true;
}"""

# Text nodes a reader sees as prose: not code, not typeset math, not scripts.
PROSE_TEXT = """() => {
  const skip = 'pre, code, kbd, samp, script, style, noscript, textarea, mjx-container, .highlight';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip)) continue;
    if (n.textContent.trim()) out.push(n.textContent);
  }
  return out.join(' ');
}"""

IMAGES = """() => [...document.images].map(i => ({
  src: i.getAttribute('src') || '', alt: (i.getAttribute('alt') || '').trim(),
  natural: i.naturalWidth, inArticle: !!i.closest('article'),
  caption: (i.closest('figure') && i.closest('figure').querySelector('figcaption'))
           ? i.closest('figure').querySelector('figcaption').innerText.trim() : ''}))"""

MATH = """() => ({
  untypeset: [...document.querySelectorAll('.math')]
     .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.trim().slice(0, 80)),
  errors: [...document.querySelectorAll('mjx-merror')]
     .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
  loaded: !!(window.MathJax && MathJax.version),
})"""

GLUE = """() => [...document.querySelectorAll('.pasted-text, .pasted-inline, span.output')].map(e => e.innerText.trim())"""

HINTS = """() => [...document.querySelectorAll(
  'link[rel~=preconnect], link[rel~=dns-prefetch], link[rel~=prefetch], link[rel~=preload], link[rel~=modulepreload]')]
  .map(l => l.href)"""

LINKS = """() => [...document.querySelectorAll('a[href]')].map(a => a.href)"""

COLAB = """() => [...document.querySelectorAll('a[href*="colab.research.google.com"]')].map(a => a.href)"""

WIDTHS = """(selectors) => {
  const out = [], reported = [];
  for (const [kind, sel] of Object.entries(selectors)) {
    document.querySelectorAll(sel).forEach(e => {
      if (e.scrollWidth <= e.clientWidth + 1) return;
      if (reported.some(r => r.contains(e) || e.contains(r))) return;  // one report per block
      reported.push(e);
      const lines = e.textContent.split('\\n');
      const longest = lines.reduce((a, b) => b.length > a.length ? b : a, '');
      out.push({kind, scroll: e.scrollWidth, client: e.clientWidth, chars: longest.length,
                line: longest.trim().slice(0, 60)});
    });
  }
  return out;
}"""

# The source of every code cell shown unfolded (not in a hide-input <details> or an exercise's
# folded solution, not removed).
UNFOLDED = """() => [...document.querySelectorAll('div.cell div.cell_input')]
  .filter(e => !e.closest('details') && !e.closest('.solution')).map(e => e.innerText)"""
FOLD_ME = [
    (re.compile(r"\bsetup\("), "set-up"),
    (re.compile(r"\bplt\.|\bax\w*\.(set_|plot|imshow|hist|scatter|legend|axhline|axvline|fill_between|bar|errorbar|contour)"
                r"|\bsubplots\(|\.imshow\(|\bplotting\.|^\s*fig\w*\s*[,=]", re.M), "plotting"),
]

# Every code cell shown unfolded, with its tags (myst-nb writes a cell's tags as tag_* classes).
UNFOLDED_CELLS = """() => [...document.querySelectorAll('div.cell div.cell_input')]
  .filter(e => !e.closest('details') && !e.closest('.solution'))
  .map(e => ({text: e.innerText, tags: [...(e.closest('div.cell') || e).classList]
                 .filter(c => c.startsWith('tag_')).map(c => c.slice(4))}))"""
PLUMBING = [
    (re.compile(r"\bch\.glue\("), "ch.glue"),
    (re.compile(r"\bch\.check\("), "ch.check"),
    (re.compile(r"(?<![.\w])glue\("), "glue()"),
    (re.compile(r"^\s*assert\b", re.M), "assert"),
]

# Formulas whose typeset width exceeds the block they sit in (or the article's text column).
MATH_WIDTH = r"""() => {
  const article = document.querySelector('article') || document.body;
  const column = article.getBoundingClientRect();
  const out = [];
  document.querySelectorAll('article mjx-container').forEach(c => {
    const math = c.querySelector('mjx-math');
    if (!math) return;
    const m = math.getBoundingClientRect();
    const display = c.getAttribute('display') === 'true';
    // A formula inside a box that scrolls sideways (a wide table) is that box's business.
    let p = c.parentElement, scrolled = false;
    while (p && p !== article) {
      if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) { scrolled = true; break; }
      p = p.parentElement;
    }
    if (scrolled) return;
    const box = display ? (c.closest('div.math, div.MathJax_Display, p, li, dd') || c.parentElement) : article;
    const b = box.getBoundingClientRect();
    const width = Math.min(b.width, column.width);
    const over = m.width - width;
    const outside = m.right - Math.min(b.right, column.right);
    if (over > 1 || outside > 1 || (display && c.scrollWidth > c.clientWidth + 1)) {
      let tex = '';
      try { tex = MathJax.startup.document.getMathItemsWithin(c)[0].math; } catch (e) {
        tex = (c.textContent || ''); }
      const own = getComputedStyle(c).overflowX;
      out.push({display, width: Math.round(m.width), column: Math.round(width),
                scrolls: display && ['auto', 'scroll'].includes(own) && c.clientWidth <= width + 1,
                tex: tex.replace(/\s+/g, ' ').trim().slice(0, 70)});
    }
  });
  return out;
}"""

# Cells of every table a reader sees that show a non-number.
TABLE_JUNK = r"""() => {
  const bad = /(^|[^A-Za-z])(nan|NaN|NAN|inf|-inf|Inf|INF|None|NaT|<NA>|Infinity)(?=$|[^A-Za-z])/;
  const out = [];
  document.querySelectorAll('article table').forEach((t, i) => {
    t.querySelectorAll('td, th').forEach(cell => {
      const text = cell.innerText.trim();
      if (bad.test(text)) out.push({table: i + 1, cell: text.slice(0, 40)});
    });
  });
  return out;
}"""

# Outputs that are an expression's value shown as plain text (a repr).
REPRS = r"""() => [...document.querySelectorAll('div.cell_output > div.output.text_plain')]
  .map(e => e.innerText.trim().split('\n')[0].slice(0, 70))"""

# Every picture of the text: where it comes from, its natural and its displayed width.
FIGURE_IMAGES = """() => [...document.querySelectorAll('article img')]
  .filter(i => i.closest('figure') || i.closest('div.cell_output'))
  .map(i => ({src: i.getAttribute('src') || '', url: i.currentSrc || i.src,
              natural: i.naturalWidth, shown: i.getBoundingClientRect().width}))"""

# "chapter 3" in the text of a page, not inside a link.
CHAPTER_MENTIONS = r"""(numbers) => {
  const skip = 'a, pre, code, script, style, mjx-container, .highlight, nav, header, footer, .bd-sidebar-primary, .bd-sidebar-secondary, .prev-next-area';
  const article = document.querySelector('article') || document.body;
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip)) continue;
    const re = /\b[Cc]hapters?\s+(\d+)(?!\d|\.\d)/g;   // 'chapter 2.' ends a sentence; 'chapter 2.3' is a section
    let m;
    while ((m = re.exec(n.textContent)) !== null) {
      if (!numbers.includes(parseInt(m[1], 10))) continue;   // not one of this book's chapters
      const t = n.textContent;
      out.push(t.slice(Math.max(0, m.index - 25), m.index + m[0].length + 15).replace(/\s+/g, ' '));
    }
  }
  return out;
}"""

SIDEWAYS = r"""() => ({scroll: document.documentElement.scrollWidth, width: window.innerWidth,
  widest: [...document.querySelectorAll('body *')].filter(e => {
      const r = e.getBoundingClientRect(); return r.right > window.innerWidth + 1 && r.width > 0; })
    .filter(e => { let p = e.parentElement;   // skip what an ancestor scrolls or clips
        while (p && p !== document.body) { const o = getComputedStyle(p).overflowX;
          if (o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') return false;
          p = p.parentElement; } return true; })
    .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string'
        ? '.' + e.className.trim().split(/\s+/).slice(0, 2).join('.') : '')
        + ' (' + Math.round(e.getBoundingClientRect().right) + 'px)')})"""

SEARCH_DONE = """() => {
  const r = document.querySelector('#search-results');
  return r && /Search finished|did not match any/.test(r.innerText);
}"""


@dataclass
class Visit:
    """What one page load recorded."""

    console: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    local_errors: list[str] = field(default_factory=list)


def open_page(context, url: str, base: str, viewport: dict | None = None) -> tuple[object, Visit]:
    page = context.new_page()
    if viewport:
        page.set_viewport_size(viewport)
    visit = Visit()

    def route(route):
        request_url = route.request.url
        if request_url.startswith(base) or request_url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            visit.external.append(request_url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: visit.console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.console.append(f"uncaught: {e}"))
    page.on("websocket", lambda ws: visit.external.append(ws.url))
    page.on("response", lambda r: visit.local_errors.append(f"{r.status} {r.url[len(base) - 1:]}")
            if r.status >= 400 and r.url.startswith(base) else None)
    page.goto(url, wait_until="load", timeout=60000)
    page.evaluate(WAIT_FOR_PAGE)
    # Connections a page opens without a request the route sees (preconnect, DNS prefetch).
    for href in page.evaluate(HINTS):
        if not href.startswith(base):
            visit.external.append(f"{href} (a <link> resource hint)")
    return page, visit


# --------------------------------------------------------------------------- the checks
# Each takes what it needs and records failures in the report under its own name.


def check_network(report: Report, name: str, visit: Visit) -> None:
    for url in visit.external:
        report.fail(name, "network", f"request to another host: {url}")
    for error in visit.local_errors:
        report.fail(name, "network", f"local request failed: {error}")


def check_console(report: Report, name: str, visit: Visit) -> None:
    # A failed external request also logs a console error; it is reported once, as network.
    for message in visit.console:
        if visit.external and "net::ERR_FAILED" in message:
            continue
        report.fail(name, "console", message[:300])


def check_images(report: Report, name: str, images: list[dict]) -> None:
    for img in images:
        if img["natural"] == 0:
            report.fail(name, "images", f"image did not load: {img['src']}")


def _is_real_alt(alt: str, src: str) -> bool:
    if not alt:
        return False
    base = posixpath.basename(src.split("?")[0])
    return not (alt == src or posixpath.basename(alt) == base
                or re.search(r"\.(png|jpe?g|svg|gif|webp)$", alt, re.I))


def check_figures(report: Report, name: str, images: list[dict]) -> None:
    for img in images:
        if img["inArticle"] and not img["caption"] and not _is_real_alt(img["alt"], img["src"]):
            report.fail(name, "figures", f"image with neither caption nor alt text: {img['src']}")


RAW_TEX = [
    (re.compile(r"\$\$"), "$$"),
    (re.compile(r"(?<!\\)\$[^$\s][^$]*?\$"), "$...$"),
    (re.compile(r"\\\("), "\\("),
    (re.compile(r"\\\["), "\\["),
    (re.compile(r"\\begin\{"), "\\begin{"),
]


def _context(text: str, match: re.Match) -> str:
    start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
    return " ".join(text[start:end].split())


def check_math(report: Report, name: str, math: dict, prose: str) -> None:
    for tex in math["untypeset"]:
        report.fail(name, "math", f"formula not typeset by MathJax: {tex!r}")
    if math["untypeset"] and not math["loaded"]:
        report.fail(name, "math", "MathJax did not load")
    for error in dict.fromkeys(math["errors"]):  # one report per distinct error
        report.fail(name, "math", f"MathJax error: {error!r}")
    for pattern, label in RAW_TEX:
        for match in pattern.finditer(prose):
            report.fail(name, "math", f"raw TeX ({label}) in the text: ...{_context(prose, match)}...")


UNRESOLVED = [
    (re.compile(r"\?\?"), "'??'"),
    (re.compile(r"\{(glue|cite|numref|ref|doc|eq|term|download|math|py)[\w:+-]*\}"), "raw role"),
    (re.compile(r"^:::|^```", re.M), "raw directive fence"),
]
REPR = re.compile(r"^['\"‘“]|['\"’”]$|tensor\(|array\(|^<.*>$|dtype=")


def check_references(report: Report, name: str, prose: str, glued: list[str]) -> None:
    for pattern, label in UNRESOLVED:
        for match in pattern.finditer(prose):
            report.fail(name, "references", f"unresolved ({label}): ...{_context(prose, match)}...")
    for text in glued:
        if not text:
            report.fail(name, "references", "a glued value renders empty")
        elif REPR.search(text):
            report.fail(name, "references", f"a glued value shows its repr: {text[:80]!r}")


def check_links(report: Report, name: str, links: list[str], base: str, html: Path) -> None:
    seen = set()
    for href in links:
        if not href.startswith(base) or href in seen:
            continue
        seen.add(href)
        parts = urlsplit(href)
        rel = unquote(parts.path[len(urlsplit(base).path):])
        target = html / rel
        if rel == "" or rel.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            report.fail(name, "links", f"broken link: {rel or '/'} does not exist")
            continue
        fragment = unquote(parts.fragment)
        if fragment and target.suffix == ".html" and fragment not in ids_of(target):
            report.fail(name, "links", f"broken anchor: {rel}#{fragment}")


def expected_colab(config: dict, entry: str) -> str:
    repo = urlsplit(config["repository"]["url"]).path.strip("/")
    branch = config["repository"].get("branch", "main")
    prefix = config["repository"].get("path_to_book", "").strip("/")
    path = posixpath.join(prefix, entry + ".ipynb") if prefix else entry + ".ipynb"
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{repo}/blob/{branch}/{path}"


def _follows_page_rules(root: Path, config: dict, entry: str, rules: str = "page_rules") -> bool:
    """Whether the chapter ``entry`` opted in to the page rules (tools/page_rules.py), or with
    ``rules="output_rules"`` to the rules for its outputs (figure text, no bare reprs)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from page_rules import follows_page_rules

    notebook = root / config["repository"].get("path_to_book", "") / (entry + ".ipynb")
    return notebook.is_file() and follows_page_rules(notebook, rules)


def check_colab(report: Report, name: str, hrefs: list[str], config: dict, entry: str,
                root: Path = ROOT) -> None:
    expected = expected_colab(config, entry)
    if not hrefs:
        report.fail(name, "colab", f"no Colab launch link (expected {expected})")
    for href in hrefs:
        if href != expected:
            report.fail(name, "colab", f"Colab link {href} is not {expected}")
    notebook = root / config["repository"].get("path_to_book", "") / (entry + ".ipynb")
    if not notebook.is_file():
        report.fail(name, "colab", f"the notebook the Colab link opens is not in the repository: {notebook}")


def check_code_width(report: Report, name: str, wide: list[dict]) -> None:
    for block in wide:
        report.fail(name, "code-width",
                    f"{block['kind']} is {block['scroll']}px wide in a {block['client']}px box "
                    f"(longest line {block['chars']} chars: {block['line']!r})")


def check_folding(report: Report, name: str, unfolded: list[str]) -> None:
    for source in unfolded:
        for pattern, what in FOLD_ME:
            match = pattern.search(source)
            if match:
                line = source.splitlines()[source[:match.end()].count("\n")]
                report.fail(name, "folding", f"{what} code shown unfolded (tag the cell hide-input, "
                                             f"one thing per cell): {line.strip()[:70]!r}")
                break


def check_math_width(report: Report, name: str, wide: list[dict], width: int, *, phone: bool = False) -> None:
    for f in wide:
        if phone and f.get("scrolls"):
            continue  # on a phone a long display formula scrolls in its own box: readable, not cut
        kind = "display formula" if f["display"] else "inline formula"
        report.fail(name, "math-width", f"{kind} {f['width']}px wide in a {f['column']}px column at "
                                        f"{width}px: {f['tex']!r}")


LONE_TEX = [
    (re.compile(r"\$"), "a literal $"),
    (re.compile(r"\\[A-Za-z_{}^,;!]"), "a TeX backslash"),
]


def check_lone_tex(report: Report, name: str, prose: str) -> None:
    """A lone $ or a backslash command left in the text (a formula that did not parse); what
    check_math already reported as raw TeX is not reported twice."""
    reported = set()
    spans = [m.span() for pattern, _ in RAW_TEX for m in pattern.finditer(prose)]
    for pattern, label in LONE_TEX:
        for match in pattern.finditer(prose):
            if any(a <= match.start() < b for a, b in spans):
                continue
            where = _context(prose, match)
            if where in reported:
                continue
            reported.add(where)
            report.fail(name, "math", f"{label} in the text: ...{where}...")


def check_plumbing(report: Report, name: str, cells: list[dict]) -> None:
    for cell in cells:
        lines = cell["text"].rstrip("\n").splitlines()
        if len(lines) > MAX_CELL_LINES:
            report.fail(name, "cell-length", f"a code cell shown unfolded has {len(lines)} lines "
                                             f"(> {MAX_CELL_LINES}): {lines[0].strip()[:60]!r}")
        if "show-assert" in cell["tags"]:
            continue
        for pattern, what in PLUMBING:
            match = pattern.search(cell["text"])
            if match:
                line = cell["text"][:match.end()].count("\n")
                report.fail(name, "plumbing", f"{what} in a code cell shown unfolded (fold it: "
                                              f"hide-input): {lines[line].strip()[:70]!r}")


def check_tables(report: Report, name: str, junk: list[dict]) -> None:
    for cell in junk:
        report.fail(name, "tables", f"table {cell['table']} shows a non-number: {cell['cell']!r}")


def check_reprs(report: Report, name: str, reprs: list[str]) -> None:
    for text in reprs:
        report.fail(name, "repr", f"an output is a bare repr (text/plain): {text!r}")


def check_chapter_links(report: Report, name: str, mentions: list[str]) -> None:
    for text in mentions:
        report.fail(name, "chapter-links", f"'chapter N' is not a link ({{chapter}}`N`): ...{text}...")


def check_sideways(report: Report, name: str, sideways: dict) -> None:
    if sideways["scroll"] > sideways["width"] + 1:
        report.fail(name, "sideways", f"the page scrolls sideways at {sideways['width']}px: it is "
                                      f"{sideways['scroll']}px wide ({', '.join(sideways['widest']) or '?'})")


# ------------------------------------------------------------------ the text size of figures

def png_text(data: bytes) -> tuple[dict[str, str], float | None]:
    """The tEXt chunks of a PNG and its dpi (from pHYs; None without it)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    texts, dpi, pos = {}, None, 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"tEXt" and b"\x00" in body:
            key, value = body.split(b"\x00", 1)
            texts[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"pHYs" and len(body) >= 9 and body[8] == 1:
            dpi = int.from_bytes(body[0:4], "big") * 0.0254
        elif kind == b"IEND":
            break
        pos += 12 + length
    return texts, dpi


def svg_min_font_px(text: str) -> tuple[float | None, float | None]:
    """(smallest font size in SVG user units, the SVG's width in user units) of an SVG whose
    text is text (matplotlib's svg.fonttype 'none'); (None, width) if it has no text."""
    sizes = [float(v) for v in re.findall(r"font-size[=:]\s*\"?([\d.]+)(?:px)?", text)]
    view = re.search(r'viewBox="\s*[-\d.]+\s+[-\d.]+\s+([\d.]+)', text)
    width = float(view.group(1)) if view else None
    return (min(sizes) if sizes else None), width


def image_file(html: Path, base: str, url: str) -> Path | None:
    if not url.startswith(base):
        return None
    return html / unquote(urlsplit(url).path[len(urlsplit(base).path):])


def check_figure_text(report: Report, name: str, images: list[dict], html: Path, base: str) -> None:
    for img in images:
        if not img["natural"] or not img["shown"]:
            continue  # reported by 'images' (did not load) or not displayed
        path = image_file(html, base, img["url"])
        label = img["src"].rsplit("/", 1)[-1][:24]
        if path is None or not path.is_file():
            continue
        scale = img["shown"] / img["natural"]
        if path.suffix.lower() == ".svg":
            size, width = svg_min_font_px(path.read_text(encoding="utf-8", errors="replace"))
            if size is None:
                continue
            px = size * (img["shown"] / width if width else 1.0)
        elif path.suffix.lower() == ".png":
            texts, dpi = png_text(path.read_bytes())
            smallest = texts.get("ebmlib:min-font-pt")
            if smallest is None or dpi is None:
                report.fail(name, "figure-text", f"figure {label}: its text size is unknown (no "
                                                 "ebmlib:min-font-pt, draw it with ebmlib.plotting's style)")
                continue
            if smallest == "none":
                continue
            px = float(smallest) / 72 * dpi * scale
        else:
            continue
        if px < MIN_TEXT_PX - 0.05:
            report.fail(name, "figure-text", f"figure {label}: smallest text {px:.1f}px as displayed "
                                             f"(< {MIN_TEXT_PX:.0f}px; shown {img['shown']:.0f}px wide "
                                             f"of {img['natural']}px)")


def title_word(title: str) -> str:
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]+", title) if len(w) >= 4]
    return max(words, key=len) if words else title


def check_search(report: Report, context, base: str, chapters: dict[str, str]) -> None:
    """chapters: page path -> its title. Each chapter must be among the results for a word of
    its title."""
    for page_path, title in chapters.items():
        term = title_word(title)
        try:
            page, visit = open_page(context, f"{base}search.html?q={term}", base)
            page.wait_for_function(SEARCH_DONE, timeout=20000)
            found = page.evaluate(
                "() => [...document.querySelectorAll('#search-results a')].map(a => a.href.split(/[?#]/)[0])")
        except Exception as err:  # noqa: BLE001 - reported as a failure
            report.fail("search.html", "search", f"search for {term!r} did not finish: {err}")
            continue
        if base + page_path not in found:
            report.fail("search.html", "search",
                        f"searching {term!r} does not find {page_path} ({len(found)} results)")
        check_network(report, f"search.html?q={term}", visit)
        check_console(report, f"search.html?q={term}", visit)
        page.close()

# --------------------------------------------------------------------------- driver

CHECKS = ["load", "network", "console", "images", "figures", "math", "math-width", "references", "links",
          "colab", "code-width", "folding", "plumbing", "cell-length", "tables", "repr", "figure-text",
          "chapter-links", "sideways", "search", "toc"]


def check_page(report: Report, context, base: str, html: Path, name: str, config: dict,
               screenshots: Path, notebook: str | None, in_toc: bool, titles: dict,
               root: Path = ROOT, chapters: list[int] | None = None) -> None:
    """Every check of one page, and its screenshot."""
    page, visit = open_page(context, base + name, base)
    try:
        images, math = page.evaluate(IMAGES), page.evaluate(MATH)
        prose = page.evaluate(PROSE_TEXT)
        check_network(report, name, visit)
        check_console(report, name, visit)
        check_images(report, name, images)
        check_figures(report, name, images)
        check_math(report, name, math, prose)
        check_lone_tex(report, name, prose)
        check_math_width(report, name, page.evaluate(MATH_WIDTH), VIEWPORT["width"])
        check_tables(report, name, page.evaluate(TABLE_JUNK))
        check_references(report, name, prose, page.evaluate(GLUE))
        check_links(report, name, page.evaluate(LINKS), base, html)
        # The page rules (plumbing, cell length, chapter links) hold for the chapters converted
        # to them (notebook metadata ebmlib.page_rules: tools/page_rules.py); the output rules
        # (no bare reprs, figure text of 10 px or more) for those whose outputs are converted too
        # (ebmlib.output_rules).
        converted = notebook is None or _follows_page_rules(root, config, notebook)
        outputs = notebook is None or _follows_page_rules(root, config, notebook, "output_rules")
        if notebook:
            check_colab(report, name, page.evaluate(COLAB), config, notebook, root)
            check_folding(report, name, page.evaluate(UNFOLDED))
            if converted:
                check_plumbing(report, name, page.evaluate(UNFOLDED_CELLS))
                check_chapter_links(report, name, page.evaluate(CHAPTER_MENTIONS, chapters or []))
            if outputs:
                check_reprs(report, name, page.evaluate(REPRS))
        if outputs:
            check_figure_text(report, name, page.evaluate(FIGURE_IMAGES), html, base)
        if in_toc:
            check_code_width(report, name, page.evaluate(WIDTHS, WIDTH_SELECTORS))
            titles[name] = page.evaluate("() => (document.querySelector('h1') || {}).innerText || ''")
        page.screenshot(path=str(screenshots / (name[:-5].replace("/", "__") + ".png")), full_page=True,
                        timeout=180000)
    finally:
        page.close()


def check_phone(report: Report, context, base: str, name: str, screenshots: Path) -> None:
    """The page in a 390 px window: it does not scroll sideways, its formulas fit; screenshot."""
    page, _ = open_page(context, base + name, base, viewport=PHONE)
    try:
        check_sideways(report, name, page.evaluate(SIDEWAYS))
        check_math_width(report, name, page.evaluate(MATH_WIDTH), PHONE["width"], phone=True)
        page.screenshot(path=str(screenshots / (name[:-5].replace("/", "__") + "-390.png")), full_page=True,
                        timeout=180000)
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--pages", nargs="*", default=None,
                        help="check only the pages matching these glob patterns (e.g. 'book/03_*')")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the book's source folder (_config.yml, _toc.yml, the notebooks)")
    args = parser.parse_args(argv)

    if not Path(args.chromium).exists() and not shutil.which(args.chromium):
        print(f"check_site: no Chromium at {args.chromium}.\n{INSTALL_HINT}", file=sys.stderr)
        return 2
    if not (args.html / "index.html").is_file():
        print(f"check_site: no built book at {args.html} (run `make book` first)", file=sys.stderr)
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("check_site: Playwright's Python package is missing (pip install -r requirements.txt)",
              file=sys.stderr)
        return 2

    config, entries = load_config(args.root)
    html = args.html.resolve()
    pages = site_pages(html)
    if args.pages:
        pages = [p for p in pages if any(fnmatch.fnmatch(p, pattern) for pattern in args.pages)]
    report = Report()
    entry_of = {f"{e}.html": e for e in entries}
    for entry in entries:
        if f"{entry}.html" not in site_pages(html):
            report.fail(f"{entry}.html", "toc", "listed in _toc.yml but not built")
    notebooks = {f"{e}.html": e for e in entries if (args.root / f"{e}.ipynb").is_file()}

    if args.screenshots.exists():
        shutil.rmtree(args.screenshots)
    args.screenshots.mkdir(parents=True)
    server, base = serve(html)
    titles: dict[str, str] = {}
    start = time.monotonic()
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="check-site-") as profile:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS,
                viewport=VIEWPORT, service_workers="block")
            for name in pages:
                if name == "index.html":  # a redirect to the root page: check where it goes
                    redirect = re.search(r'url=([^"\']+)', (html / name).read_text())
                    if not redirect or not (html / redirect.group(1)).is_file():
                        report.fail(name, "links", "index.html does not redirect to a built page")
                    continue
                report.pages += 1
                try:
                    check_page(report, context, base, html, name, config, args.screenshots,
                               notebooks.get(name), name in entry_of, titles, args.root,
                               chapter_numbers(entries))
                    check_phone(report, context, base, name, args.screenshots)
                except Exception as err:  # noqa: BLE001 - a page that does not load is a failure
                    report.fail(name, "load", f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}")
            check_search(report, context, base, {n: t.strip("#¶ ") for n, t in titles.items() if n in notebooks})
            context.close()
    finally:
        server.shutdown()
    report.print(CHECKS)
    print(f"screenshots: {args.screenshots} ({len(list(args.screenshots.glob('*.png')))} pages), "
          f"{time.monotonic() - start:.0f} s in the browser; code-width selectors: "
          + json.dumps(WIDTH_SELECTORS))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
