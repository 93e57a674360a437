# DNA da Força AI. `make run` sets everything up and serves both servers; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LANGGRAPH_VENV := .venv-langgraph
# llama.cpp's default native build enables AMX kernels that crash on these CPUs: pin the instruction sets.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
export LANGGRAPH_CLI_NO_ANALYTICS := 1
export LANGGRAPH_NO_VERSION_CHECK := true
export LANGSMITH_TRACING := false
export ANONYMIZED_TELEMETRY := False

.PHONY: install run serve api worker ingest test test-containers lint bench materials notebooks clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -c requirements.lock -e ".[server,local-llm,transcription,dev]"
	touch $@

# `langgraph dev` needs sse-starlette>=2, LangServe needs <2: it lives in its own environment.
$(LANGGRAPH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LANGGRAPH_VENV)
	$(LANGGRAPH_VENV)/bin/pip install --quiet --upgrade pip==26.3
	$(LANGGRAPH_VENV)/bin/pip install --quiet -e . "langgraph-cli[inmem]==0.4.40"
	touch $@

tests/e2e/node_modules/.installed: tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci --silent --no-audit --no-fund
	touch $@

ingest: install
	$(BIN)/dnaforca ingest examples/materials

# Both servers (RAG :8001 in the background, API :8000 in the foreground) on the embedded defaults, step by step;
# the local chat model is built in the background meanwhile (scripts/run.sh). No test tools.
run:
	@PYTHON=$(PYTHON) bash scripts/run.sh

api: install
	$(BIN)/dnaforca migrate
	$(BIN)/dnaforca api

serve: install
	$(BIN)/dnaforca serve

# A separate ingestion worker (run the server with INLINE_WORKER=false; several may run against one REDIS_URL).
worker: install
	$(BIN)/dnaforca worker

test: install $(LANGGRAPH_VENV)/.installed tests/e2e/node_modules/.installed
	$(BIN)/python -m pytest

# The real images in the real compose stack under podman (tests/containers): builds them first (cached).
test-containers: install
	bash tests/containers/prepare.sh
	CONTAINERS_CONF=$(CURDIR)/tests/containers/containers.conf $(BIN)/python -m pytest -m containers tests/containers

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/retrieval_eval.py
	$(BIN)/python bench/checkpoint.py
	$(BIN)/python bench/cache.py
	$(BIN)/python bench/stream.py
	$(BIN)/python bench/concurrency.py
	$(BIN)/python bench/metrics.py

# JupyterLab on the project's venv (notebooks/ import the packages from the repository root).
notebooks: install
	$(BIN)/jupyter lab --notebook-dir=notebooks

materials: install
	$(BIN)/python scripts/make_sample_materials.py

clean:
	rm -rf $(VENV) $(LANGGRAPH_VENV) tests/e2e/node_modules data
