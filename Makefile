# The two commands a newcomer needs:  make demo  and  make test  (see README.md).
PY := .venv/bin/python

.PHONY: demo test bootstrap lint typecheck contract unit integration kafka kafka-stop bench clean

bootstrap:
	@./scripts/bootstrap

## Run the hub with the demo registry and watch a referral reach the wijkteam.
## Starts a local Kafka broker unless HUB_KAFKA__BOOTSTRAP_SERVERS is set.
demo: bootstrap
	@HUB_ENVIRONMENT=development $(PY) -m hub.cli demo

## Everything CI runs: lint, types, the published contract, unit and integration tests.
test: bootstrap lint typecheck contract
	@HUB_ENVIRONMENT=development $(PY) -m pytest

## ruff, and import-linter's contracts in pyproject.toml (no import cycles, the layers,
## production code never imports hub.dev; see docs/architecture.md).
lint:
	@$(PY) -m ruff check src tests bench connectors
	@$(PY) -m ruff format --check src tests bench connectors
	@.venv/bin/lint-imports --no-logo

typecheck:
	@$(PY) -m mypy

contract:
	@$(PY) -m hub.cli schemas check docs/schemas

unit: bootstrap
	@$(PY) -m pytest tests/unit

integration: bootstrap
	@$(PY) -m pytest tests/integration

## Start the local Kafka broker, or reuse the running one; the last line is its bootstrap
## address:  export HUB_KAFKA__BOOTSTRAP_SERVERS=$$(make -s kafka | tail -n 1)
## `make demo`, the integration tests and bench/ reach it through the same code
## (LocalKafka().ensure_running()) unless HUB_KAFKA__BOOTSTRAP_SERVERS names a broker.
kafka: bootstrap
	@$(PY) -m hub.dev.localkafka start --timeout 300

kafka-stop:
	@$(PY) -m hub.dev.localkafka stop

bench: bootstrap
	@$(PY) bench/run_all.py

clean:
	rm -rf .venv .hub-run .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
