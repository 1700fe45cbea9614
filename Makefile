# `make test` and `make book` each create .venv and install everything on a fresh machine.
PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test unit notebooks lint book benchmark clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

test: $(STAMP) lint
	OMP_NUM_THREADS=1 $(PY) -m pytest

unit: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not notebook"

notebooks: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -m notebook

lint: $(STAMP)
	$(PY) -m ruff check .

# The book executes one notebook at a time: let torch use every core. The tests run two notebooks side by
# side, one thread each (two threads per process on two busy cores made single runs many times slower).
BOOK_THREADS ?= $(shell nproc 2>/dev/null || echo 1)

book: $(STAMP)
	rm -rf _build/lottery_cache _build/metrics
	OMP_NUM_THREADS=$(BOOK_THREADS) $(VENV)/bin/jupyter-book build . --all -W -n --keep-going

benchmark: $(STAMP)
	$(PY) benchmarks/bench_train.py

clean:
	rm -rf _build .pytest_cache
