# Two commands matter: `make run` (demo agent) and `make test` (everything CI runs).
# Every step is idempotent: a reused machine skips what it already has.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests talk to: promtool, a real Prometheus and a real Alertmanager;
# chromium renders the status page; the tcp and dns checks talk to a real Redis, MariaDB and dnsmasq.
APT_PACKAGES := prometheus prometheus-alertmanager systemd chromium redis-server mariadb-server dnsmasq-base nginx-light
# What `make bench` compares against and probes: Debian's blackbox_exporter, Prometheus and nginx.
BENCH_APT_PACKAGES := prometheus prometheus-blackbox-exporter nginx-light
BENCH_STAMP := $(VENV)/.bench-installed
BENCH_ARGS ?=

.PHONY: run test test-integration test-latest lint typecheck contracts unit venv apt bench bench-apt lock lock-check clean

venv: $(STAMP)

# Exactly the tested versions: every package comes from requirements.lock with its hash
# (dev, test and bench extras alike); the project itself is installed without its dependencies.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	# A stale egg-info left by an older checkout would hide new entry points (checks) from pip.
	rm -rf sitewatch.egg-info
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve requirements.lock after a change to pyproject.toml's dependencies (keeps the
# versions already locked where the ranges still allow them; `make lock UPGRADE=1` takes the newest).
lock: $(STAMP)
	$(BIN)/python tools/lock.py write $(if $(UPGRADE),--upgrade)

# Fails when pyproject.toml and requirements.lock disagree (CI runs it).
lock-check: $(STAMP)
	$(BIN)/python tools/lock.py check

# The newest versions pyproject.toml allows, in a venv of their own, to see a coming break
# before the lock is refreshed. On demand only: not part of .ci/run.
LATEST := .venv-latest
test-latest: $(STAMP) apt
	rm -rf $(LATEST)
	$(BIN)/uv venv --quiet --python $(BIN)/python $(LATEST)
	$(BIN)/uv pip install --quiet --python $(LATEST)/bin/python --upgrade -e '.[dev]'
	$(BIN)/uv pip list --python $(LATEST)/bin/python --format freeze > $(LATEST)/versions.txt
	@echo "newest versions: $(LATEST)/versions.txt"
	SITEWATCH_REQUIRE_BROWSER=1 $(LATEST)/bin/pytest -q -p no:cacheprovider

# $(call apt-install,PACKAGES): install the Debian packages that are missing, skip the rest.
define apt-install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

apt:
	$(call apt-install,$(APT_PACKAGES))

bench-apt:
	$(call apt-install,$(BENCH_APT_PACKAGES))

# The bench extras are in requirements.lock too, so the venv already has them.
$(BENCH_STAMP): $(STAMP)
	touch $(BENCH_STAMP)

# The fleet benchmark against blackbox_exporter (a few minutes; BENCH_ARGS=--quick for ~1 minute).
bench: $(BENCH_STAMP) bench-apt
	$(BIN)/python bench/fleet.py $(BENCH_ARGS)

run: $(STAMP)
	$(BIN)/sitewatch demo

lint: $(STAMP)
	$(BIN)/ruff check sitewatch checks tests bench tools
	$(BIN)/ruff format --check sitewatch checks tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

# The import contracts of pyproject.toml [tool.importlinter]: the layers of the data flow,
# checks on the probe API only, a pure state machine (docs/architecture.md).
contracts: $(STAMP)
	$(BIN)/lint-imports --no-logo

unit: $(STAMP)
	$(BIN)/pytest -q

# SITEWATCH_REQUIRE_BROWSER / _SERVICES: the browser test and the tests against Redis, MariaDB, dnsmasq
# fail instead of skipping when chromium or those servers are missing.
test: $(STAMP) apt lint typecheck contracts
	SITEWATCH_REQUIRE_BROWSER=1 SITEWATCH_REQUIRE_SERVICES=1 $(BIN)/pytest -q

# Real service desks from Debian (Redmine, Request Tracker 5) on 127.0.0.1 for the sink tests;
# each is stopped by its PID when the tests end.
test-integration: $(STAMP)
	@state=$$(mktemp -d); chmod 755 $$state; pids=""; trap 'kill $$pids 2>/dev/null' EXIT; \
	rm_out=$$($(SUDO) bash .ci/redmine.sh $$state/redmine) || { echo "$$rm_out"; exit 1; }; \
	pids="$$pids $$(cat $$state/redmine/redmine.pid)"; \
	rt_out=$$($(SUDO) bash .ci/rt.sh $$state/rt 2>/dev/null) || { echo "$$rt_out"; exit 1; }; \
	pids="$$pids $$(cat $$state/rt/rt.pid)"; \
	eval "$$(printf '%s\n%s\n' "$$rm_out" "$$rt_out" | grep -E '^(REDMINE|RT)_[A-Z_]+=' | sed 's/^/export /')"; \
	SITEWATCH_REQUIRE_REDMINE=1 SITEWATCH_REQUIRE_RT=1 $(BIN)/pytest -q tests/test_sinks.py tests/test_clients_redmine.py tests/test_clients_desks.py tests/test_sla_desk.py

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
