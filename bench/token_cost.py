"""What one GET of a link page costs the web process: CPU time or instructions, in-process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_people_bench .venv/bin/python bench/token_cost.py \\
        [--kinds i,a,iu,au] [--requests 1000] [--samples 5] [--callgrind] [--profile KIND] [--against DIR]

Each cell runs in a process of its own, with `experquiz.settings.production` (plain HTTP, the cache in
`--redis`, logs to /dev/null) and the whole WSGI stack (every middleware, the view, the template),
on the links `bench/tokens.py` seeds in `bench0`: `i` valid account links, `a` valid assessment links,
`iu` and `au` unknown ones (404). After 50 requests of warm-up it times `--requests` more:

- by default, the process's CPU time per request (`time.process_time`), `--samples` times per cell,
  interleaved (every cell once, then again…), median and range, and apart the CPU the database
  server's backend spent on the same requests (from /proc); Redis's is not counted;
- with `--callgrind`, the instructions per request under valgrind's callgrind (the measured requests
  only, cut out with `--dump-before`): the same on a busy machine as on an idle one, so it compares
  code when the machine is shared. One sample per cell; slow (about a minute a cell);
- with `--profile KIND`, cProfile of those requests (the top functions by own and cumulative time).

`--against DIR` measures the code checked out in DIR too (the same database and links), alternating
with this checkout sample by sample: before/after figures measured side by side.
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = {
    "i": "/i/<token>/ valid",
    "a": "/a/<token>/ valid",
    "iu": "/i/<token>/ unknown",
    "au": "/a/<token>/ unknown",
}
WARMUP = 50


def child_env(database_url: str, cache_url: str) -> dict:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "CACHE_", "CONN_"))}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "experquiz.settings.production",
        "DEBUG": "0",
        "HTTPS": "0",
        "SECRET_KEY": "bench-" + "k" * 50,
        "ALLOWED_HOSTS": ".localhost,localhost",
        "BASE_DOMAIN": "localhost:8000",
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "TOKEN_THROTTLE_PER_IP": "100000000",
        "LOG_LEVEL": "WARNING",
    }


def paths_of(kind: str) -> list[str]:
    return {
        "i": [f"/i/bench-link-{n:04d}-{'x' * 32}/" for n in range(200)],
        "a": [f"/a/bench-assessment-{n:04d}-{'x' * 32}/" for n in range(200)],
        "iu": [f"/i/unknown-{n:04d}-{'y' * 32}/" for n in range(200)],
        "au": [f"/a/unknown-{n:04d}-{'y' * 32}/" for n in range(200)],
    }[kind]


def child(kind: str, requests: int, mode: str) -> None:
    """In the checkout given as the working directory: time `requests` GETs of `kind`."""
    sys.path.insert(0, os.getcwd())
    from experquiz.wsgi import application

    paths = paths_of(kind)
    statuses = {}

    def one(n):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": paths[n % len(paths)],
            "QUERY_STRING": "",
            "SERVER_NAME": "bench0.localhost",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "bench0.localhost:8000",
            "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9",
            "HTTP_USER_AGENT": "Mozilla/5.0 (bench)",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        status = []
        body = application(environ, lambda s, headers, exc_info=None: status.append(s))
        b"".join(body)
        body.close()
        statuses[status[0]] = statuses.get(status[0], 0) + 1

    for n in range(WARMUP):
        one(n)
    if mode == "profile":
        import cProfile
        import pstats

        profile = cProfile.Profile(time.process_time)  # CPU time, not waits
        profile.enable()
        for n in range(requests):
            one(n)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
        print(out.getvalue().replace(os.getcwd() + "/", "").replace(sys.prefix + "/lib/", ""))
        return
    from django.db import connection

    backend = connection.connection.info.backend_pid  # the persistent connection the requests use
    os.getppid()  # callgrind --dump-before=getppid: what follows is the measured part
    cpu, wall, db = time.process_time(), time.perf_counter(), _cpu_seconds(backend)
    for n in range(requests):
        one(n)
    cpu, wall, db = time.process_time() - cpu, time.perf_counter() - wall, _cpu_seconds(backend) - db
    os.getppid()
    print(repr({
        "cpu_ms": 1000 * cpu / requests, "wall_ms": 1000 * wall / requests, "db_ms": 1000 * db / requests,
        "statuses": statuses,
    }))  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cell(checkout: Path, kind: str, requests: int, *, env: dict, callgrind: bool = False) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(requests), "time"]
    if not callgrind:
        out = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        import ast

        return ast.literal_eval(out.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={prefix}"]
        out = subprocess.run(valgrind + command, cwd=checkout, env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        # Dumps: .1 before the first marker (start-up, warm-up), .2 the measured requests, then the rest.
        totals = {}
        for dump in Path(tmp).glob("callgrind.out.*"):
            for line in dump.read_text().splitlines():
                if line.startswith("totals:"):
                    totals[int(dump.suffix[1:])] = int(line.split()[1])
        return {"instructions": totals[2] / requests}


def main():
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="i,a,iu,au")
    parser.add_argument("--requests", type=int, help="measured requests per cell (1000; 100 under callgrind)")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--profile", choices=list(KINDS))
    parser.add_argument("--against", type=Path, help="another checkout, measured alternately")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="the cache (a Redis database of its own)")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/experquiz_people_bench")
    os.environ["DATABASE_URL"] = database_url
    sys.path.insert(0, str(ROOT))
    from bench.tokens import make_assessment_links, make_links

    make_links()
    make_assessment_links()
    env = child_env(database_url, args.redis)
    checkouts = {"this": ROOT}
    if args.against:
        checkouts["against"] = args.against.resolve()
    for checkout in checkouts.values():
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=checkout, env=env, check=True
        )
    env["PYTHONPATH"] = ""  # each child imports the code of its own working directory
    if args.profile:
        for name, checkout in checkouts.items():
            requests = args.requests or 1000
            command = [sys.executable, str(Path(__file__).resolve()), "--child", args.profile, str(requests), "profile"]
            print(f"== {name} ({checkout}): {KINDS[args.profile]}, {requests} requests")
            out = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, check=True)
            print(out.stdout)
        return
    kinds = args.kinds.split(",")
    requests = args.requests or (100 if args.callgrind else 1000)
    samples = 1 if args.callgrind else args.samples
    results = {(name, kind): [] for name in checkouts for kind in kinds}
    for sample in range(samples):
        order = list(checkouts.items())
        if sample % 2:
            order.reverse()
        for kind in kinds:
            for name, checkout in order:
                cell = run_cell(checkout, kind, requests, env=env, callgrind=args.callgrind)
                results[name, kind].append(cell)
                print(f"  sample {sample + 1} {name:7} {kind:2} {cell}", flush=True)
    unit = (
        "instructions per request (millions)"
        if args.callgrind
        else "CPU ms per request, median (min-max); DB: PostgreSQL's CPU for the same requests, median"
    )
    print(f"\n{unit}; {requests} requests per cell after {WARMUP} of warm-up, {samples} sample(s)")
    print("| page | " + " | ".join(checkouts) + (" | this / against |" if args.against else " |"))
    print("|---" * (len(checkouts) + 1 + bool(args.against)) + "|")
    for kind in kinds:
        row, medians = [], []
        for name in checkouts:
            cells = results[name, kind]
            if args.callgrind:
                value = cells[0]["instructions"] / 1e6
                row.append(f"{value:.2f}")
            else:
                values = [cell["cpu_ms"] for cell in cells]
                value = statistics.median(values)
                db = statistics.median(cell["db_ms"] for cell in cells)
                row.append(f"{value:.2f} ({min(values):.2f}-{max(values):.2f}); DB {db:.2f}")
            medians.append(value)
        ratio = f" | {medians[0] / medians[1]:.2f}" if args.against else ""
        print(f"| {KINDS[kind]} | " + " | ".join(row) + ratio + " |")


if __name__ == "__main__":
    main()
