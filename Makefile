# nncourse: run `make help` for the list of targets.
# Every target creates the local virtual environment (.venv) on first use and installs what
# its role needs (a student's `make lab` installs neither Dask nor JupyterHub); versions come
# from requirements.lock, so the same commands install the same versions next month.
# An install is redone only when pyproject.toml or requirements.lock change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
PORT   ?= 8888
# one pytest worker per core; a test file stays on one worker (its module fixtures start real
# hubs, clusters and browsers once), except the notebook runs, spread case by case
# (tests/conftest.py: the scheduler behind --dist loadscope)
PYTEST_ARGS ?= -n auto --dist loadscope
HUB_PORT ?= 8000
# the assignments `make hub` releases (about a minute each): HUB_ASSIGNMENTS=all for every one
HUB_ASSIGNMENTS ?= 01_perceptron
# HUB_ACCOUNTS=1 (as root): a real local account per user, random passwords, removed at exit
HUB_ACCOUNTS ?=
WORKSPACE := workspace
HUB_PROXY := deploy/hub/node_modules/.bin/configurable-http-proxy
# Jupyter refuses to run as root unless told to (containers, CI machines)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# the lab's terminal finds this environment's python and jupyter first
LAB_ENV = PATH="$(CURDIR)/$(BIN):$$PATH"

.DEFAULT_GOAL := help
.PHONY: help install install-grader install-hub install-dev lab author reset playground hub \
	dask test test-fast lint format lock lock-upgrade bench slides clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# one stamp per role; .installed is the whole set (dev: every role and the test tools)
$(VENV)/.installed-course: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e .
	@touch $@
$(VENV)/.installed-grader: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[grader]'
	@touch $@
$(VENV)/.installed-hub: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[hub]'
	@touch $@
$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	@touch $@ $(VENV)/.installed-course $(VENV)/.installed-grader $(VENV)/.installed-hub

install: $(VENV)/.installed-course ## Create .venv with what a student uses (course, library)
install-grader: $(VENV)/.installed-grader ## ... and Dask, for grading on a cluster
install-hub: $(VENV)/.installed-hub ## ... and JupyterHub, for the hub demo
install-dev: $(VENV)/.installed ## Everything, with the test and lint tools

lab: install ## Student: JupyterLab on your own copies of the assignments (workspace/)
	$(BIN)/python -m autograder.workspace --dir $(WORKSPACE)
	$(LAB_ENV) JUPYTER_CONFIG_PATH="$(CURDIR)/deploy/lab/student" $(BIN)/jupyter lab \
		--port=$(PORT) --ServerApp.root_dir=$(CURDIR)/$(WORKSPACE) $(ROOT_FLAG) $(WORKSPACE)/index.ipynb

reset: install ## Student: put one assignment back to its release (NOTEBOOK=03_mlp)
	@test -n "$(NOTEBOOK)" || { echo "make reset: say which, e.g. NOTEBOOK=03_mlp" >&2; exit 2; }
	$(BIN)/python -m autograder.workspace --dir $(WORKSPACE) --reset $(NOTEBOOK)

author: install ## Instructor: JupyterLab on the source notebooks (solutions, hidden tests)
	$(LAB_ENV) JUPYTER_CONFIG_PATH="$(CURDIR)/deploy/lab/author" $(BIN)/jupyter lab \
		--port=$(PORT) --ServerApp.root_dir=$(CURDIR) $(ROOT_FLAG) notebooks/index.ipynb

# the nncourse template (deploy/voila) is Voila's lab template without its CDN font links
playground: install ## Serve the playground as a standalone web page (Voila) on 127.0.0.1
	JUPYTER_PATH="$(CURDIR)/deploy/voila" $(BIN)/voila notebooks/playground_voila.ipynb \
		--port=$(PORT) --Voila.ip=127.0.0.1 --template=nncourse \
		--VoilaConfiguration.extension_allowlist=@jupyter-widgets/jupyterlab-manager \
		--VoilaConfiguration.extension_allowlist=@voila-dashboards/widgets-manager8

dask: install-grader ## Start a local Dask scheduler + two workers (127.0.0.1) and print the grade line
	$(BIN)/python -m autograder.executors.cluster --workers 2 --folder course/dask

$(HUB_PROXY): deploy/hub/package.json deploy/hub/package-lock.json
	npm ci --prefix deploy/hub --no-audit --no-fund --loglevel=error
	@touch $@

hub: install-hub $(HUB_PROXY) ## Demo course on JupyterHub (127.0.0.1:HUB_PORT), one account unless HUB_ACCOUNTS=1
	$(BIN)/python deploy/hub/demo.py --port $(HUB_PORT) \
		--assignments $(HUB_ASSIGNMENTS) \
		$(if $(HUB_ACCOUNTS),--accounts)

lint: install-dev ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint ## Lint, then run the whole test suite (what CI runs)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install-dev ## The quick tier for the edit-test loop (-m 'not slow', 1-2 minutes)
	$(BIN)/python -m pytest -n auto --dist loadscope -m "not slow" -q

UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	--custom-compile-command "make lock" --quiet -o $(LOCK)

lock: install-dev ## After editing dependencies: requirements.lock in step, other pins kept
	$(UV_COMPILE)

lock-upgrade: install-dev ## Scheduled (monthly): every pin to the newest version allowed
	$(UV_COMPILE) --upgrade

slides: install ## Build the lecture decks (reveal.js HTML, offline) into slides/_build
	$(BIN)/python slides/build.py

bench: install-dev ## Run the benchmarks (ratios, printed)
	$(BIN)/python bench/mlp_throughput.py

clean: ## Remove the virtual environment, built slides and caches (not workspace/)
	rm -rf $(VENV) slides/_build .pytest_cache .ruff_cache .hypothesis
