"""The link pages `/i/<token>/` and `/a/<token>/` under load: gunicorn with the production settings.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_people_bench .venv/bin/python bench/tokens.py \\
        [--workers 2] [--connections 8] [--rounds 4] [--seconds 5] [--kinds i,a,iu,au] [--keep-alive both]
        [--against DIR] [--gunicorn-args "--worker-class sync"] [--redis redis://127.0.0.1:6379/9]

It adds people with known links to the people benchmark's organisation (`bench0`, made by
`bench/run.py generate`): 200 invited users (account links) and an assessment of 5,000 contacts, 200
of them with known links. It starts gunicorn on a free loopback port with
`experquiz.settings.production`, no tuning variable but the plain-HTTP ones, and the deploy
configuration (`gunicorn.conf.py`) with `--workers` workers; with `--against DIR`, a second gunicorn
serves the code checked out in DIR the same way (same database, same links). A small client
in another process (non-blocking sockets on one selector: little CPU per request) keeps
`--connections` requests in flight for `--seconds`, per cell:

- kinds: `i` valid account links, `a` valid assessment links, `iu` and `au` unknown ones (404);
- keep-alive on (each client connection sends request after request, and opens a new one only when
  the server closes it: gunicorn's sync workers close every one) and off (a new connection per
  request, `Connection: close`, as a client that never reuses them);
- each server.

A round visits every cell once, in turn, and the order rotates from round to round, so a change in
the machine's load touches every cell alike; `--rounds` rounds. Per cell: requests per second,
p50/p95/p99 (nearest rank over every request, bench.stats), statuses, and the CPU each request cost
the web workers, the database (the backends of the server's own connections, with persistent
connections only) and the client, read from /proc: on a machine shared with other work, the CPU per
request compares code far better than requests per second.

Differences from production, on purpose: plain HTTP (`HTTPS=0`), the cache in the Redis given by
`--redis`, and the per-address limit of failed look-ups raised (`TOKEN_THROTTLE_PER_IP`): the client
is one address, and every request after the 60th unknown link would be a 429 page. The servers' logs
are in `bench/results/tokens-<server>.log`: warnings and errors, and no access log, as the deploy
command (the Dockerfile's) has none. (Until 3 December 2026 the servers wrote an access log to
/dev/null: each request formatted its line for nothing, 2.6 % of a worker's CPU on `/i/`.)
"""

import argparse
import ast
import math
import os
import re
import secrets
import selectors
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stats import summary as stats_summary  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SLUG = "bench0"
LINKS = 200
KINDS = {
    "i": "/i/<token>/ valid",
    "a": "/a/<token>/ valid",
    "iu": "/i/<token>/ unknown",
    "au": "/a/<token>/ unknown",
}
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_links(count: int = LINKS) -> list[str]:
    """Invited people of bench0 with account links that work (idempotent); their tokens."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Organization, User
    from invitations.models import Invitation
    from invitations.tokens import hash_token

    organization = Organization.objects.get(slug=SLUG)
    tokens = []
    for n in range(count):
        token = f"bench-link-{n:04d}-{'x' * 32}"
        tokens.append(token)
        if Invitation.objects.filter(token_hash=hash_token(token)).exists():
            continue
        user = User.objects.create(
            organization=organization,
            email=f"link{n}@links.{SLUG}.example",
            first_name="Link",
            last_name=f"N{n}",
            status=User.Status.INVITED,
        )
        Invitation.objects.create(
            organization=organization,
            kind=Invitation.Kind.ACCOUNT,
            user=user,
            channel="email",
            address=user.email,
            token_hash=hash_token(token),
            expires_at=timezone.now() + timedelta(days=3650),
            delivery=Invitation.Delivery.SENT,
        )
    return tokens


def make_assessment_links(count: int = LINKS, places: int = 5000) -> list[str]:
    """Contacts of bench0 invited to a 10-question assessment open for years: `places` people, the
    first `count` of them with known links (idempotent); their tokens. The place is found among all
    of the assessment's, so there are many."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from accounts.models import Contact, Organization
    from assessments.models import Assignee
    from assessments.tests.factories import make_assignment, make_questionnaire
    from invitations.models import Invitation
    from invitations.tokens import hash_token, make_token

    organization = Organization.objects.get(slug=SLUG)
    tokens = [f"bench-assessment-{n:04d}-{'x' * 32}" for n in range(count)]
    if Invitation.objects.filter(token_hash=hash_token(tokens[-1])).exists():
        return tokens
    questionnaire = make_questionnaire(organization, title="Bench links", questions=10, time_limit_minutes=30)
    now = timezone.now()
    assignment, _ = make_assignment(
        questionnaire, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=3650)
    )
    run = int(now.timestamp())
    contacts = Contact.objects.bulk_create(
        Contact(organization=organization, email=f"taker{n}.{run}@links.{SLUG}.example", first_name="Taker",
                last_name=f"N{n}")
        for n in range(places)
    )  # fmt: skip
    Assignee.objects.bulk_create(
        Assignee(organization=organization, assignment=assignment, contact=contact, added_at=now)
        for contact in contacts
    )
    Invitation.objects.bulk_create(
        Invitation(
            organization=organization,
            kind=Invitation.Kind.ASSESSMENT,
            contact=contact,
            channel="email",
            address=contact.email,
            token_hash=hash_token(tokens[n] if n < count else make_token()),
            expires_at=assignment.closes_at,
            delivery=Invitation.Delivery.SENT,
            batch=assignment.batch,
        )
        for n, contact in enumerate(contacts)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # plans as in a database that has lived
    return tokens


def paths_of(kind: str) -> list[str]:
    return {
        "i": [f"/i/bench-link-{n:04d}-{'x' * 32}/" for n in range(LINKS)],
        "a": [f"/a/bench-assessment-{n:04d}-{'x' * 32}/" for n in range(LINKS)],
        "iu": [f"/i/unknown-{n:04d}-{'y' * 32}/" for n in range(LINKS)],
        "au": [f"/a/unknown-{n:04d}-{'y' * 32}/" for n in range(LINKS)],
    }[kind]


def server_env(*, database_url: str, cache_url: str, port: int) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "CACHE_", "CONN_"))}
    keep.pop("WEB_CONCURRENCY", None)
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "experquiz.settings.production",
        "DEBUG": "0",
        "HTTPS": "0",  # plain HTTP on loopback
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": ".localhost,localhost",
        "BASE_DOMAIN": f"localhost:{port}",
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "TOKEN_THROTTLE_PER_IP": "100000000",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


# --- The client (a process of its own per cell) ------------------------------------------------------
# Non-blocking sockets on one selector, no asyncio: the client shares the 2 cores with the server, so
# each request it sends must cost it as little CPU as possible (bench results show it: client CPU).

HEAD_END = b"\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)")


class _Connection:
    __slots__ = ("sock", "buffer", "started", "request", "connecting")


def _load(port: int, paths: list[str], connections: int, seconds: float, keep_alive: bool):
    header = "keep-alive" if keep_alive else "close"
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: {SLUG}.localhost\r\nConnection: {header}\r\n\r\n".encode() for path in paths
    ]
    selector = selectors.DefaultSelector()
    latencies, statuses, connects = [], {}, [0]
    clock = time.perf_counter

    def send(conn):
        conn.sock.send(requests[conn.request % len(requests)])  # a few dozen bytes: one send
        conn.buffer = b""

    def open_(conn, started):
        conn.sock = socket.socket()
        conn.sock.setblocking(False)
        conn.sock.connect_ex(("127.0.0.1", port))
        conn.connecting, conn.started = True, started
        connects[0] += 1
        selector.register(conn.sock, selectors.EVENT_WRITE, conn)

    def close(conn):
        selector.unregister(conn.sock)
        conn.sock.close()

    for n in range(connections):
        conn = _Connection()
        conn.request = n
        open_(conn, clock())
    deadline = clock() + seconds
    began = clock()
    while clock() < deadline:
        for key, _events in selector.select(timeout=0.5):
            conn = key.data
            if conn.connecting:
                conn.connecting = False
                selector.modify(conn.sock, selectors.EVENT_READ, conn)
                send(conn)
                continue
            try:
                data = conn.sock.recv(262144)
            except ConnectionError:
                data = b""
            if not data:  # closed before a whole answer (an idle keep-alive connection): open another
                close(conn)
                open_(conn, clock())
                continue
            conn.buffer += data
            end = conn.buffer.find(HEAD_END)
            if end < 0:
                continue
            head = conn.buffer[:end].lower()
            length = CONTENT_LENGTH.search(head)
            length = int(length.group(1)) if length else 0
            if len(conn.buffer) < end + 4 + length:
                continue
            now = clock()
            latencies.append(now - conn.started)
            status = int(conn.buffer[9:12])
            statuses[status] = statuses.get(status, 0) + 1
            conn.request += connections
            if keep_alive and b"connection: close" not in head:
                conn.started = now
                send(conn)
            else:
                close(conn)
                open_(conn, now)
    elapsed = clock() - began
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    return latencies, statuses, elapsed, connects[0]


def load_cell(args) -> None:
    """Child process: one cell's load; its results printed as one line of Python literals."""
    port, connections, seconds, keep_alive, kind = int(args[0]), int(args[1]), float(args[2]), args[3] == "1", args[4]
    cpu = time.process_time()
    latencies, statuses, elapsed, connects = _load(port, paths_of(kind), connections, seconds, keep_alive)
    print(repr((latencies, statuses, elapsed, connects, time.process_time() - cpu)))


# --- CPU of the server's processes --------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
            except OSError:
                pass
    return children


def _database_backends(database_url: str, application_name: str) -> list[int]:
    """The PostgreSQL backends serving one server's workers (their connections carry its name)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            [application_name],
        ).fetchall()
    return [pid for (pid,) in rows]


def _cpu_spent(before: dict, after: dict) -> float:
    """CPU seconds the processes spent between two readings ({pid: seconds}), those alive at both."""
    return sum(after[pid] - before[pid] for pid in before if pid in after and after[pid] >= before[pid])


class Server:
    """gunicorn serving one checkout on a free port."""

    def __init__(self, name, checkout: Path, *, database_url, cache_url, workers, extra_args, conn_max_age):
        self.name = name
        self.port = free_port()
        # The workers' database connections carry the server's name: their backends' CPU is counted.
        self.application_name = f"bench-tokens-{name}-{self.port}"
        separator = "&" if "?" in database_url else "?"
        database_url = f"{database_url}{separator}application_name={self.application_name}"
        env = server_env(database_url=database_url, cache_url=cache_url, port=self.port)
        if conn_max_age is not None:
            env["CONN_MAX_AGE"] = str(conn_max_age)
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=checkout, env=env, check=True)
        log_path = ROOT / "bench" / "results" / f"tokens-{name}.log"
        log_path.parent.mkdir(exist_ok=True)
        self.log = log_path.open("w")
        command = [PYTHON, "-m", "gunicorn", "experquiz.wsgi", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(workers), "--error-logfile", "-",
                   "--log-level", "warning", *extra_args]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=checkout, env=env, start_new_session=True, stdout=self.log, stderr=self.log
        )
        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn ({name}) did not start: see {log_path}") from None
                time.sleep(0.2)

    def workers_cpu(self) -> dict:
        return {pid: _cpu_seconds(pid) for pid in _children(self.process.pid)}

    def stop(self):
        os.killpg(self.process.pid, 15)
        self.process.wait(timeout=30)
        self.log.close()


def run_cell(server: Server, kind: str, *, connections, seconds, keep_alive, database_url):
    backends = _database_backends(database_url, server.application_name)
    before = server.workers_cpu(), {pid: _cpu_seconds(pid) for pid in backends}
    out = subprocess.run(
        [PYTHON, __file__, "--load-cell", str(server.port), str(connections), str(seconds),
         "1" if keep_alive else "0", kind],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    latencies, statuses, elapsed, connects, client_cpu = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    after = server.workers_cpu(), {pid: _cpu_seconds(pid) for pid in backends}
    return {
        "latencies": latencies,
        "statuses": statuses,
        "elapsed": elapsed,
        "connects": connects,
        "cpu_web": _cpu_spent(before[0], after[0]),
        # Without persistent connections each request has a backend of its own, gone before it is read.
        "cpu_db": _cpu_spent(before[1], after[1]) if backends else math.nan,
        "cpu_client": client_cpu,
    }


def measure(
    *,
    database_url,
    cache_url,
    workers=2,
    connections=8,
    rounds=4,
    seconds=5.0,
    kinds=("i", "a", "iu", "au"),
    keep_alive=(False, True),
    conn_max_age=None,
    against=None,
    gunicorn_args=(),
    quiet=False,
) -> dict:
    """{(server, kind, keep_alive): {"rps", "p50", "p95", "p99", "requests", "statuses", "cpu_*_ms"}}."""
    make_links()
    make_assessment_links()
    checkouts = {"this": ROOT, **({"against": Path(against).resolve()} if against else {})}
    servers = {}
    try:
        for name, checkout in checkouts.items():
            servers[name] = Server(
                name, checkout, database_url=database_url, cache_url=cache_url, workers=workers,
                extra_args=gunicorn_args, conn_max_age=conn_max_age,
            )  # fmt: skip
        cells = [(name, kind, keep) for kind in kinds for keep in keep_alive for name in servers]
        for server in servers.values():  # warm every worker up (imports, templates, connections)
            for kind in kinds:
                for _ in range(10):
                    warm = run_cell(
                        server, kind, connections=4, seconds=2.0, keep_alive=False, database_url=database_url
                    )
                    if len(warm["latencies"]) >= 50:
                        break
        results = {cell: [] for cell in cells}
        for round_ in range(rounds):
            shift = round_ % len(cells)
            for cell in cells[shift:] + cells[:shift]:
                name, kind, keep = cell
                sample = run_cell(
                    servers[name], kind, connections=connections, seconds=seconds, keep_alive=keep,
                    database_url=database_url,
                )  # fmt: skip
                results[cell].append(sample)
                if not quiet:
                    n = len(sample["latencies"])
                    cpu = 1000 * sample["cpu_web"] / max(n, 1)
                    print(
                        f"  round {round_ + 1} {name:7} {kind:2} keep-alive {'on ' if keep else 'off'}"
                        f" {n / sample['elapsed']:6.1f} req/s, web CPU {cpu:.2f} ms/req",
                        flush=True,
                    )
    finally:
        for server in servers.values():
            server.stop()
    summary = {}
    for cell, samples in results.items():
        ms = [latency * 1000 for sample in samples for latency in sample["latencies"]]
        n = len(ms)
        statuses = {}
        for sample in samples:
            for status, count in sample["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        summary[cell] = {
            **stats_summary(ms),
            "requests": n,
            "rps": n / sum(sample["elapsed"] for sample in samples),
            "statuses": statuses,
            "connects": sum(sample["connects"] for sample in samples),
            "cpu_web_ms": 1000 * sum(sample["cpu_web"] for sample in samples) / max(n, 1),
            "cpu_db_ms": 1000 * sum(sample["cpu_db"] for sample in samples) / max(n, 1),
            "cpu_client_ms": 1000 * sum(sample["cpu_client"] for sample in samples) / max(n, 1),
        }
    return summary


def table(summary: dict, *, workers: int, connections: int) -> str:
    lines = [
        f"Link pages on gunicorn ({workers} workers, {connections} connections); latency in ms, CPU in ms per request",
        "| page | server | keep-alive | req/s | p50 | p95 | p99 | web CPU | DB CPU | client CPU | requests | statuses"
        " |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for (name, kind, keep), cell in summary.items():
        lines.append(
            f"| {KINDS[kind]} | {name} | {'on' if keep else 'off'} | {cell['rps']:.0f} | {cell['p50']:.1f}"
            f" | {cell['p95']:.1f} | {cell['p99']:.1f} | {cell['cpu_web_ms']:.2f} | {cell['cpu_db_ms']:.2f}"
            f" | {cell['cpu_client_ms']:.2f} | {cell['requests']} | {cell['statuses']} |"
        )
    return "\n".join(lines)


def main():
    if sys.argv[1:2] == ["--load-cell"]:
        load_cell(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--kinds", default="i,a,iu,au", help="i, a (valid links), iu, au (unknown ones)")
    parser.add_argument("--keep-alive", choices=["both", "on", "off"], default="both")
    parser.add_argument("--against", help="another checkout, served and measured alongside, interleaved")
    parser.add_argument("--gunicorn-args", default="", help="more gunicorn options, e.g. '--worker-class sync'")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="the cache (a Redis database of its own)")
    parser.add_argument("--conn-max-age", type=int, default=None, help="override CONN_MAX_AGE (default: the settings')")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/experquiz_people_bench")
    os.environ["DATABASE_URL"] = database_url
    keep_alive = {"both": (False, True), "on": (True,), "off": (False,)}[args.keep_alive]
    summary = measure(
        database_url=database_url,
        cache_url=args.redis,
        workers=args.workers,
        connections=args.connections,
        rounds=args.rounds,
        seconds=args.seconds,
        kinds=args.kinds.split(","),
        keep_alive=keep_alive,
        conn_max_age=args.conn_max_age,
        against=args.against,
        gunicorn_args=shlex.split(args.gunicorn_args),
    )
    print()
    print(table(summary, workers=args.workers, connections=args.connections))


if __name__ == "__main__":
    main()
