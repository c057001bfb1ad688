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
has accepted every message), msg/s over that time; a sample then waits, untimed, until every message
is recorded as sent (a round short of any fails the goal). The workers of each design are started
once for the rounds, each set on a queue of its own, the other design's set idle meanwhile (its CPU
time is in each row). A round of packets and naive at 10,000 takes
minutes: `--rounds` defaults to 5 (bench/goals.py runs 20 rounds of 1,000). `--requests N` then
times the request alone N times (no worker running: what it queues is thrown away) for a group of
`--request-count` people (default: `--count`), for its median and p95.

Needs PostgreSQL and Redis (the workers share the database, the broker is real):
    .venv/bin/python bench/invitations.py [--count 10000] [--workers 2] [--rounds 5] [--requests 20]
      [--request-count 10000] [--database postgres://postgres@127.0.0.1:5432/experquiz_bench]
      [--redis redis://127.0.0.1:6379/6] [--json FILE]
The database named there is dropped and created again. Results also go to bench/results/, and the
figures (`measure()`'s dictionary) to `--json FILE` if given.
"""

import argparse
import asyncio
import json
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

from bench.stats import summary as stats_summary  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (celery --concurrency)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of packets, naive and raw")
    parser.add_argument("--requests", type=int, default=20, help="extra samples of the request alone")
    parser.add_argument(
        "--request-count", type=int, default=0, help="people in the group for the request alone (default: --count)"
    )
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/experquiz_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--designs", default="packets,naive,raw")
    parser.add_argument("--label", default="", help="a name for this run in the results file")
    parser.add_argument("--json", default="", help="write the figures (a JSON object) to this file")
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


def main():
    args = parse_args()
    figures = measure(args)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


def measure(args) -> dict:  # noqa: C901 - one linear script
    """Run the rounds and the request samples; print them; return the figures (see the end)."""
    request_count = max(args.request_count, args.count)
    smtp_port = free_port()
    # A queue per design, each read by its own worker set; the request alone's is read by nobody.
    queue = f"bench-{os.getpid()}"
    queues = {design: f"{queue}-{design}" for design in ("packets", "naive")}
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
    print(f"Preparing {request_count} users in {args.database} …", flush=True)
    recreate_database(args.database)

    import django

    django.setup()
    import redis
    from aiosmtpd.controller import Controller
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from accounts.models import BulkChange, BulkJob, Organization, StatusChange, User
    from accounts.services import organization_create
    from audit.models import AuditEvent
    from bench import naive_tasks
    from experquiz.celery import app as celery_app
    from groups.models import Membership, UserGroup
    from invitations import messages
    from invitations.models import Invitation, InvitationBatch

    call_command("migrate", verbosity=0)
    organization_create(
        name="Bench", slug="bench", admin_email="admin@bench.example", admin_password="bench-admin-password-1"
    )
    organization = Organization.objects.get(slug="bench")
    admin = User.objects.get(email="admin@bench.example")
    group = UserGroup.objects.create(organization=organization, name="Delivery")  # the rounds': --count people
    everyone = group  # the request alone's: --request-count people
    users = User.objects.bulk_create(
        [
            User(organization=organization, email=f"person{n}@bench.example", status="created", password="!")
            for n in range(request_count)
        ],
        batch_size=2000,
    )
    Membership.objects.bulk_create(
        [Membership(organization=organization, group=group, user=user) for user in users[: args.count]],
        batch_size=2000,
    )
    if request_count > args.count:
        everyone = UserGroup.objects.create(organization=organization, name="Everyone")
        Membership.objects.bulk_create(
            [Membership(organization=organization, group=everyone, user=user) for user in users], batch_size=2000
        )
    # No ANALYZE: the administrator invites people just loaded, as after an import.

    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    broker = redis.Redis.from_url(args.redis)
    logs = ROOT / "bench" / "results"
    logs.mkdir(exist_ok=True)

    def reset():
        """The same starting point for every sample: nobody invited, no message, no job. Plain DELETEs
        (the ORM's read the rows first, to cascade by hand; TRUNCATE costs ~0.5 s here, whatever the
        rows); the tables that could point at these are empty in this database."""
        with transaction.atomic(), connection.cursor() as cursor:
            for model in (Invitation, InvitationBatch, BulkChange, BulkJob):
                cursor.execute(f"DELETE FROM {model._meta.db_table}")
        StatusChange.objects.filter(to_status="invited").delete()
        AuditEvent.objects.filter(organization=organization).delete()
        User.objects.filter(organization=organization, status="invited").update(status="created")
        broker.delete(queue, *queues.values())
        counter.reset()

    def request(group=group):
        client = Client(HTTP_HOST="bench.localhost")
        client.force_login(admin)
        started = time.monotonic()
        response = client.post("/invitations/resend-group/", {"group": group.pk, "confirmed": "1"})
        took = time.monotonic() - started
        assert response.status_code == 302, response.status_code
        return started, took

    def start_workers(designs):
        """One worker set per design for the whole run, as a server keeps its workers: each reads its
        own queue only (CELERY_TASK_DEFAULT_QUEUE: the tasks it queues stay on it), so the set of the
        design not being measured takes no task and sits idle; its CPU time meanwhile is recorded."""
        # The sweeper (no beat here) would run once, LEASE + SWEEP_AFTER = 90 s after the start, in
        # whichever round that is, and queue again as packets the rows of a slow naive round waiting
        # for over 30 s: not in the hour a run takes.
        workers = {}
        for design in designs:
            env = {**os.environ, "BENCH_DESIGN": design, "CELERY_TASK_DEFAULT_QUEUE": queues[design],
                   "INVITATIONS_SWEEP_AFTER": "3600"}  # fmt: skip
            log = open(logs / f"worker-{queues[design]}.log", "w")  # noqa: SIM115 - closed with the worker
            workers[design] = (subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "experquiz", "worker", "--include", "bench.naive_tasks",
                 f"--concurrency={args.workers}", "-Q", queues[design], "--loglevel=INFO",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queues[design]}@%h"],
                cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
            ), log)  # fmt: skip
        # Ready: each answers a ping (the log has no "ready." line at LOG_LEVEL=WARNING), and has run
        # the task it queues itself at its start (worker_started: a sweep).
        deadline = time.monotonic() + 120
        waiting = set(workers)
        while waiting and time.monotonic() < deadline:
            for design, (worker, _log) in workers.items():
                if worker.poll() is not None:
                    sys.exit(f"The {design} worker exited ({worker.returncode}): see {_log.name}")
            replies = celery_app.control.ping(timeout=0.5)
            waiting -= {design for reply in replies for name in reply for design in workers
                        if name.startswith(queues[design] + "@")}  # fmt: skip
        if waiting:
            sys.exit(f"Worker(s) not ready after 120 s: {', '.join(sorted(waiting))}")
        while any(broker.llen(queues[design]) for design in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        return workers

    def stop_workers(workers):
        for worker, _log in workers.values():
            os.killpg(worker.pid, signal.SIGTERM)
        for worker, log in workers.values():
            worker.wait(60)
            log.close()

    clock_ticks = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(worker):
        """User and system CPU time of a worker set so far: its processes (the session it leads)."""
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[3]) == worker.pid:  # the session id
                ticks += int(fields[11]) + int(fields[12])
        return ticks / clock_ticks

    def delivered(design, workers):
        began = time.monotonic()
        reset()
        reset_s = time.monotonic() - began
        naive_tasks.use(design)  # where the request itself queues the messages (before issue 12)
        celery_app.conf.task_default_queue = queues[design]  # the request's job goes to this design's set
        idle = {other: cpu_seconds(worker) for other, (worker, _log) in workers.items() if other != design}
        started, took = request()
        deadline = started + 900
        while counter.count < args.count and time.monotonic() < deadline:
            time.sleep(0.05)
        accepted, last_at, first_at = counter.count, counter.last_at, counter.first_at
        seconds = (last_at or time.monotonic()) - started
        steady = (last_at - first_at) if first_at else None
        # Untimed: every message recorded as sent, the job done and the queue empty before the next
        # sample (the worker stopped to the same effect before).
        waited = time.monotonic()
        settle_by = min(deadline, waited + 60)
        while time.monotonic() < settle_by and (
            Invitation.objects.filter(delivery="sent").count() < args.count
            or BulkJob.objects.filter(state=BulkJob.State.RUNNING).exists()
            or broker.llen(queues[design])
        ):
            time.sleep(0.05)
        marked_sent = Invitation.objects.filter(delivery="sent").count()
        return {
            "design": design,
            "request_s": round(took, 3),
            "delivered_s": round(seconds, 2),
            "accepted_by_smtp": accepted,
            "marked_sent": marked_sent,
            "msg_per_s": round(accepted / seconds, 1),
            "first_to_last_msg_per_s": round(accepted / steady, 1) if steady else None,
            "idle_workers_cpu_s": round(sum(cpu_seconds(workers[other][0]) - idle[other] for other in idle), 2),
            "reset_s": round(reset_s, 2),
            "settle_s": round(time.monotonic() - waited, 2),
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
    workers = {}
    if args.rounds:
        began = time.monotonic()
        workers = start_workers([design for design in designs if design in queues])
        print(f"workers ready in {time.monotonic() - began:.1f} s", flush=True)
    for round_number in range(args.rounds):
        for design in designs:
            began = time.monotonic()
            row = raw() if design == "raw" else delivered(design, workers)
            row["round"] = round_number + 1
            row["sample_s"] = round(time.monotonic() - began, 2)
            results.append(row)
            print(json.dumps(row), flush=True)
    stop_workers(workers)
    request_samples = []
    naive_tasks.use("packets")
    celery_app.conf.task_default_queue = queue  # no worker reads it: what the request queues is thrown away
    for _sample in range(args.requests):
        began = time.monotonic()
        reset()
        reset_s = time.monotonic() - began
        _started, took = request(everyone)
        request_samples.append(took)
        print(json.dumps({"request_alone_s": round(took, 3), "people": request_count, "reset_s": round(reset_s, 2)}),
              flush=True)  # fmt: skip
    reset()
    controller.stop()
    asyncio.set_event_loop(asyncio.new_event_loop())
    return report(args, designs, results, request_samples, request_count)


def report(args, designs, results, request_samples, request_count) -> dict:
    """Print the medians and the goals; return the figures: the rows of every round, per round the
    rates of each design and their ratios (packets / naive, packets / raw, paired within the round),
    their medians over rounds, and the request alone's samples and summary (seconds)."""

    def summary(design, key):
        values = [row[key] for row in results if row["design"] == design and row.get(key) is not None]
        return round(statistics.median(values), 2) if values else None

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
    idle = [row["idle_workers_cpu_s"] for row in results if "idle_workers_cpu_s" in row]
    if idle:
        print(f"the idle design's workers, CPU during each sample of the other: at most {max(idle):.2f} s")
    goals = {}
    if request_samples:
        request = stats_summary(request_samples)
        goals["request_median_s"], goals["request_p95_s"] = round(request["p50"], 3), round(request["p95"], 3)
        print(
            f"request alone, {request_count} people, {len(request_samples)} samples: median {request['p50']:.3f} s,"
            f" p95 {request['p95']:.3f} s (goal ≤ 1 s)"
        )
    per_round = []
    for number in sorted({row["round"] for row in results}):
        rates = {row["design"]: row["msg_per_s"] for row in results if row["round"] == number}
        pair = {"round": number, **rates}
        if rates.get("packets") and rates.get("naive"):
            pair["packets_vs_naive"] = round(rates["packets"] / rates["naive"], 2)
        if rates.get("packets") and rates.get("raw"):
            pair["packets_vs_raw"] = round(rates["packets"] / rates["raw"], 3)
        per_round.append(pair)
    for key in ("packets_vs_raw", "packets_vs_naive"):
        ratios = [pair[key] for pair in per_round if key in pair]
        if ratios:
            goals[key] = round(statistics.median(ratios), 3)
    if "packets_vs_raw" in goals:
        print(f"packets / raw sink, median over rounds: {goals['packets_vs_raw']:.0%} (goal ≥ 50 %)")
    if "packets_vs_naive" in goals:
        print(f"packets / naive, median over rounds: {goals['packets_vs_naive']:.1f}× (goal ≥ 5×)")
    figures = {
        "args": vars(args),
        "count": args.count,
        "workers": args.workers,
        "rows": results,
        "per_round": per_round,
        "medians": {design: summary(design, "msg_per_s") for design in designs},
        "medians_first_to_last": {design: summary(design, "first_to_last_msg_per_s") for design in designs},
        "undelivered": [
            row
            for row in results
            if min(row.get("accepted_by_smtp", args.count), row.get("marked_sent", args.count)) < args.count
        ],
        "request_count": request_count,
        "requests": request_samples,
        "request": stats_summary(request_samples) if request_samples else None,
        "goals": goals,
    }
    logs = ROOT / "bench" / "results"
    name = f"invitations-{args.label + '-' if args.label else ''}{time.strftime('%Y%m%d-%H%M%S')}.json"
    (logs / name).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
