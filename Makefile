# The two commands of the README: `make run` and `make test`. Both install what is missing first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Triton's own venv: the tritonserver bundled in nvidia-pytriton and what its python-backend models import.
# numpy stays at 1.26 there (pytriton's pins; numpy 2 corrupts tensors in the backend).
TRITON_VENV := .venv-triton
TRITON_STAMP := $(TRITON_VENV)/.installed
TRITON_SP = $(TRITON_VENV)/lib/python$(shell $(PY) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages

.PHONY: run test bench install compose-check infra-up clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e ".[test,ml]"
	touch $(STAMP)

$(TRITON_STAMP):
	test -x $(TRITON_VENV)/bin/python || $(PY) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -q -U pip
	$(TRITON_VENV)/bin/pip install -q nvidia-pytriton onnxruntime pillow soundfile lightgbm "tritonclient[http]" "numpy<2"
	cp $(TRITON_SP)/pytriton/tritonserver/python_backend_stubs/$$($(PY) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/triton_python_backend_stub \
	   $(TRITON_SP)/pytriton/tritonserver/backends/python/
	touch $(TRITON_STAMP)

install: $(STAMP) $(TRITON_STAMP)

## Start the whole platform in one process (embedded mode) on EXEML_PORT (default 8000).
run: $(STAMP) $(TRITON_STAMP)
	$(BIN)/python -m gateway.embedded

## Run every test (real PostgreSQL, RabbitMQ and an S3 server started by the fixtures).
test: $(STAMP) $(TRITON_STAMP)
	$(BIN)/python -m pytest -q

## Speed and quality runs too long for `make test`: every bench/bench_*.py in turn; each prints its
## measurements next to a baseline measured in the same run.
bench: $(STAMP) $(TRITON_STAMP)
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

## Validate docker-compose.yml without a Docker engine.
compose-check: $(STAMP)
	$(BIN)/python deploy/compose_check.py docker-compose.yml

## Start PostgreSQL and RabbitMQ on this machine if they are down (CI helper).
infra-up:
	-pg_isready -h 127.0.0.1 -q || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	-rabbitmq-diagnostics -q ping >/dev/null 2>&1 || rabbitmq-server -detached

clean:
	rm -rf $(VENV) $(TRITON_VENV) .exeml .pytest_cache
