# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PKGS   := pyproject.toml cartcom-client/pyproject.toml cartcom-sandbox/pyproject.toml \
          tap-cartcom/pyproject.toml target-cartcom/pyproject.toml \
          cartcom-orchestration/pyproject.toml

.PHONY: install test test-profile lint demo bench clean

install: $(STAMP)

$(STAMP): $(PKGS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check \
		-e ./cartcom-client -e ./cartcom-sandbox -e ./tap-cartcom -e ./target-cartcom \
		-e ./cartcom-orchestration --group dev
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-profile

# The tap's and target's suites again, on sandboxes that speak the old dialect (a probe report:
# every list under its resource's name, count capped at 100, an empty page 1 answering 404), so
# that nothing depends on the default dialect (the field evidence's, docs/api.md §1.2).
PROFILE ?= tests/profiles/old-dialect.json
test-profile: install
	$(BIN)/pytest --sandbox-profile $(PROFILE) tests/test_sandbox_profile_run.py \
		tap-cartcom/tests target-cartcom/tests

demo: install
	$(BIN)/python demo/run_demo.py

bench: install
	$(BIN)/python bench/bench_sandbox.py
	$(BIN)/python bench/bench_latency.py
	$(BIN)/python bench/bench_tap.py
	$(BIN)/python bench/bench_listings.py
	$(BIN)/python bench/bench_target.py
	$(BIN)/python bench/bench_get_orders.py
	$(BIN)/python bench/bench_keyless.py
	$(BIN)/python bench/bench_get_orders_history.py
	$(BIN)/python bench/bench_many_stores.py
	$(BIN)/python bench/bench_webhooks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .demo
