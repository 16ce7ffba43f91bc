# Two commands: `make book` builds the book, `make test` runs every test (notebooks included).
# Both first set up the environment: the virtual environment .venv from requirements.txt, and
# MathJax (npm package `mathjax`, version MATHJAX) copied into _assets/mathjax, from where the
# pages load it: no formula, font or script comes from a CDN.
#
# The chapters are executed once per change. `make book` executes every chapter afresh (a cell
# error or any Sphinx warning fails it) and, only if it succeeds, writes _build/book.stamp: a
# digest of everything that execution read (book/, ebmlib/, requirements.txt, pyproject.toml,
# _config.yml, _toc.yml, the installed packages), taken before it started. `make test` runs the
# library and book tests and then, if the stamp matches the tree as it is now, checks the executed
# notebooks that build left in _build/jupyter_execute (every code cell ran, in order, with no
# error, from the current sources: tests/infra/test_executed_book.py); if the stamp is missing or
# anything changed, it executes every chapter itself with nbval. So CI runs `make book` first.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MATHJAX := 3.2.2
MATHJAX_STAMP := _assets/mathjax/.mathjax-$(MATHJAX)
CHROMIUM ?= /usr/bin/chromium
BOOK_STAMP := _build/book.stamp
EXECUTED := _build/jupyter_execute
NBVAL := --nbval-lax --nbval-cell-timeout=600
# The test files on two worker processes, each file on one (pytest-xdist); XDIST= runs them in one.
XDIST ?= -n 2 --dist loadfile

.PHONY: env book test test-library check-site benchmark clean

env: $(STAMP) $(MATHJAX_STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

# The MathJax 3 components the pages use (tex-mml-chtml.js, which Sphinx names by default, and
# what it loads on demand: extensions, fonts, the menu and its accessibility tools).
$(MATHJAX_STAMP):
	npm install --silent --no-save --no-package-lock --no-audit --no-fund \
		--prefix $(VENV)/mathjax mathjax@$(MATHJAX)
	rm -rf _assets/mathjax && mkdir -p _assets/mathjax
	cd $(VENV)/mathjax/node_modules/mathjax/es5 && \
		cp -r tex-mml-chtml.js a11y adaptors input output sre ui $(CURDIR)/_assets/mathjax/
	touch $@

# Every chapter is executed afresh, two at a time (tools/execute_book.py, into an emptied
# jupyter-cache that Jupyter Book then reads), and any cell error or Sphinx warning fails the
# build; the stamp is written only when it succeeded.
BOOK_JOBS ?= 2
book: env
	rm -rf _build/html $(EXECUTED) $(BOOK_STAMP) $(BOOK_STAMP).new
	$(BIN)/python tools/book_stamp.py write $(BOOK_STAMP).new
	$(BIN)/python tools/execute_book.py _build/.jupyter_cache --jobs $(BOOK_JOBS) --timeout 600
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	$(BIN)/python tools/execute_book.py _build/.jupyter_cache --export $(EXECUTED)
	mv $(BOOK_STAMP).new $(BOOK_STAMP)

# Library and book tests, then every chapter: checked from the executed notebooks of a
# `make book` that matches the sources, or executed by nbval (its own asserts must hold;
# outputs that vary from run to run are not compared).
test: env
	@if $(BIN)/python tools/book_stamp.py check $(BOOK_STAMP); then \
		echo "make test: the chapters as 'make book' executed them from these very sources ($(BOOK_STAMP))"; \
		EBMLIB_EXECUTED_BOOK=$(EXECUTED) $(BIN)/python -m pytest tests $(XDIST) -p no:cacheprovider; \
	else \
		echo "make test: executing every chapter with nbval"; \
		env -u EBMLIB_EXECUTED_BOOK $(BIN)/python -m pytest tests book $(NBVAL) -p no:cacheprovider; \
	fi

# The library and book tests without executing any chapter (CI runs it when `make book` failed).
test-library: env
	env -u EBMLIB_EXECUTED_BOOK $(BIN)/python -m pytest tests $(XDIST) -p no:cacheprovider

# The built site in a real browser (Chromium at CHROMIUM): see tools/check_site.py.
# Full-page screenshots of every page go to _build/screenshots/.
check-site: env
	$(BIN)/python tools/check_site.py --html _build/html --screenshots _build/screenshots \
		--chromium $(CHROMIUM)

# The peers install with --no-deps, so that pip leaves the pinned CPU torch alone (an unpinned
# torch requirement would pull a multi-GB CUDA build).
benchmark: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/gibbs.py
	$(BIN)/python benchmarks/rbm_training.py
	$(BIN)/python benchmarks/score_matching.py
	$(BIN)/python benchmarks/langevin.py
	$(BIN)/python benchmarks/hmc.py
	$(BIN)/python benchmarks/ais.py
	$(BIN)/python benchmarks/ais_increments.py
	$(BIN)/python benchmarks/exact_log_z.py
	$(BIN)/python benchmarks/large_softmax.py

clean:
	rm -rf _build $(VENV) _assets/mathjax
