# `make test` and `make book` each create .venv and install everything on a fresh machine.
PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test unit notebooks lint book claims replicate browser benchmark clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Claims tests read the metrics of the last `make book`, and the browser test reads its HTML: both run after it
# (`make claims`, `make browser`, and in .ci/run).
test: $(STAMP) lint
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not claims and not browser"

unit: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not notebook and not claims and not browser"

notebooks: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -m notebook

lint: $(STAMP)
	$(PY) -m ruff check .

# The book executes one notebook at a time: let torch use every core. The tests run two notebooks side by
# side, one thread each (two threads per process on two busy cores made single runs many times slower).
BOOK_THREADS ?= $(shell nproc 2>/dev/null || echo 1)

# Every chapter writes its caches and metrics under $LOTTERY_CACHE; the claims tests read them there.
BOOK_OUTPUT := $(CURDIR)/_build/lottery

book: $(STAMP)
	rm -rf $(BOOK_OUTPUT)
	LOTTERY_CACHE=$(BOOK_OUTPUT) OMP_NUM_THREADS=$(BOOK_THREADS) $(VENV)/bin/jupyter-book build . --all -W -n --keep-going

claims: $(STAMP)
	LOTTERY_BOOK_METRICS=$(BOOK_OUTPUT)/metrics $(PY) -m pytest -m claims

# The claims again on a disjoint seed set: every chapter through papermill with `seeds` (chapter 1: `seed`, the
# first of them) replaced, into a folder of its own, then the claims tests on its metrics. A sentence of the book
# must hold here too: another machine's run differs like another seed. `make replicate SEEDS=10,11,12,13,14`.
SEEDS ?= 5,6,7,8,9
comma := ,
REPLICATE_OUTPUT := $(CURDIR)/_build/replicate-$(subst $(comma),-,$(SEEDS))

replicate: $(STAMP)
	OMP_NUM_THREADS=$(BOOK_THREADS) $(PY) scripts/replicate.py --seeds $(SEEDS) --out $(REPLICATE_OUTPUT)
	LOTTERY_BOOK_METRICS=$(REPLICATE_OUTPUT)/metrics $(PY) -m pytest -m claims

# The built book in headless Chromium, as a reader sees it: every page of _build/html with the network cut off.
# Needs Debian's `chromium` package (Playwright drives it; it never downloads a browser of its own).
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser)

browser: $(STAMP)
	@test -n "$(CHROMIUM)" || { echo "make browser needs Chromium. On Debian: sudo apt-get install chromium"; \
		echo "(or point CHROMIUM=/path/to/chromium at another Chromium or Chrome)"; exit 1; }
	@test -f _build/html/index.html || { echo "make browser checks the built book: run make book first"; exit 1; }
	LOTTERY_CHROMIUM="$(CHROMIUM)" $(PY) -m pytest -m browser tests/browser

benchmark: $(STAMP)
	$(PY) benchmarks/bench_train.py

clean:
	rm -rf _build .pytest_cache
