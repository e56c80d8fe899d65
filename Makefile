# The two commands of the README's quick start. Each sets everything up first.
.PHONY: demo test bootstrap lint bench clean

VENV := .venv
BIN := $(VENV)/bin

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	@$(BIN)/python scripts/demo.py

test: bootstrap
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

lint: bootstrap
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

bench: bootstrap
	$(BIN)/python bench/run.py
	$(BIN)/python bench/cli_speed.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
