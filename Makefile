# `make run` serves the chat server on $PORT (3005); `make test` runs every check. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 3005
HOST   ?= 0.0.0.0
WORKERS ?= 1

.PHONY: run wait test test-sqlite test-faults test-e2e test-postgres lint format migrate bench clean demo-assets chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput

run: migrate demo-assets
	@if [ "$(WORKERS)" != "1" ] && [ -z "$$REDIS_URL" ]; then \
		echo "make run: WORKERS=$(WORKERS) needs REDIS_URL (and a shared DATABASE_URL): workers share sockets, rooms and presence through Redis"; exit 2; \
	fi
	$(BIN)/uvicorn chat_project.asgi:application --host $(HOST) --port $(PORT) --workers $(WORKERS) \
		--ws-per-message-deflate false --proxy-headers

# /demo/'s socket.io browser client: the npm package (pinned in demo/package-lock.json), served by the
# server, never from a CDN. Without npm the server runs and /demo/ says how to get it.
demo-assets:
	@if [ -f demo/node_modules/socket.io-client/dist/socket.io.min.js ] \
		&& [ demo/node_modules/.package-lock.json -nt demo/package-lock.json ]; then exit 0; \
	elif command -v npm >/dev/null 2>&1; then \
		npm ci --prefix demo --no-audit --no-fund --loglevel=error; \
	else \
		echo "demo-assets: SKIPPED: npm is needed for /demo/'s socket.io client (the rest of the server runs)"; \
	fi

# Debian's chromium for the browser test in test-e2e: installed with apt-get when missing and we are root
# (as CI is); elsewhere the test is skipped with the reason.
chromium:
	@if command -v chromium >/dev/null 2>&1; then exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "chromium: apt-get install chromium"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
		|| { apt-get update >/dev/null 2>&1 \
			&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; } \
		|| echo "chromium: could not be installed; the browser test will be skipped"; \
	else \
		echo "chromium: not installed and not root (apt-get install chromium); the browser test will be skipped"; \
	fi

# After `make run &`: returns once GET /healthz answers 200 (the venv is made, the database migrated,
# the server listening), or fails after WAIT_SECONDS. Uses the system python3: the venv may not exist yet.
WAIT_SECONDS ?= 300
wait:
	@echo "waiting for http://127.0.0.1:$(PORT)/healthz ..."; \
	for i in $$(seq 1 $$(( $(WAIT_SECONDS) * 2 ))); do \
		if $(PYTHON) -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
			http://127.0.0.1:$(PORT)/healthz 2>/dev/null; then echo "the server is up"; exit 0; fi; \
		sleep 0.5; \
	done; \
	echo "no answer from /healthz within $(WAIT_SECONDS) s: see the output of make run"; exit 1

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run

# The pytest suite on SQLite and again on PostgreSQL at the same time, one pass per core (each prints its
# report when it ends; they share nothing: their own databases, Redis databases 15 and 14); then
# tests/faults alone (it stops and freezes servers against deadlines of a few seconds, so it gets the
# machine to itself); then the JavaScript suites.
test: lint demo-assets
	@echo "test: pytest on SQLite and on PostgreSQL at once; each pass prints its report when it ends"
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres
	@$(MAKE) --no-print-directory test-faults
	@$(MAKE) --no-print-directory test-e2e

test-sqlite: $(VENV)/.dev
	$(BIN)/python -m pytest --ignore=tests/faults

# Real faults (README, "Failure modes"): a PostgreSQL cluster and a Redis of the tests' own, stopped,
# frozen and killed under running servers; skipped, with the reason, without their binaries.
test-faults: $(VENV)/.dev
	$(BIN)/python -m pytest tests/faults

# The spec's JavaScript client (the official socket.io-client, pinned in tests/e2e/package-lock.json)
# against a server each test file starts; the AsyncAPI document through @asyncapi/parser; /demo/ in headless
# Chromium (playwright-core, same lock file; skipped with the reason without Chromium). Skipped, with the
# reason, where Node.js 20+ or npm is missing.
test-e2e: $(VENV)/.runtime demo-assets chromium
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		echo "test-e2e: SKIPPED: node and npm are needed to run the socket.io-client end-to-end tests"; exit 0; \
	elif ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then \
		echo "test-e2e: SKIPPED: Node.js 20 or newer is needed (found $$(node --version))"; exit 0; \
	fi; \
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error && cd tests/e2e && node --test

# The pytest suite again on PostgreSQL (the production database): locking, constraints and transactions
# behave differently from SQLite. Starts the local cluster when it is down (tests/processes.py, as the
# test fixtures do); skipped, with the reason, where there is none. tests/scaleout runs in the main pass:
# it makes its own PostgreSQL database; so does tests/faults (its servers use a cluster of its own).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
PG_TESTS    ?= tests --ignore=tests/scaleout --ignore=tests/faults
PG_TEST_REDIS_URL ?= redis://127.0.0.1:6379/14

test-postgres: $(VENV)/.dev
	@if ! $(BIN)/python -m tests.processes postgres; then \
		echo "test-postgres: SKIPPED: PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started"; exit 0; \
	fi; \
	echo "test-postgres: pytest on $(PG_TEST_URL)"; \
	DATABASE_URL=$(PG_TEST_URL) CHAT_TEST_REDIS_URL=$(PG_TEST_REDIS_URL) $(BIN)/python -m pytest $(PG_TESTS)

# Numbers, not a test: the bare relay (bench/relay.py) and our server on SQLite, PostgreSQL, and PostgreSQL +
# Redis with two workers, in one run, under the official socket.io-client on loopback; five to ten minutes.
# Prints a table, writes bench-results/latest.json and latency.png (README, "Benchmarks").
# `make bench BENCH_ARGS="--setups sqlite"` runs one set-up; `make bench BENCH_ARGS=--help` lists the knobs.
BENCH_ARGS ?=
$(VENV)/.bench: bench/requirements.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(VENV)/.runtime $(VENV)/.bench
	$(BIN)/python bench/run.py $(BENCH_ARGS)

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
