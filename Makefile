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

bench: bench-people bench-invitations bench-results

# A bounded soak on loopback (gunicorn, worker, beat, Locust): SOAK_DURATION seconds, 60 by default, 300 at most.
SOAK_DURATION ?= 60
soak: install
	$(PY) bench/soak.py --duration $(SOAK_DURATION) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm test-results
