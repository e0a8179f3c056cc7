# Torii: `make run` serves the site, `make test` runs every test. Both set up .venv first.
SHELL := /bin/bash
PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
PY := $(VENV)/bin/python

-include .env
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_CONCURRENCY ?= 2
# Request threads per worker. The work is CPU-bound Python: more threads only raise p99
# at the same throughput (docs/performance.md).
GRANIAN_THREADS ?= 2
export

.PHONY: run admin test lint format bench install install-dev install-browser-tools clean image image-base

$(PY):
	@py=$$(pyenv which python 2>/dev/null || command -v python$(PYTHON_VERSION) || true); \
	ver=$$([ -n "$$py" ] && $$py -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	if [ "$$ver" != "$(PYTHON_VERSION)" ]; then \
	  echo "Torii needs Python $(PYTHON_VERSION) (named in .python-version), found '$${ver:-none}'." >&2; \
	  echo "Install it with 'pyenv install $(PYTHON_VERSION)' or put python$(PYTHON_VERSION) on PATH." >&2; \
	  exit 1; \
	fi; \
	echo "Creating $(VENV) with $$py"; \
	$$py -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime node_modules/.installed
install-dev: $(VENV)/.dev

# From npm, pinned in package-lock.json: the country database GEOIP_PATH defaults to
# (ip-location-db's geo-whois-asn-country) and axe-core for the browser tests (tests/e2e).
# Where npm is missing the site still runs, with every visitor's country unknown, and the
# accessibility tests skip (and fail under CI=true, as a missing browser does).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: visitors' countries will be unknown and the axe-core browser" \
	  "tests skipped (README: without npm)" >&2; fi
install-browser-tools: node_modules/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py bootstrap_admin
	@# Every process's metrics files start afresh (PROMETHEUS_MULTIPROC_DIR, docs/operations.md).
	$(PY) manage.py reset_metrics
	@echo "Serving Torii on http://$(HOST):$(PORT) with $(WEB_CONCURRENCY) workers and a task worker"
	@# The task worker (webhook events) runs in the background beside granian; when granian
	@# ends (Ctrl-C reaches both), the EXIT trap stops the worker too.
	@# A worker that dies (killed, out of memory) is replaced while the others serve; without
	@# --respawn-failed-workers granian stops every worker and exits instead.
	@$(PY) manage.py task_worker --no-startup-delay & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	$(VENV)/bin/granian --interface wsgi --host $(HOST) --port $(PORT) \
	  --workers $(WEB_CONCURRENCY) --blocking-threads $(GRANIAN_THREADS) \
	  --respawn-failed-workers --no-ws config.wsgi:application

# A new random password for the admin account, shown once (made if missing): the way back
# in after a missed first-start password, since mail is off by default.
admin: install
	$(PY) manage.py bootstrap_admin --reset

test: install-dev install-browser-tools
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# Benchmarks measure and print (bench/run.py) and keep JSON in bench/results/;
# SECTIONS="redirects" runs a subset. The baseline server (gunicorn) is a dev requirement.
bench: install-dev
	$(PY) -m bench.run $(SECTIONS)

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The container image (docs/operations.md, "Container"), with Debian's podman, buildah and
# mmdebstrap: no registry image is pulled. The base is Debian's archive made into an image
# once (`make image-base` makes it again); the wheels are the pinned requirements built
# here with .venv's Python, which is the base's (3.13), and the image installs only them.
PODMAN ?= podman
IMAGE ?= localhost/torii:latest
BASE_IMAGE ?= localhost/torii-base:latest
DEBIAN_SUITE ?= trixie

image-base:
	mmdebstrap --variant=minbase --include=python3,python3-venv $(DEBIAN_SUITE) - \
	  | $(PODMAN) import - $(BASE_IMAGE)

wheels/.built: requirements.txt | $(PY)
	rm -rf wheels
	$(PY) -m pip wheel --quiet --disable-pip-version-check -r requirements.txt -w wheels
	@touch $@

image: wheels/.built
	@$(PODMAN) image exists $(BASE_IMAGE) || $(MAKE) image-base
	$(PODMAN) build --format docker --build-arg BASE=$(BASE_IMAGE) -t $(IMAGE) .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache node_modules
