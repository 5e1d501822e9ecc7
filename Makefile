# Two commands do all set-up: `make book` and `make test` (see README.md).
# Every recipe runs with the venv's bin first on PATH: nbgrader shells out to `alembic`, and
# Jupyter resolves the `python3` kernel through PATH.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# Same hashing in every process, so builds and grades are reproducible.
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

STAMP := $(VENV)/.installed

.PHONY: all venv sandbox postgres browser dictionary signals experiments book test test-fast lint format release check clean lab

all: book

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade-strategy only-if-needed -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

## The grader's sandbox: bubblewrap from Debian's packages (the grader falls back to limits only,
## and says so, where it cannot be installed).
sandbox:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } || \
		echo "warning: bubblewrap is not installed; the grader will run kernels with limits only"

## PostgreSQL from Debian's packages, for the test that grades into a database URL
## (tests/grader/test_postgres.py starts a throwaway server on a Unix socket, then stops it).
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || \
		echo "warning: PostgreSQL is not installed; tests/grader/test_postgres.py will fail"

## The browser tests' tools (tests/book/test_browser.py): Debian's Chromium and ChromeDriver, and axe-core
## from the npm registry at the version package-lock.json pins. Nothing is downloaded at test time.
browser: node_modules/.package-lock.json
	@{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
		echo "warning: chromium and chromium-driver are not installed; tests/book/test_browser.py will fail"

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

## Chapter 6's German-English sentences: the Ding dictionary from Debian's trans-de-en package
## (GPL-2+), read at /usr/share/trans/de-en (experiments/seq2seq/ding.py).
dictionary:
	@test -f /usr/share/trans/de-en || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq trans-de-en >/dev/null; } || \
		{ echo "error: Chapter 6 needs Debian's trans-de-en (as root: apt-get install trans-de-en)"; exit 1; }

## Chapter 7's tools and data: LilyPond (scores), FluidSynth and the TimGM6mb General MIDI sound font
## (audio), from Debian's packages; the aeon wheel named in requirements-data.txt (hash-checked),
## whose data files Chapter 7 reads without installing it. Speech comes from eSpeak NG in the pinned
## espeakng-loader wheel (requirements.txt). Nothing of this is downloaded at build or test time.
DATA_WHEELS := $(VENV)/share/gru-course/wheels
signals: $(STAMP)
	@{ command -v lilypond >/dev/null && command -v fluidsynth >/dev/null && \
		test -f /usr/share/sounds/sf2/TimGM6mb.sf2; } || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lilypond fluidsynth timgm6mb-soundfont >/dev/null; } || \
		{ echo "error: Chapter 7 needs Debian's lilypond, fluidsynth and timgm6mb-soundfont (as root: apt-get install lilypond fluidsynth timgm6mb-soundfont)"; exit 1; }
	@test -f $(DATA_WHEELS)/aeon-1.6.0-py3-none-any.whl || \
		$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
		-r requirements-data.txt -d $(DATA_WHEELS)

## Train every experiment the book reads (Chapters 4 to 6), with a progress bar; resumable, and cached
## in _build/.experiments per run and per version of the experiments' code. No training runs under a
## notebook cell's time limit: the chapters only read these results.
experiments: $(STAMP) dictionary signals
	$(BIN)/python -m experiments

## Build the HTML book into _build/html, executing every chapter (cached in _build/.jupyter_cache).
book: experiments
	$(BIN)/jupyter-book build . --warningiserror --keep-going

## Set up, then run the whole test suite (real nbgrader, real kernels, real book build), on
## TEST_WORKERS pytest-xdist workers, one test module to a worker at a time (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(STAMP) sandbox postgres browser dictionary signals
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## The quick part of the suite, for the edit-test loop.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Regenerate exercises/ from solutions/ (nbgrader generate_assignment).
release: $(STAMP)
	$(BIN)/python -m grader release

## Prove the course consistent (metadata, full marks for solutions, zero for released notebooks).
check: $(STAMP)
	$(BIN)/python -m grader check

clean:
	rm -rf _build .pytest_cache .ruff_cache

## JupyterLab on the released exercises (students' view).
## JupyterLab refuses to run as root (common in containers) unless told; extra flags go in LAB_FLAGS.
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=exercises $(LAB_FLAGS)
