# The two commands of the README: `make run` and `make test`. Both install what is missing first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install compose-check infra-up clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e ".[test,ml]"
	touch $(STAMP)

install: $(STAMP)

## Start the whole platform in one process (embedded mode) on EXEML_PORT (default 8000).
run: $(STAMP)
	$(BIN)/python -m gateway.embedded

## Run every test (real PostgreSQL, RabbitMQ and an S3 server started by the fixtures).
test: $(STAMP)
	$(BIN)/python -m pytest -q

## Speed and quality runs too long for `make test`: every bench/bench_*.py in turn; each prints its
## measurements next to a baseline measured in the same run.
bench: $(STAMP)
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

## Validate docker-compose.yml without a Docker engine.
compose-check: $(STAMP)
	$(BIN)/python deploy/compose_check.py docker-compose.yml

## Start PostgreSQL and RabbitMQ on this machine if they are down (CI helper).
infra-up:
	-pg_isready -h 127.0.0.1 -q || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	-rabbitmq-diagnostics -q ping >/dev/null 2>&1 || rabbitmq-server -detached

clean:
	rm -rf $(VENV) .exeml .pytest_cache
