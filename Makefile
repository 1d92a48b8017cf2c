# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run    venv + CPU torch + package, ingest data/, serve the app on http://127.0.0.1:5000
#   make test   the same set-up plus Chromium, then mypy and the whole test suite (in parallel)
# Both install bubblewrap (Debian's `bubblewrap`): every experiment runs inside it.
VENV ?= .venv
PY := $(VENV)/bin/python
KG := $(VENV)/bin/kg
PORT ?= 5000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run ingest serve test test-fast typecheck browser sandbox lint bench bench-full clean

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

ingest: install
	$(KG) ingest data/

serve: install sandbox
	$(KG) serve --port $(PORT)

run: sandbox ingest serve

browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

sandbox:
	@command -v bwrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; }

# The whole suite on every core (pytest-xdist); each worker loads the real model once (a session fixture).
test: install browser sandbox typecheck
	$(PY) -m pytest -n auto

# Fake embedder, no browser, no real model: about a minute.
test-fast: install sandbox
	KG_EMBEDDER=fake $(PY) -m pytest -m "not slow" -n auto

typecheck: install
	$(VENV)/bin/mypy

$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install -q -c constraints.txt -e '.[test,bench]'
	touch $@

# Quick mode: checks that every harness works (no time thresholds), in a few minutes.
bench: $(VENV)/.bench browser sandbox
	$(PY) -m bench.run
	$(PY) -m bench.pages
	$(PY) -m bench.runs --runs 2000 --rounds 10
	$(PY) -m bench.load --clients 10 --seconds 10
	$(PY) -m bench.crash --kills 3 --notes 300
	$(PY) -m tests.fuzz.long --examples 300
	$(PY) -m bench.search_quality

# The full runs behind BENCHMARKS.md and RELIABILITY.md (about 40 minutes on 2 cores).
bench-full: $(VENV)/.bench browser sandbox
	$(PY) -m bench.run --full
	$(PY) -m bench.pages
	$(PY) -m bench.runs --runs 10000
	$(PY) -m bench.seeds --seeds 0 1 2
	$(PY) -m bench.load --clients 50 --seconds 60
	$(PY) -m bench.crash --kills 20
	$(PY) -m tests.fuzz.long --examples 5000

lint: install
	$(VENV)/bin/ruff check kg ingest web tests bench
	$(VENV)/bin/ruff format --check kg ingest web tests bench

clean:
	rm -rf $(VENV) data/kg.db data/kg.db-* data/kg.db.secret data/runs
