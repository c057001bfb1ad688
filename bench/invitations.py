"""Benchmark: 10,000 account invitations to one group, packets of 200 versus the naive design.

For each design, in the same run and on the same machine:
  * request  – how long the administrator's "resend to this group" request takes to return;
  * delivered – time from the request until a local SMTP server has accepted every message;
  * msg/s     – messages accepted per second over that time.
"packets" is the product (one task per 200 invitations, one SMTP connection per packet); "naive" is
one task per invitation published one by one and one SMTP connection per message.

Needs PostgreSQL and Redis (the workers share the database, the broker is real):
    .venv/bin/python bench/invitations.py [--count 10000] [--workers 2]
      [--database postgres://postgres@127.0.0.1:5432/experquiz_bench] [--redis redis://127.0.0.1:6379/6]
The database named there is dropped and created again. Results also go to bench/results/.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
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
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/experquiz_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--designs", default="packets,naive")
    return parser.parse_args()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Counter:
    def __init__(self):
        self.count = 0
        self.last_at = None

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        self.last_at = time.monotonic()
        return "250 OK"


def recreate_database(url):
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main():
    args = parse_args()
    smtp_port = free_port()
    queue = f"bench-{os.getpid()}"
    env = {
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
    os.environ.update(env)
    print(f"Preparing {args.count} users in {args.database} …", flush=True)
    recreate_database(args.database)

    import django

    django.setup()
    import redis
    from aiosmtpd.controller import Controller
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import Organization, User
    from accounts.services import organization_create
    from bench import naive_tasks
    from groups.models import Membership, UserGroup
    from invitations.models import Invitation, InvitationBatch
    from invitations.services import account

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

    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    broker = redis.Redis.from_url(args.redis)
    original_enqueue = account.invitations_enqueue
    results = []
    for design in args.designs.split(","):
        # Same starting point for each design.
        Invitation.objects.all().delete()
        InvitationBatch.objects.all().delete()
        User.objects.filter(pk__in=[user.pk for user in users]).update(status="created")
        broker.delete(queue)
        counter.count = 0
        account.invitations_enqueue = naive_tasks.naive_enqueue if design == "naive" else original_enqueue

        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "experquiz", "worker", "--include", "bench.naive_tasks",
             f"--concurrency={args.workers}", "-Q", queue, "--loglevel=WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queue}-{design}@%h"],
            cwd=ROOT, env={**os.environ}, start_new_session=True,
        )  # fmt: skip
        time.sleep(4)  # let the worker connect before the administrator clicks
        client = Client(HTTP_HOST="bench.localhost")
        client.force_login(admin)
        started = time.monotonic()
        response = client.post("/invitations/resend-group/", {"group": group.pk})
        request_seconds = time.monotonic() - started
        assert response.status_code == 302, response.status_code
        deadline = started + 900
        while counter.count < args.count and time.monotonic() < deadline:
            time.sleep(0.05)
        delivered_seconds = (counter.last_at or time.monotonic()) - started
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)
        sent = Invitation.objects.filter(delivery="sent").count()
        row = {
            "design": design,
            "invitations": args.count,
            "workers": args.workers,
            "request_s": round(request_seconds, 2),
            "delivered_s": round(delivered_seconds, 2),
            "accepted_by_smtp": counter.count,
            "marked_sent": sent,
            "msg_per_s": round(counter.count / delivered_seconds, 1) if delivered_seconds else None,
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    controller.stop()
    asyncio.set_event_loop(asyncio.new_event_loop())

    print()
    print(f"{'design':<10}{'request (s)':>14}{'all delivered (s)':>20}{'msg/s':>10}{'accepted':>10}")
    for row in results:
        print(
            f"{row['design']:<10}{row['request_s']:>14}{row['delivered_s']:>20}"
            f"{row['msg_per_s']:>10}{row['accepted_by_smtp']:>10}"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"invitations-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
