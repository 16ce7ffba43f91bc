# Two commands: `make book` builds the book, `make test` runs every test (notebooks included).
# Both create the virtual environment .venv from requirements.txt on first use.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test benchmark clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

# Every chapter is executed afresh (no execution cache), and any cell error or Sphinx
# warning fails the build.
book: $(STAMP)
	rm -rf _build/html _build/jupyter_execute
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

# Library tests, then every chapter executed by nbval (its own asserts must hold;
# outputs that vary from run to run are not compared).
test: $(STAMP)
	$(BIN)/python -m pytest tests book --nbval-lax --nbval-cell-timeout=300 -p no:cacheprovider

benchmark: $(STAMP)
	$(BIN)/python benchmarks/gibbs.py
	$(BIN)/python benchmarks/sklearn_rbm.py
	$(BIN)/python benchmarks/ais.py
	$(BIN)/python benchmarks/large_softmax.py

clean:
	rm -rf _build $(VENV)
