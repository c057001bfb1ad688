"""Throughput of the assessment link `/a/<token>/` on 2 gunicorn workers with PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_bench_link .venv/bin/python bench/assessment_link.py

Migrates the database (created if missing), seeds one organisation with a questionnaire of 10
questions and 2,000 contacts invited to it (one link each), starts gunicorn (`--workers 2`, with the
deploy configuration `gunicorn.conf.py`: threaded workers) on a free loopback port with the benchmark
settings, then runs two loads from this process (threads with keep-alive connections): the landing
page GET on random links, and answer POSTs (each virtual person starts once, then for question after
question loads the page and saves an answer; only the POST is timed). Prints requests per second,
median and 99th percentile per load. The client shares the machine with the server: the figures are
a floor.
"""

import argparse
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from bench.database import ensure_database  # noqa: E402

SLUG = "benchlink"
HOST = f"{SLUG}.localhost"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHOICE = re.compile(r'name="choices" value="(\d+)"')


def setup_django():
    import django

    django.setup()


def seed(people: int) -> list[str]:
    """The tokens of `people` contacts' links (made again on each run: the old seed is dropped)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import Contact, Organization
    from accounts.tests.factories import OrganizationFactory
    from assessments.models import Assignee, Assignment, Attempt
    from assessments.tests.factories import make_assignment, make_questionnaire
    from invitations.models import Invitation, InvitationBatch
    from invitations.tokens import hash_token, make_token

    old = Organization.objects.filter(slug=SLUG).first()
    if old is not None:
        Attempt.objects.filter(organization=old).delete()
        Assignee.objects.filter(organization=old).delete()
        Invitation.objects.filter(organization=old).delete()
        Assignment.objects.filter(organization=old).delete()
        InvitationBatch.objects.filter(organization=old).delete()
        old.delete()
    organization = OrganizationFactory(slug=SLUG, name="Bench link")
    questionnaire = make_questionnaire(organization, title="Bench quiz", questions=10, time_limit_minutes=60)
    assignment, _ = make_assignment(questionnaire)
    contacts = Contact.objects.bulk_create(
        Contact(organization=organization, first_name=f"P{n}", last_name="Bench", email=f"p{n}@bench.example")
        for n in range(people)
    )
    from django.utils import timezone

    now = timezone.now()
    Assignee.objects.bulk_create(
        Assignee(organization=organization, assignment=assignment, contact=contact, added_at=now)
        for contact in contacts
    )
    tokens = [make_token() for _ in contacts]
    Invitation.objects.bulk_create(
        Invitation(
            organization=organization,
            kind=Invitation.Kind.ASSESSMENT,
            contact=contact,
            channel="email",
            address=contact.email,
            token_hash=hash_token(token),
            expires_at=assignment.closes_at,
            delivery=Invitation.Delivery.SENT,
            batch=assignment.batch,
        )
        for contact, token in zip(contacts, tokens, strict=True)
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # plans as in a database that has lived (the token's unique index)
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Connection:
    """One keep-alive HTTP connection with its own cookies (a browser, roughly)."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method, path, body=None):
        headers = {"Host": f"{HOST}:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{HOST}:{self.port}{path}"
            headers["Origin"] = f"http://{HOST}:{self.port}"
        started = time.perf_counter()
        try:
            self.http.request(method, path, body=body, headers=headers)
            response = self.http.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.http.close()
            self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data, elapsed


def run_load(name, threads, seconds, make_worker):
    latencies, errors, lock = [], [], threading.Lock()
    stop = time.monotonic() + seconds

    def loop(index):
        step = make_worker(index)
        while time.monotonic() < stop:
            try:
                ok, elapsed = step()
            except Exception as error:  # counted, the load goes on
                with lock:
                    errors.append(repr(error))
                continue
            with lock:
                (latencies if ok else errors).append(elapsed if ok else "bad status")

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    duration = time.monotonic() - started
    latencies.sort()
    if not latencies:
        print(f"{name}: no request succeeded, {len(errors)} errors (first: {errors[:1]})")
        return
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(
        f"{name}: {len(latencies) / duration:.0f} req/s, median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, {len(latencies)} requests, {len(errors)} errors"
        + (f" (first: {errors[0]})" if errors else "")
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://…/<a database of its own>")
    ensure_database(url)
    setup_django()
    tokens = seed(args.people)
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "ALLOWED_HOSTS": ".localhost,127.0.0.1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "experquiz.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--timeout", "60", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _data, _elapsed = Connection(port).request("GET", f"/a/{tokens[0]}/")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("gunicorn did not answer")
            time.sleep(0.3)

        def landing(index):
            connection = Connection(port)

            def step():
                status, _data, elapsed = connection.request("GET", f"/a/{random.choice(tokens)}/")
                return status == 200, elapsed

            return step

        run_load("GET /a/<token>/ (landing)", args.threads, args.seconds, landing)

        people = iter(tokens[1:])
        people_lock = threading.Lock()

        def answering(index):
            """A person: start once, then answer question after question (1..10, round and round)."""
            state = {"connection": None, "token": None, "number": 10, "csrf": ""}

            def begin():
                with people_lock:
                    token = next(people)
                connection = Connection(port)
                _status, data, _elapsed = connection.request("GET", f"/a/{token}/")
                csrf = CSRF.search(data.decode()).group(1)
                status, _data, _elapsed = connection.request("POST", f"/a/{token}/", f"csrfmiddlewaretoken={csrf}")
                assert status == 302, status
                state.update(connection=connection, token=token, number=0, csrf=csrf)

            def step():
                if state["number"] >= 10:
                    begin()
                state["number"] += 1
                number = state["number"]
                path = f"/a/{state['token']}/q/{number}/"
                # The question page first, as a browser shows it (not timed), then the answer (timed).
                _status, data, _elapsed = state["connection"].request("GET", path)
                choice = CHOICE.search(data.decode()).group(1)
                body = f"csrfmiddlewaretoken={state['csrf']}&choices={choice}&go=next"
                status, _data, elapsed = state["connection"].request("POST", path, body)
                return status == 302, elapsed

            return step

        run_load("POST /a/<token>/q/<n>/ (answer)", args.threads, args.seconds, answering)
    finally:
        os.killpg(server.pid, 15)
        server.wait(10)


if __name__ == "__main__":
    main()
