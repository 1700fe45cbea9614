# `make test` and `make book` each create .venv and install everything on a fresh machine.
PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test unit notebooks lint book book-cached claims replicate browser benchmark lock release clean

# constraints.txt pins every package that requirements.txt resolves to, so that the book is rebuilt from the same
# torch, numpy and mnist1d (`make lock` refreshes it).
$(STAMP): requirements.txt constraints.txt pyproject.toml
	$(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt -r requirements.txt
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

# The GitHub workflows are linted offline: actionlint (syntax, expressions, action inputs, deprecated runtimes), zizmor
# (its security findings, with .github/zizmor.yml) and their JSON schema.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/actionlint .github/workflows/*.yml
	$(VENV)/bin/zizmor --offline --quiet .github/workflows
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# The book executes one notebook at a time: let torch use every core. The tests run two notebooks side by
# side, one thread each (two threads per process on two busy cores made single runs many times slower).
BOOK_THREADS ?= $(shell nproc 2>/dev/null || echo 1)

# Every chapter writes its caches and metrics under $LOTTERY_CACHE; the claims tests read them there.
BOOK_OUTPUT := $(CURDIR)/_build/lottery

# _config.yml executes notebooks through jupyter-cache. `make book` empties the cache and the chapters' outputs, so
# that every chapter runs (and writes the metrics the claims tests read), as a fresh clone in CI does.
JUPYTER_CACHE := _build/.jupyter_cache
BUILD_BOOK = LOTTERY_CACHE=$(BOOK_OUTPUT) OMP_NUM_THREADS=$(BOOK_THREADS) $(VENV)/bin/jupyter-book build . --all -W -n --keep-going

book: $(STAMP)
	rm -rf $(BOOK_OUTPUT) $(JUPYTER_CACHE)
	$(BUILD_BOOK)

# For authors: runs only the notebooks whose code changed since the last build; a page whose prose changed is rebuilt
# from its cached outputs. A change in lottery_core/ does not reach the cache: run `make book` after one, and before
# `make claims`.
book-cached: $(STAMP)
	$(BUILD_BOOK)

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

# Refresh constraints.txt with pip-tools after changing requirements.txt: pins that still fit are kept and new
# packages added; `make lock LOCK_FLAGS=--upgrade` moves every package to its newest release. A version cap in pip's
# own configuration (on the project's machines, /etc/xdg/pip/constraints.txt caps torch at the build on their disk)
# is honoured, so that the lock holds what `make book` installs there.
LOCK_FLAGS ?=
PIP_CAP := $(wildcard /etc/xdg/pip/constraints.txt)

lock: $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -q pip-tools
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		$(if $(PIP_CAP),--constraint $(PIP_CAP)) $(LOCK_FLAGS) --output-file constraints.txt requirements.txt

# `make release VERSION=x.y.z`: writes the version (lottery_core/__init__.py), moves CHANGELOG.md's Unreleased
# entries under it, pins the chapters' install cells and CITATION.cff to it, commits, and tags vx.y.z.
release:
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z"; exit 2; }
	$(PYTHON_SYS) scripts/release.py $(VERSION)

clean:
	rm -rf _build .pytest_cache
