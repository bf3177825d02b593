# Two commands on a fresh machine: `make demo` and `make test`. Everything installs from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_COMPILE_BYTECODE := 1

.PHONY: install demo stop stack stack-stop test browser lint lock clean bench

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --compile-bytecode
	@touch $@

## install: create .venv from the lock (bytecode compiled)
install: $(VENV)/.synced

## demo: start the emulator and Airflow on 127.0.0.1, onboard sample customers through REST, print results
demo: install
	$(VENV)/bin/python scripts/demo.py run

## stop: stop every process `make demo` started
stop:
	@if [ -x $(VENV)/bin/python ]; then $(VENV)/bin/python scripts/demo.py stop; else $(PYTHON) scripts/demo.py stop; fi

## stack: the CeleryExecutor deployment of docker-compose.yaml as local processes (PostgreSQL and Redis on 127.0.0.1): api-server, scheduler, dag-processor, triggerer, two Celery workers, emulator, mail sink
stack: install
	$(VENV)/bin/python scripts/stack.py start

## stack-stop: stop every process `make stack` started (by the process groups it recorded)
stack-stop:
	@if [ -x $(VENV)/bin/python ]; then $(VENV)/bin/python scripts/stack.py stop; else $(PYTHON) scripts/stack.py stop; fi

## test: the type gate (mypy, configured in pyproject.toml), then the whole test suite (needs PostgreSQL and Redis on 127.0.0.1 for the integration tests)
test: install browser
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest

## browser: Debian's chromium and chromium-driver for the browser tests, installed with apt when missing (as root)
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && apt-get install -y chromium chromium-driver; \
	else echo "browser tests need Chromium: apt-get install -y chromium chromium-driver (skipped locally, fail under CI=true)" >&2; fi

lint: install
	$(VENV)/bin/ruff check .

## lock: re-resolve dependencies after editing pyproject.toml
lock: $(UV)
	$(UV) lock

## clean: stop the demo and the stack, drop the demo's PostgreSQL databases (metadata and KYC), remove .demo, .kyc and .stack
clean: stop stack-stop
	@if [ -x $(VENV)/bin/python ]; then $(VENV)/bin/python scripts/demo.py clean; fi
	rm -rf .demo .kyc .stack
