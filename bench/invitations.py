"""Benchmark: 10,000 account invitations to one group, packets of 200 versus the naive design, against
the SMTP sink's raw rate, interleaved in one run.

Each round measures, one after the other on the same data (A, B, C, A, B, C…):
  * packets – the product: the administrator's "invite this group again" request, then real
    `celery worker` processes (`--workers`, default 2) sending packets of 200 over one SMTP
    connection each;
  * naive   – the same request, with one task per invitation and one SMTP connection per message
    (bench/naive_tasks.py);
  * raw     – the sink alone: the same message, rendered once, sent `--count` times over one SMTP
    connection by one process (the ceiling a sender can reach on this machine).
For packets and naive: `request` (the request's own time), `delivered` (from the request until the sink
has accepted every message), msg/s over that time. A round of packets and naive at 10,000 takes
minutes: `--rounds` defaults to 5. `--requests N` then times the request alone N times (no worker
running: what it queues is thrown away), interleaved with nothing else, for its median and p95.

Needs PostgreSQL and Redis (the workers share the database, the broker is real):
    .venv/bin/python bench/invitations.py [--count 10000] [--workers 2] [--rounds 5] [--requests 20]
      [--database postgres://postgres@127.0.0.1:5432/experquiz_bench] [--redis redis://127.0.0.1:6379/6]
The database named there is dropped and created again. Results also go to bench/results/.
"""

import argparse
import asyncio
import json
import math
import os
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (celery --concurrency)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of packets, naive and raw")
    parser.add_argument("--requests", type=int, default=20, help="extra samples of the request alone")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/experquiz_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--designs", default="packets,naive,raw")
    parser.add_argument("--label", default="", help="a name for this run in the results file")
    return parser.parse_args()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Counter:
    def __init__(self):
        self.count = 0
        self.first_at = self.last_at = None

    def reset(self):
        self.count, self.first_at, self.last_at = 0, None, None

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        self.last_at = time.monotonic()
        self.first_at = self.first_at or self.last_at
        return "250 OK"


def recreate_database(url):
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def percentile(values, share):
    """The nearest-rank percentile: the smallest value with at least `share` of the samples at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)] if ordered else None


def main():  # noqa: C901 - one linear script
    args = parse_args()
    smtp_port = free_port()
    queue = f"bench-{os.getpid()}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "experquiz.settings.production",
            "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "0",
            "HTTPS": "0",
            "ALLOWED_HOSTS": "localhost,.localhost",
            "BASE_DOMAIN": "localhost:8000",
            "DATABASE_URL": args.database,
            "CELERY_BROKER_URL": args.redis,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "LOG_LEVEL": "WARNING",
        }
    )
    print(f"Preparing {args.count} users in {args.database} …", flush=True)
    recreate_database(args.database)

    import django

    django.setup()
    import redis
    from aiosmtpd.controller import Controller
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import BulkJob, Organization, StatusChange, User
    from accounts.services import organization_create
    from audit.models import AuditEvent
    from bench import naive_tasks
    from groups.models import Membership, UserGroup
    from invitations import messages
    from invitations.models import Invitation, InvitationBatch

    call_command("migrate", verbosity=0)
    organization_create(
        name="Bench", slug="bench", admin_email="admin@bench.example", admin_password="bench-admin-password-1"
    )
    organization = Organization.objects.get(slug="bench")
    admin = User.objects.get(email="admin@bench.example")
    group = UserGroup.objects.create(organization=organization, name="Everyone")
    users = User.objects.bulk_create(
        [
            User(organization=organization, email=f"person{n}@bench.example", status="created", password="!")
            for n in range(args.count)
        ],
        batch_size=2000,
    )
    Membership.objects.bulk_create(
        [Membership(organization=organization, group=group, user=user) for user in users], batch_size=2000
    )
    # No ANALYZE: the administrator invites people just loaded, as after an import.

    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    broker = redis.Redis.from_url(args.redis)
    logs = ROOT / "bench" / "results"
    logs.mkdir(exist_ok=True)

    def reset():
        """The same starting point for every sample: nobody invited, no message, no job."""
        Invitation.objects.all().delete()
        InvitationBatch.objects.all().delete()
        BulkJob.objects.all().delete()
        StatusChange.objects.filter(to_status="invited").delete()
        AuditEvent.objects.filter(organization=organization).delete()
        User.objects.filter(organization=organization, status="invited").update(status="created")
        broker.delete(queue)
        counter.reset()

    def request():
        client = Client(HTTP_HOST="bench.localhost")
        client.force_login(admin)
        started = time.monotonic()
        response = client.post("/invitations/resend-group/", {"group": group.pk, "confirmed": "1"})
        took = time.monotonic() - started
        assert response.status_code == 302, response.status_code
        return started, took

    def start_worker(design):
        log = open(logs / f"worker-{queue}-{design}.log", "w")  # noqa: SIM115 - closed with the worker
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "experquiz", "worker", "--include", "bench.naive_tasks",
             f"--concurrency={args.workers}", "-Q", queue, "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queue}-{design}@%h"],
            cwd=ROOT, env={**os.environ, "BENCH_DESIGN": design}, start_new_session=True,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        path = logs / f"worker-{queue}-{design}.log"
        while " ready." not in path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # the pool's processes
        return worker, log

    def delivered(design):
        reset()
        naive_tasks.use(design)  # where the request itself queues the messages (before issue 12)
        worker, log = start_worker(design)
        started, took = request()
        deadline = started + 900
        while counter.count < args.count and time.monotonic() < deadline:
            time.sleep(0.05)
        seconds = (counter.last_at or time.monotonic()) - started
        steady = (counter.last_at - counter.first_at) if counter.first_at else None
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)
        log.close()
        return {
            "design": design,
            "request_s": round(took, 3),
            "delivered_s": round(seconds, 2),
            "accepted_by_smtp": counter.count,
            "marked_sent": Invitation.objects.filter(delivery="sent").count(),
            "msg_per_s": round(counter.count / seconds, 1),
            "first_to_last_msg_per_s": round(counter.count / steady, 1) if steady else None,
        }

    def raw():
        """The sink's ceiling: one connection, the message rendered once, sent `count` times."""
        invitation = Invitation(
            pk=1, organization=organization, user=users[0], channel="email", address=users[0].email, kind="account"
        )
        message = messages.build_email(invitation, link="http://bench.localhost:8000/i/" + "x" * 43 + "/")
        payload = message.message().as_bytes(linesep="\r\n")
        counter.reset()
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
            for n in range(args.count):
                smtp.sendmail("bench@localhost", [f"person{n}@bench.example"], payload)
        seconds = time.monotonic() - started
        assert counter.count == args.count
        return {"design": "raw", "delivered_s": round(seconds, 2), "msg_per_s": round(args.count / seconds, 1)}

    results = []
    designs = args.designs.split(",")
    for round_number in range(args.rounds):
        for design in designs:
            row = raw() if design == "raw" else delivered(design)
            row["round"] = round_number + 1
            results.append(row)
            print(json.dumps(row), flush=True)
    request_samples = []
    naive_tasks.use("packets")
    for _sample in range(args.requests):
        reset()
        _started, took = request()
        request_samples.append(took)
        print(json.dumps({"request_alone_s": round(took, 3)}), flush=True)
    reset()
    controller.stop()
    asyncio.set_event_loop(asyncio.new_event_loop())

    def summary(design, key):
        values = [row[key] for row in results if row["design"] == design and row.get(key) is not None]
        return statistics.median(values) if values else None

    print()
    print(f"{args.rounds} rounds, {args.count} messages, {args.workers} worker processes; medians:")
    print(f"{'design':<10}{'request (s)':>14}{'all delivered (s)':>20}{'msg/s':>10}{'first→last msg/s':>20}")
    for design in designs:
        if summary(design, "delivered_s") is None:
            continue  # no round of it (--rounds 0)
        print(
            f"{design:<10}{summary(design, 'request_s') or '':>14}{summary(design, 'delivered_s'):>20}"
            f"{summary(design, 'msg_per_s'):>10}{summary(design, 'first_to_last_msg_per_s') or '':>20}"
        )
    goals = {}
    if request_samples:
        median, p95 = statistics.median(request_samples), percentile(request_samples, 0.95)
        goals["request_median_s"], goals["request_p95_s"] = round(median, 3), round(p95, 3)
        print(f"request alone, {len(request_samples)} samples: median {median:.3f} s, p95 {p95:.3f} s (goal ≤ 1 s)")
    packets, naive, ceiling = (summary(design, "msg_per_s") for design in ("packets", "naive", "raw"))
    if packets and ceiling:
        goals["packets_vs_raw"] = round(packets / ceiling, 2)
        print(f"packets / raw sink: {packets / ceiling:.0%} (goal ≥ 50 %)")
    if packets and naive:
        goals["packets_vs_naive"] = round(packets / naive, 2)
        print(f"packets / naive: {packets / naive:.1f}× (goal ≥ 5×)")
    name = f"invitations-{args.label + '-' if args.label else ''}{time.strftime('%Y%m%d-%H%M%S')}.json"
    (logs / name).write_text(
        json.dumps({"args": vars(args), "rows": results, "requests": request_samples, "goals": goals}, indent=2)
    )


if __name__ == "__main__":
    main()
