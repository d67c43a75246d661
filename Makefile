# nncourse: run `make help` for the list of targets.
# Every target creates the local virtual environment (.venv) on first use and
# reuses it afterwards; it is rebuilt only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
# one pytest worker per core; a test file stays on one worker (its module fixtures start
# real hubs, clusters and browsers once)
PYTEST_ARGS ?= -n auto --dist loadfile
HUB_PORT ?= 8000
HUB_ASSIGNMENTS ?=
HUB_PROXY := deploy/hub/node_modules/.bin/configurable-http-proxy
# Jupyter refuses to run as root unless told to (containers, CI machines)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.DEFAULT_GOAL := help
.PHONY: help install lab playground hub dask test lint format bench slides clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the course, its library and tools

lab: install ## Start JupyterLab on the course start page
	$(BIN)/jupyter lab --port=$(PORT) --ServerApp.root_dir=$(CURDIR) $(ROOT_FLAG) notebooks/index.ipynb

playground: install ## Serve the playground as a standalone web page (Voila) on 127.0.0.1
	$(BIN)/voila notebooks/playground_voila.ipynb --port=$(PORT) --Voila.ip=127.0.0.1 \
		--VoilaConfiguration.extension_allowlist=@jupyter-widgets/jupyterlab-manager \
		--VoilaConfiguration.extension_allowlist=@voila-dashboards/widgets-manager8

dask: install ## Start a local Dask scheduler + two workers (127.0.0.1) and print the grade line
	$(BIN)/python -m autograder.cluster --workers 2 --folder course/dask

$(HUB_PROXY): deploy/hub/package.json deploy/hub/package-lock.json
	npm ci --prefix deploy/hub --no-audit --no-fund --loglevel=error
	@touch $@

hub: install $(HUB_PROXY) ## Demo course on JupyterHub (127.0.0.1:HUB_PORT): an instructor, three students
	$(BIN)/python deploy/hub/demo.py --port $(HUB_PORT) $(if $(HUB_ASSIGNMENTS),--assignments $(HUB_ASSIGNMENTS))

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint ## Lint, then run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

slides: install ## Build the lecture decks (reveal.js HTML, offline) into slides/_build
	$(BIN)/python slides/build.py

bench: install ## Run the benchmarks (ratios, printed)
	$(BIN)/python bench/mlp_throughput.py

clean: ## Remove the virtual environment, built slides and caches
	rm -rf $(VENV) slides/_build .pytest_cache .ruff_cache .hypothesis
