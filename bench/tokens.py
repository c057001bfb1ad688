"""The invitation link page `/i/<token>/` under load: gunicorn with the production settings.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_people_bench .venv/bin/python bench/tokens.py

It adds invited people with known links to the people benchmark's organisation (`bench0`, made by
`bench/run.py generate`), starts gunicorn (`--workers`, default 2, sync workers) with
`experquiz.settings.production` and no tuning variable but the plain-HTTP ones, and sends GET
requests from `--connections` clients at once (a small asyncio client in another process: a new
connection per request, as gunicorn's sync workers close each one), for valid links and for unknown
ones, alternating `--rounds` rounds of `--seconds` each. It prints requests per second and the
latency percentiles (p50, p95, p99 over every request of a kind), and returns them to `make bench`.

Differences from production, on purpose: plain HTTP (`HTTPS=0`), the cache in the Redis given by
`--redis`, and for the unknown links the per-address limit of failed look-ups raised (`TOKEN_THROTTLE_PER_IP`),
or every request after the 60th would be a 429 page.
"""

import argparse
import asyncio
import os
import secrets
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


def server_env(*, database_url: str, cache_url: str, port: int) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "CACHE_", "CONN_"))}
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


async def _one(port: int, request: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = await reader.read()
    writer.close()
    status = int(data[9:12]) if data[:5] == b"HTTP/" else 0
    return time.perf_counter() - started, status


async def _load(port: int, paths: list[str], connections: int, seconds: float) -> tuple[list[float], dict, float]:
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: {SLUG}.localhost\r\nConnection: close\r\n\r\n".encode() for path in paths
    ]
    latencies, statuses = [], {}
    deadline = time.perf_counter() + seconds

    async def client(offset):
        n = offset
        while time.perf_counter() < deadline:
            latency, status = await _one(port, requests[n % len(requests)])
            latencies.append(latency)
            statuses[status] = statuses.get(status, 0) + 1
            n += connections

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(connections)))
    return latencies, statuses, time.perf_counter() - started


def load_round(args) -> None:
    """Child process: one round of load, its results printed as one line of Python literals."""
    port, connections, seconds, paths = int(args[0]), int(args[1]), float(args[2]), args[3:]
    latencies, statuses, elapsed = asyncio.run(_load(port, paths, connections, seconds))
    print(repr((latencies, statuses, elapsed)))


def measure(*, database_url, cache_url, workers=2, connections=8, rounds=4, seconds=5.0, conn_max_age=None) -> dict:
    """{kind: {"rps", "p50", "p95", "p99", "requests", "statuses"}} for valid and unknown links."""
    tokens = make_links()
    port = free_port()
    env = server_env(database_url=database_url, cache_url=cache_url, port=port)
    if conn_max_age is not None:
        env["CONN_MAX_AGE"] = str(conn_max_age)
    subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    # The server's log (a warning per unknown link, as in production) goes to a file, not the terminal.
    log_path = ROOT / "bench" / "results" / "tokens-gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    log = log_path.open("w")
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "experquiz.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--access-logfile", "/dev/null", "--error-logfile", "-", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log,
    )  # fmt: skip
    kinds = {
        "valid": [f"/i/{token}/" for token in tokens],
        "unknown": [f"/i/unknown-{n:04d}-{'y' * 32}/" for n in range(LINKS)],
    }
    results = {kind: {"latencies": [], "elapsed": 0.0, "statuses": {}} for kind in kinds}
    try:
        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        for paths in kinds.values():  # warm both workers up
            _round(port, 2, 1.0, paths)
        for _ in range(rounds):
            for kind, paths in kinds.items():  # interleaved: valid, unknown, valid, unknown…
                latencies, statuses, elapsed = _round(port, connections, seconds, paths)
                cell = results[kind]
                cell["latencies"] += latencies
                cell["elapsed"] += elapsed
                for status, n in statuses.items():
                    cell["statuses"][status] = cell["statuses"].get(status, 0) + n
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()
    summary = {}
    for kind, cell in results.items():
        ms = [latency * 1000 for latency in cell["latencies"]]
        summary[kind] = {
            **stats_summary(ms),
            "requests": len(ms),
            "rps": len(ms) / cell["elapsed"],
            "statuses": cell["statuses"],
        }
    return summary


def _round(port, connections, seconds, paths):
    import ast

    out = subprocess.run(
        [PYTHON, __file__, "--load-round", str(port), str(connections), str(seconds), *paths],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])


def main():
    if sys.argv[1:2] == ["--load-round"]:
        load_round(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="the cache (a Redis database of its own)")
    parser.add_argument("--conn-max-age", type=int, default=None, help="override CONN_MAX_AGE (default: the settings')")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/experquiz_people_bench")
    os.environ["DATABASE_URL"] = database_url
    summary = measure(
        database_url=database_url,
        cache_url=args.redis,
        workers=args.workers,
        connections=args.connections,
        rounds=args.rounds,
        seconds=args.seconds,
        conn_max_age=args.conn_max_age,
    )
    print(f"/i/<token>/ GET, {args.workers} gunicorn workers, {args.connections} connections; ms")
    for kind, cell in summary.items():
        print(
            f"{kind:8} {cell['requests']:6} requests {cell['rps']:7.1f} req/s  p50 {cell['p50']:6.1f}"
            f"  p95 {cell['p95']:6.1f}  p99 {cell['p99']:6.1f}  statuses {cell['statuses']}"
        )


if __name__ == "__main__":
    main()
