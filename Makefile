# Two entry points for a fresh machine:
#   make demo   - the whole pipeline on the embedded real digits (CPU, minutes)
#   make test   - the type check of the core (mypy --strict), then the test suite
# Each creates .venv from the repo's own files when it is missing or stale.
#
# Torch comes from requirements/torch.txt (the pinned build; on Linux the CUDA
# wheels, several GB). On a machine without a GPU, the CPU-only build of the
# same pins is much smaller:
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
PY ?= python3
TORCH_INDEX ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml requirements/torch.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements/torch.txt $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/infocam demo --out runs/demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests

bench: $(STAMP)
	$(BIN)/infocam bench --json runs/bench.json $(ARGS)

clean-venv:
	rm -rf $(VENV)
