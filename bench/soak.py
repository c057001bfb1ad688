"""A bounded soak on loopback: the product as deployed, under administrators and invited people at once.

    .venv/bin/python bench/soak.py [--duration 60] [--admins 50] [--people 200]     (or: make soak)

What it runs, all on this machine: a PostgreSQL database of its own (dropped and created again:
`experquiz_soak` unless SOAK_DATABASE_URL says otherwise, with `log_lock_waits` on and
`deadlock_timeout` at 1 s for it), a private redis-server (broker and cache), gunicorn, a Celery
worker and beat with the production settings and no tuning variable, and Locust (headless) with:

- `--admins` administrators browsing and filtering the people list, opening people and groups; one in
  ten of them also runs bulk actions (small ones in the request, large ones as background jobs) and
  one in ten imports small files through the web pages;
- `--people` invited people, each opening their invitation link and accepting it, once.

It prints the median and 99th percentile per page type, the error count and the longest lock wait
(pg_locks sampled every 100 ms during the run, and the server log's "still waiting" lines when the
log is readable), and exits non-zero on any error or a lock wait of a second or more. The run lasts
`--duration` seconds (at most 300) after a setup of about a minute. Not part of `make test`.
"""

import argparse
import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SLUG = "soak"
PASSWORD = "soak-admin-pass-2026"
MAX_DURATION = 300
PG_LOG = Path("/var/log/postgresql/postgresql-15-main.log")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


def database_params(url: str) -> dict:
    import environ

    config = environ.Env.db_url_config(url)
    if "postgresql" not in config.get("ENGINE", ""):
        sys.exit("The soak needs PostgreSQL: SOAK_DATABASE_URL=postgres://…")
    params = {key.lower(): config[key] for key in ("HOST", "PORT", "USER", "PASSWORD") if config.get(key)}
    return {"dbname": config["NAME"], **params}


def recreate_database(url: str) -> None:
    """A fresh database for the run, logging every lock wait longer than a second."""
    import psycopg

    params = database_params(url)
    name = params.pop("dbname")
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'ALTER DATABASE "{name}" SET log_lock_waits = on')
        admin.execute(f"ALTER DATABASE \"{name}\" SET deadlock_timeout = '1s'")


class LockSampler(threading.Thread):
    """Every 100 ms: the longest lock wait going on in the run's database (pg_locks.waitstart)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.params = database_params(url)
        self.longest = 0.0
        self.waits = 0  # samples that saw a backend waiting for a lock
        self.stopping = threading.Event()

    def run(self):
        import psycopg

        with psycopg.connect(autocommit=True, **self.params) as conn:
            while not self.stopping.wait(0.1):
                row = conn.execute(
                    "SELECT count(*), coalesce(max(extract(epoch FROM now() - l.waitstart)), 0) FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE NOT l.granted AND a.datname = current_database() AND l.waitstart IS NOT NULL"
                ).fetchone()
                self.waits += 1 if row[0] else 0
                self.longest = max(self.longest, float(row[1]))


def soak_env(*, database_url, broker_url, port) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "CACHE_", "SOAK_"))}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "experquiz.settings.production",
        "DEBUG": "0",
        "HTTPS": "0",  # plain HTTP on loopback
        "SECRET_KEY": "soak-" + secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": ".localhost,localhost",
        "BASE_DOMAIN": f"localhost:{port}",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


# --- seeding (runs in a child process with Django set up) ---------------------------------------


def seed(out: Path, admins: int, people: int, users: int) -> None:
    """The soak organisation: administrators, groups, people, and the links of the invited ones."""
    import random

    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core import mail
    from django.db import transaction

    from accounts.models import Organization, User
    from accounts.selectors import people_changed
    from accounts.services import organization_create
    from groups.models import Membership, UserGroup
    from invitations.services.account import invitations_send

    rng = random.Random(2026)
    organization = organization_create(
        name="Soak", slug=SLUG, admin_email="admin0@soak.example", admin_password=PASSWORD, phone_region="FR"
    )
    first = User.objects.get(organization=organization, email="admin0@soak.example")
    password = make_password(PASSWORD)
    with transaction.atomic():
        User.objects.bulk_create(
            User(organization=organization, email=f"admin{i}@soak.example", first_name="Admin", last_name=f"N{i}",
                 is_administrator=True, status=User.Status.ACTIVE, password=password)
            for i in range(1, admins)
        )  # fmt: skip
        groups = UserGroup.objects.bulk_create(
            UserGroup(organization=organization, name=f"Team {n:02d}") for n in range(20)
        )
        statuses = [User.Status.ACTIVE] * 7 + [User.Status.INACTIVE, User.Status.CREATED, User.Status.DELETED]
        staff = User.objects.bulk_create(
            User(organization=organization, email=f"person{n}@soak.example", first_name=f"First{n % 97}",
                 last_name=f"Last{n % 211}", status=rng.choice(statuses), password="!")
            for n in range(users)
        )  # fmt: skip
        for user in staff:
            user.refresh_search_text()
        User.objects.bulk_update(staff, ["search_text"], batch_size=2000)
        Membership.objects.bulk_create(
            Membership(organization=organization, group=rng.choice(groups), user=user) for user in staff
        )
        # Background jobs work on these groups: more people than a request changes at once.
        shifts = UserGroup.objects.bulk_create(
            UserGroup(organization=organization, name=f"Shift {n}") for n in range(max(1, admins // 10))
        )
        for shift in shifts:
            Membership.objects.bulk_create(
                Membership(organization=organization, group=shift, user=user)
                for user in User.objects.bulk_create(
                    User(organization=organization, email=f"{shift.pk}-{n}@shift.soak.example", first_name="Shift",
                         last_name=f"W{n}", status=User.Status.ACTIVE, password="!")
                    for n in range(250)
                )
            )  # fmt: skip
        invitees = User.objects.bulk_create(
            User(organization=organization, email=f"invitee{n}@soak.example", first_name="", last_name="",
                 status=User.Status.CREATED, password="!")
            for n in range(people)
        )  # fmt: skip
        people_changed(organization.pk)
    invitations_send(organization=organization, users=invitees, actor=first, label="Soak")
    links = {}
    for message in mail.outbox:
        match = re.search(r"/i/([A-Za-z0-9_\-]+)/", message.body)
        if match:
            links[message.to[0]] = match.group(1)
    assert len(links) == people, f"{len(links)} links for {people} people"
    data = {
        "admins": [f"admin{i}@soak.example" for i in range(admins)],
        "password": PASSWORD,
        "tokens": list(links.values()),
        "groups": [group.pk for group in groups],
        "shifts": [shift.pk for shift in shifts],
        "organization": Organization.objects.get(slug=SLUG).pk,
    }
    out.write_text(json.dumps(data))


# --- the run -------------------------------------------------------------------------------------


class Processes:
    def __init__(self, directory: Path):
        self.directory = directory
        self.running = []

    def start(self, name, command, env):
        log = (self.directory / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running.append(process)
        return process

    def stop(self):
        # The last started first, each gone before the next: Redis outlives the web requests in flight.
        for process in reversed(self.running):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def pg_log_waits(offset: int, database: str) -> list[str]:
    """The server log's lock-wait lines for this database since `offset` (empty when unreadable)."""
    try:
        with PG_LOG.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if "still waiting for" in line and f"@{database} " in line]


def percentile_rows(stats_csv: Path) -> list[dict]:
    with stats_csv.open() as file:
        return [row for row in csv.DictReader(file) if row["Name"] != "Aggregated"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=int(os.environ.get("SOAK_DURATION", 60)), help="seconds")
    parser.add_argument("--admins", type=int, default=50)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--users", type=int, default=5000, help="people in the organisation")
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 3)))
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--seed", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        return seed(Path(args.seed), args.admins, args.people, args.users)
    if not 0 < args.duration <= MAX_DURATION:
        sys.exit(f"--duration must be between 1 and {MAX_DURATION} seconds")
    if shutil.which("redis-server") is None:
        sys.exit("The soak starts a redis-server of its own: install redis-server")

    database_url = os.environ.get("SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/experquiz_soak")
    database = database_params(database_url)["dbname"]
    directory = ROOT / "bench" / "results" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    directory.mkdir(parents=True)
    redis_port, web_port = free_port(), free_port()
    env = soak_env(database_url=database_url, broker_url=f"redis://127.0.0.1:{redis_port}/0", port=web_port)
    processes = Processes(directory)
    print(f"Soak: {args.admins} administrators, {args.people} invited people, {args.duration} s; logs in {directory}")
    try:
        recreate_database(database_url)
        processes.start(
            "redis",
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            env,
        )
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        seed_file = directory / "seed.json"
        seed_env = {**env, "CELERY_BROKER_URL": "", "EMAIL_URL": "memorymail://"}  # links captured in-process
        subprocess.run(
            [PYTHON, __file__, "--seed", str(seed_file), "--admins", str(args.admins), "--people", str(args.people),
             "--users", str(args.users)],
            cwd=ROOT, env=seed_env, check=True,
        )  # fmt: skip
        processes.start(
            "web",
            [PYTHON, "-m", "gunicorn", "experquiz.wsgi", "--bind", f"127.0.0.1:{web_port}", "--workers",
             str(args.web_workers), "--threads", str(args.web_threads), "--timeout", "60"],
            env,
        )  # fmt: skip
        processes.start("worker", [PYTHON, "-m", "celery", "-A", "experquiz", "worker", "--concurrency=2"], env)
        processes.start(
            "beat", [PYTHON, "-m", "celery", "-A", "experquiz", "beat", "--schedule", str(directory / "beat")], env
        )

        def healthy():
            import urllib.request

            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=2) as answer:
                    return answer.status == 200
            except OSError:
                return False

        wait_until(healthy, 60, "gunicorn")
        log_offset = PG_LOG.stat().st_size if PG_LOG.exists() else 0
        sampler = LockSampler(database_url)
        sampler.start()
        locust_env = {**env, "SOAK_SEED": str(seed_file), "SOAK_HOST": f"{SLUG}.localhost:{web_port}"}
        users = args.admins + args.people
        started = time.monotonic()
        subprocess.run(
            [PYTHON, "-m", "locust", "-f", str(ROOT / "bench" / "soak_locustfile.py"), "--headless",
             "-u", str(users), "-r", "10", "--run-time", f"{args.duration}s",
             "--host", f"http://127.0.0.1:{web_port}", "--csv", str(directory / "soak"), "--only-summary",
             "--stop-timeout", "30", "--loglevel", "WARNING"],
            cwd=ROOT, env=locust_env, check=False,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        sampler.stopping.set()
        sampler.join(5)
        log_waits = pg_log_waits(log_offset, database)
        report(directory, elapsed, sampler, log_waits, PG_LOG.exists(), database_url)
    finally:
        processes.stop()


def report(directory, elapsed, sampler, log_waits, log_read, database_url):
    import psycopg

    rows = percentile_rows(directory / "soak_stats.csv")
    failures = directory / "soak_failures.csv"
    errors = sum(int(row["Failure Count"]) for row in rows)
    print(f"\n{'page type':<28}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for row in sorted(rows, key=lambda r: r["Name"]):
        print(
            f"{row['Name']:<28}{row['Request Count']:>10}{row['Failure Count']:>8}{row['50%']:>9}{row['99%']:>9}"
            f"{float(row['Max Response Time']):>9.0f}"
        )
    with psycopg.connect(autocommit=True, **database_params(database_url)) as conn:
        accepted = conn.execute(
            "SELECT count(*) FROM invitations_invitation WHERE used_at IS NOT NULL AND kind = 'account'"
        ).fetchone()[0]
        jobs = dict(conn.execute("SELECT state, count(*) FROM accounts_bulkjob GROUP BY state").fetchall())
        imports = dict(conn.execute("SELECT state, count(*) FROM accounts_importjob GROUP BY state").fetchall())
    print(f"\nrun: {elapsed:.0f} s; errors: {errors}; invitations accepted: {accepted}")
    print(f"background bulk jobs by state: {jobs}; imports by state: {imports}")
    print(
        f"lock waits: longest seen in pg_locks {sampler.longest * 1000:.0f} ms "
        f"({sampler.waits} of the 100 ms samples saw a wait); "
        + (f"server log lines 'still waiting' (over 1 s): {len(log_waits)}" if log_read else "server log not readable")
    )
    for line in log_waits[:10]:
        print("  " + line)
    if errors and failures.exists():
        print("\nfailures:\n" + failures.read_text()[:3000])
    bad = errors or log_waits or sampler.longest >= 1.0 or jobs.get("failed") or imports.get("failed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
