# modelplane: `make run` (a CLI tour on a fresh store, then the server on the SQLite store
# under MODELPLANE_HOME) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	bash scripts/demo.sh
	bash scripts/serve.sh

test: install
	bash scripts/ensure-postgres.sh
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check domain projections api modelplane tests benchmarks
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
