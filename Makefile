# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PKGS   := pyproject.toml cartcom-client/pyproject.toml cartcom-sandbox/pyproject.toml \
          tap-cartcom/pyproject.toml target-cartcom/pyproject.toml

.PHONY: install test lint demo bench clean

install: $(STAMP)

$(STAMP): $(PKGS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check \
		-e ./cartcom-client -e ./cartcom-sandbox -e ./tap-cartcom -e ./target-cartcom --group dev
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	$(BIN)/pytest

demo: install
	$(BIN)/python demo/run_demo.py

bench: install
	$(BIN)/python bench/bench_sandbox.py
	$(BIN)/python bench/bench_tap.py
	$(BIN)/python bench/bench_listings.py
	$(BIN)/python bench/bench_get_orders.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .demo
