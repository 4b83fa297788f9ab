# The README's commands. Only Python 3.11+ and make are needed: the rest is installed here.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PYTHON_DOWNLOADS := never

CHROMIUM ?= /usr/bin/chromium

.PHONY: bootstrap browser kafka-jars run test soak lint format bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

bootstrap: $(UV)
	$(UV) sync --frozen --quiet

# Browser tests drive Debian's Chromium (no browser download): installed here when we can.
browser:
	@if [ ! -x $(CHROMIUM) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# Apache Kafka 4.4's jars (tools/kafka/pom.xml) for the tests and `vigie up`, copied once into
# .tools/kafka by Maven where Java and Maven are installed; elsewhere the tests' Apache Kafka leg
# is skipped (saying why) and `vigie up` runs Tansu.
kafka-jars: bootstrap
	@if command -v java >/dev/null && command -v mvn >/dev/null; then \
		$(UV) run --frozen --no-sync python -c \
			'from vigie_shared.kit.kafka_jars import ensure_kafka_jars; ensure_kafka_jars()'; \
	fi

run: bootstrap kafka-jars
	$(UV) run --frozen --no-sync vigie up --demo

# Two pytest sessions side by side (tests/halves.py); a path in PYTEST_ARGS, or
# VIGIE_TEST_SESSIONS=1, runs one ordinary session.
test: bootstrap browser kafka-jars
	$(UV) run --frozen --no-sync python -m tests.halves $(PYTEST_ARGS)

# The long fault-injection soak: minutes of kills and restarts under steady load, of
# the services on Tansu and of the nodes of a three-node Apache Kafka cluster.
soak: bootstrap kafka-jars
	VIGIE_SOAK=1 $(UV) run --frozen --no-sync pytest -m soak -p no:cacheprovider -o timeout=0 tests/faults $(PYTEST_ARGS)

lint: bootstrap
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync ruff format --check .
	$(UV) run --frozen --no-sync mypy

format: bootstrap
	$(UV) run --frozen --no-sync ruff check --fix .
	$(UV) run --frozen --no-sync ruff format .

bench: bootstrap
	$(UV) run --frozen --no-sync python bench/run.py

clean:
	rm -rf $(TOOLS) .venv .pytest_cache .mypy_cache .ruff_cache
