# Two commands: `make book` builds the book, `make test` runs every test (notebooks included).
# Both first set up the environment: the virtual environment .venv from requirements.txt, and
# MathJax (npm package `mathjax`, version MATHJAX) copied into _assets/mathjax, from where the
# pages load it: no formula, font or script comes from a CDN.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MATHJAX := 3.2.2
MATHJAX_STAMP := _assets/mathjax/.mathjax-$(MATHJAX)
CHROMIUM ?= /usr/bin/chromium

.PHONY: env book test check-site benchmark clean

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

# Every chapter is executed afresh (no execution cache), and any cell error or Sphinx
# warning fails the build.
book: env
	rm -rf _build/html _build/jupyter_execute
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

# Library tests, then every chapter executed by nbval (its own asserts must hold;
# outputs that vary from run to run are not compared).
test: env
	$(BIN)/python -m pytest tests book --nbval-lax --nbval-cell-timeout=300 -p no:cacheprovider

# The built site in a real browser (Chromium at CHROMIUM): see tools/check_site.py.
# Full-page screenshots of every page go to _build/screenshots/.
check-site: env
	$(BIN)/python tools/check_site.py --html _build/html --screenshots _build/screenshots \
		--chromium $(CHROMIUM)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/gibbs.py
	$(BIN)/python benchmarks/sklearn_rbm.py
	$(BIN)/python benchmarks/ais.py
	$(BIN)/python benchmarks/large_softmax.py

clean:
	rm -rf _build $(VENV) _assets/mathjax
