# Écluse — the two commands of the README, and a few more.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# no compilation here: `make build` compiles in place, once (see setup.py)
	ECLUSE_PURE_PYTHON=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make build: compile the modules of src/ecluse/_compiled.py with Cython, in place (only what changed).
## A failed compilation fails the build where a C compiler exists; without one, Écluse runs interpreted.
build: $(STAMP)
	@if command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1; then \
		ECLUSE_REQUIRE_COMPILED=1 $(BIN)/python setup.py --quiet build_ext --inplace; \
	else \
		echo "make build: no C compiler: the hot modules run interpreted (slower; docs/decisions/0005-compiled-hot-paths.md)"; \
	fi

## make demo: run the whole migration on a synthetic LIS (SQLite and local files)
demo: build
	$(BIN)/ecluse demo

## make test: the whole test suite (needs the age and minisign CLIs; .ci/run installs them)
test: build
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts fuzz

typecheck: $(STAMP)
	$(BIN)/mypy

bench: build
	$(BIN)/python benchmarks/bench_export.py

clean:
	rm -rf $(VENV) build *.egg-info src/ecluse/**/*.so src/ecluse/*/*.so .pytest_cache .ruff_cache .mypy_cache
