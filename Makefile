# The two commands: `make run` (the product on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install worker lint format messages e2e bench bench-people bench-invitations bench-results soak clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==26.3"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	PORT=$(PORT) $(PY) manage.py seed_demo
	@echo ""
	@echo "  ExperQuiz People is running at  http://demo.localhost:$(PORT)/"
	@echo "  Administrator:     admin@demo.example.com    password  demo-admin-pass"
	@echo "  Regional manager:  manager@demo.example.com  password  demo-manager-pass"
	@echo "  (platform admin: http://localhost:$(PORT)/admin/ after 'manage.py createsuperuser')"
	@echo ""
	PORT=$(PORT) $(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

e2e: install
	$(PY) -m pytest e2e $(PYTEST_ARGS)

worker: install
	@test -n "$$CELERY_BROKER_URL" || { echo "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0): without a broker, tasks already run in-process."; exit 1; }
	$(VENV)/bin/celery -A experquiz worker --beat --loglevel=INFO --concurrency=2

# 10,000 invitations, packets vs the naive design; needs PostgreSQL and Redis (see bench/invitations.py).
bench-invitations: install
	$(PY) bench/invitations.py $(BENCH_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

messages: install
	$(PY) manage.py makemessages -l fr --extension html,txt,py,jinja --ignore=.venv --ignore=staticfiles --no-obsolete
	$(PY) manage.py compilemessages --ignore=.venv

# The web benchmarks need PostgreSQL, a database of their own (created if missing) and Redis: /users/
# against the admin and against its own SQL, interleaved, BENCH_SAMPLES samples per cell (20 at
# least), the link page on gunicorn, then the goal table (see bench/README.md).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/experquiz_people_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/9
BENCH_SAMPLES ?= 20
bench-people: install
	DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_REDIS_URL=$(BENCH_REDIS_URL) $(PY) bench/run.py all --samples $(BENCH_SAMPLES)

# The results pages at 10,000 attempts: queries per page (constant in the page size) and times.
RESULTS_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/experquiz_results_bench
bench-results: install
	DATABASE_URL=$(RESULTS_BENCH_DATABASE_URL) $(PY) bench/results.py

# Every benchmark of issue 12 in one run, then its goal table with pass/fail (bench/goals.py; about
# 20 minutes on a quiet 2-core machine, plus ~9 min the first time to make the 1,000,000-user
# database). A crashed piece makes it fail; a goal not met is a FAIL row. See bench/README.md.
BENCH_1M_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/experquiz_people_bench_1m
BENCH_1M ?= 1
BENCH_ONLY ?=
BENCH_SCENARIOS ?=
INVITATIONS_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/experquiz_bench
INVITATIONS_BENCH_REDIS_URL ?= redis://127.0.0.1:6379/6
BENCH_DELIVERY_COUNT ?= 1000
BENCH_DELIVERY_ROUNDS ?= 20
BENCH_REQUESTS ?= 20
BENCH_REQUEST_COUNT ?= 10000
IMPORTS_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/experquiz_import_bench
BENCH_IMPORT_SAMPLES ?= 8
BENCH_BIG_IMPORTS ?= 1
BENCH_IMPORT_EXISTING ?= 100000
bench: install
	$(PY) bench/goals.py --only "$(BENCH_ONLY)" --samples $(BENCH_SAMPLES) --scenarios "$(BENCH_SCENARIOS)" \
		--database $(BENCH_DATABASE_URL) --database-1m $(BENCH_1M_DATABASE_URL) $(if $(filter 0,$(BENCH_1M)),--skip-1m) \
		--redis $(BENCH_REDIS_URL) \
		--invitations-database $(INVITATIONS_BENCH_DATABASE_URL) --invitations-redis $(INVITATIONS_BENCH_REDIS_URL) \
		--delivery-count $(BENCH_DELIVERY_COUNT) --delivery-rounds $(BENCH_DELIVERY_ROUNDS) \
		--requests $(BENCH_REQUESTS) --request-count $(BENCH_REQUEST_COUNT) \
		--imports-database $(IMPORTS_BENCH_DATABASE_URL) --import-samples $(BENCH_IMPORT_SAMPLES) \
		--big-imports $(BENCH_BIG_IMPORTS) --import-existing $(BENCH_IMPORT_EXISTING) \
		--results-database $(RESULTS_BENCH_DATABASE_URL)

# A bounded soak on loopback (gunicorn, worker, beat, Locust): SOAK_DURATION seconds, 60 by default, 300 at most.
SOAK_DURATION ?= 60
soak: install
	$(PY) bench/soak.py --duration $(SOAK_DURATION) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm test-results
