# chaosgate: the two commands a new user needs.
#   make gameday   set up, then run the game-day suite against the sandbox
#   make test      set up, then run the harness's own tests
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# The suite runs on two pytest-xdist workers, each with its own sandbox and ports
# (conftest.py): ~15 min instead of ~30. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))

.PHONY: bootstrap gameday test unit integration lint typecheck kube sandbox-up sandbox-down clean

bootstrap:
	scripts/bootstrap

# The main job: run the game-day suite (scenarios/) against the sandbox, then
# print the verdicts and the paths of the Allure report and the summary.
# chaosgate gameday starts the sandbox when it is not running, and stops it
# again at the end (a sandbox that was already running is left running).
gameday: bootstrap
	$(BIN)/chaosgate gameday

# tests/k8s run against a real Kubernetes control plane (docs/kubernetes.md):
# built once per machine (~7 min cold, cached in ~/.cache/chaosgate/kube),
# started and stopped by the test session.
test: bootstrap lint typecheck kube
	$(BIN)/python -m pytest $(XDIST) --durations=25 $(PYTEST_ARGS)

kube: bootstrap
	scripts/kube build

unit: bootstrap
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: bootstrap
	$(BIN)/python -m pytest $(XDIST) tests/integration $(PYTEST_ARGS)

lint: bootstrap
	$(BIN)/ruff check src tests bench scenarios loadprofiles systems

typecheck: bootstrap
	$(BIN)/mypy

sandbox-up: bootstrap
	$(BIN)/chaosgate sandbox up

sandbox-down:
	$(BIN)/chaosgate sandbox down

clean:
	-$(BIN)/chaosgate sandbox down
	rm -rf .chaosgate reports/allure-results reports/allure-report
