# The two commands of the README: `make run` and `make test`. Both install what is missing first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Triton's own venv: the tritonserver bundled in nvidia-pytriton and what its python-backend models import.
# numpy stays at 1.26 there (pytriton's pins; numpy 2 corrupts tensors in the backend).
TRITON_VENV := .venv-triton
TRITON_STAMP := $(TRITON_VENV)/.installed
# The OpenAPI generators the client's tests run as they come: openapi-python-client in a venv of its own (it pins
# older typer and httpx than ours), openapi-typescript and tsc from npm, installed locally under tests/generators.
GEN_VENV := .venv-gen
GEN_STAMP := $(GEN_VENV)/.installed
GEN_NODE_STAMP := tests/generators/node_modules/.installed
# The quality benches' baselines (FLAML) only where `make bench` runs: not part of install or test.
BENCH_STAMP := $(VENV)/.bench-installed
TRITON_SP = $(TRITON_VENV)/lib/python$(shell $(PY) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages

.PHONY: run test check bench install compose-check infra-up clean console console-api chromium

# The web console (frontend/): npm packages from the committed lock file, built when a source changed.
FRONTEND := frontend
NODE_STAMP := $(FRONTEND)/node_modules/.package-lock.json
CONSOLE := $(FRONTEND)/dist/index.html
CONSOLE_SOURCES := $(shell find $(FRONTEND)/src $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json -type f -not -name '*.test.*' 2>/dev/null)

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e ".[test,ml]"
	$(BIN)/pip install -q -e clients/python
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	touch $(BENCH_STAMP)

$(GEN_STAMP): tests/generators/requirements.txt
	test -x $(GEN_VENV)/bin/python || $(PY) -m venv $(GEN_VENV)
	$(GEN_VENV)/bin/pip install -q -r tests/generators/requirements.txt
	touch $(GEN_STAMP)

$(GEN_NODE_STAMP): tests/generators/package.json tests/generators/package-lock.json
	npm ci --prefix tests/generators --no-audit --no-fund
	touch $(GEN_NODE_STAMP)

$(TRITON_STAMP):
	test -x $(TRITON_VENV)/bin/python || $(PY) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -q -U pip
	$(TRITON_VENV)/bin/pip install -q nvidia-pytriton onnxruntime pillow soundfile lightgbm "tritonclient[http]" "numpy<2"
	cp $(TRITON_SP)/pytriton/tritonserver/python_backend_stubs/$$($(PY) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/triton_python_backend_stub \
	   $(TRITON_SP)/pytriton/tritonserver/backends/python/
	touch $(TRITON_STAMP)

$(NODE_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(CONSOLE): $(NODE_STAMP) $(CONSOLE_SOURCES)
	cd $(FRONTEND) && npm run build

## Build the web console (served at / by `make run`).
console: $(CONSOLE)

## Regenerate the console's typed API client from the platform's OpenAPI document (after an API change).
console-api: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m gateway.openapi_dump > $(FRONTEND)/openapi.tmp.json
	cd $(FRONTEND) && EXEML_OPENAPI=openapi.tmp.json npm run -s api:types && rm openapi.tmp.json

## Debian's Chromium for the browser tests (only if missing; Playwright never downloads a browser here).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

install: $(STAMP) $(TRITON_STAMP) $(GEN_STAMP) $(GEN_NODE_STAMP) $(CONSOLE)

## Start the whole platform in one process (embedded mode) on EXEML_PORT (default 8000); the console is at /.
run: $(STAMP) $(TRITON_STAMP) $(CONSOLE)
	$(BIN)/python -m gateway.embedded

## Run every test (real PostgreSQL, RabbitMQ and an S3 server started by the fixtures; the console's Vitest and
## Playwright suites in Debian's Chromium through tests/e2e).
test: $(STAMP) $(TRITON_STAMP) $(GEN_STAMP) $(GEN_NODE_STAMP) $(CONSOLE) chromium
	$(BIN)/python -m pytest -q

## Lint, formatting and types: ruff (rules and format check) and mypy (strict on shared/, checked on the services),
## configured in pyproject.toml; `.ci/run` runs it before `make test`. `ruff format .` and `ruff check --fix .` fix
## most of what it finds.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Speed and quality runs too long for `make test`: every bench/bench_*.py in turn; each prints its
## measurements next to a baseline measured in the same run. The quality benches (bench_quality_*.py) run
## through bench_quality.py, which prints their combined table.
bench: $(STAMP) $(TRITON_STAMP) $(BENCH_STAMP)
	@set -e; for f in bench/bench_*.py; do case $$f in bench/bench_quality_*) continue;; esac; \
	  echo "== $$f"; $(BIN)/python $$f; done

## Validate docker-compose.yml without a Docker engine.
compose-check: $(STAMP)
	$(BIN)/python deploy/compose_check.py docker-compose.yml

## Start PostgreSQL and RabbitMQ on this machine if they are down (CI helper).
infra-up:
	-pg_isready -h 127.0.0.1 -q || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	-rabbitmq-diagnostics -q ping >/dev/null 2>&1 || rabbitmq-server -detached

clean:
	rm -rf $(VENV) $(TRITON_VENV) $(GEN_VENV) tests/generators/node_modules .exeml .pytest_cache $(FRONTEND)/node_modules $(FRONTEND)/dist
