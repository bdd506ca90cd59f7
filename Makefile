# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv, install torch 2.13.0 (the CPU build) *before* the project,
# so that the project's torch requirement is already satisfied, then the project.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m contrastlearn demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest contrastlearn tests

docs: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(PY) -m sphinx -b html -W --keep-going docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples docs/generated
