"""Every benchmark of issue 12 in one run, then its goal table with the measured values and pass/fail.

    .venv/bin/python bench/goals.py [--samples 20] [--only people,links,...] [--skip-1m] …   (`make bench`)

The pieces run one after the other, each in a process of its own (they need different settings:
the people pages run with bench/settings.py, the delivery with the production settings and real
workers), each printing as it goes and writing its figures as JSON, which this script reads:

- data: `run.py generate` on the 100,000-user database, and `--users 1000000` on the
  1,000,000-user one (made once, ~9 min and 1.2 GB, then reused; `--skip-1m`: not at all);
- people: `run.py measure`, `/users/` vs the admin changelist vs the raw SQL replay, and the
  1,000,000-user side, every cell in turn, `--samples` rounds;
- links: `run.py tokens`, `/i/<token>/` and `/a/<token>/` on gunicorn, valid and unknown links,
  keep-alive off and on, 5-second cells in turn, `--samples / 5` rounds;
- plans: `run.py explain`, the plans of the list's queries (printed; no goal);
- invitations: `invitations.py`, rounds of packets / naive / raw sink (in turn within a round),
  then the request alone for 10,000 people, `--requests` times;
- imports: `imports.py`, `importusers` (new people, then the same people updated) and the web pages
  alternating, 10,000 rows, each sample in a process of its own; 100,000 rows through the import job;
- results: `results.py`, the results pages (printed; no goal of issue 12).

A piece that crashes (exit status not 0) is reported and the others still run; the script then
exits with status 1. A goal not met is a FAIL row in the table, not an error. The table is printed
and written to bench/results/goals.md and goals.json (not committed), with the run's date, commit,
load averages and the duration of each piece.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PIECES = ("data", "people", "links", "plans", "invitations", "imports", "results")
KINDS = {"i": "/i/<token>/", "a": "/a/<token>/"}


# The rows of the goal table. Each is a dict: goal, target, measured, status ("pass", "FAIL", or why
# it has no figure: "crashed", "skipped (…)", "not run").


def row(goal, target, measured="", ok=None, missing=""):
    status = missing or ("pass" if ok else "FAIL")
    return {"goal": goal, "target": target, "measured": measured, "status": status}


def _cell_name(cell):
    return f"{cell['scenario']} /{cell['size']}"


def web_rows(figures, missing="", links_missing="") -> list[dict]:
    """The rows of the web pages from `run.py --json`'s figures ({"cells", "links", "growth"}); a
    missing part gives its rows with `missing` (`links_missing` for the links; "not run" by default)
    as their status."""
    rows = []
    cells, links, growth = figures.get("cells"), figures.get("links"), figures.get("growth")
    goal_admin = "`/users/` at 100,000 users vs Django's admin changelist, p50 and p95 ratios, worst cell"
    goal_raw = "`/users/` p95 vs the p95 of its own SQL replayed with psycopg, worst cell"
    goal_queries = "queries per `/users/` page, counts cached or not"
    goal_growth = "`/users/` at 1,000,000 users vs 100,000 (side / ours), p50 and p95, worst cell"
    if cells:
        per_size = []
        for size in sorted({cell["size"] for cell in cells}):
            sized = [cell for cell in cells if cell["size"] == size]
            p50 = min(sized, key=lambda c: c["vs_admin_p50"])
            p95 = min(sized, key=lambda c: c["vs_admin_p95"])
            per_size.append(
                f"{size} rows: p50 {p50['vs_admin_p50']:.1f}× ({p50['scenario']}), "
                f"p95 {p95['vs_admin_p95']:.1f}× ({p95['scenario']})"
            )
        worst = min(min(c["vs_admin_p50"], c["vs_admin_p95"]) for c in cells)
        rows.append(row(goal_admin, "≥ 5× in every scenario", "; ".join(per_size), worst >= 5))
        worst = max(cells, key=lambda c: c["vs_raw_p95"])
        measured = (
            f"{worst['vs_raw_p95']:.2f}× ({_cell_name(worst)}: {worst['ours']['p95']:.1f} vs "
            f"{worst['raw']['p95']:.1f} ms); best {min(c['vs_raw_p95'] for c in cells):.2f}×"
        )
        if "floor" in worst:  # an empty admin page on the same stack, timed beside each cell
            measured += (
                f"; an empty admin page (bench/urls.py), timed beside that cell: {worst['floor']['p95']:.1f} ms "
                f"p95, {worst['floor_vs_raw_p95']:.2f}× that cell's SQL"
            )
        rows.append(row(goal_raw, "≤ 2×", measured, worst["vs_raw_p95"] <= 2))
        cached = max(c["queries_cached"] for c in cells)
        uncached = max(c["queries_uncached"] for c in cells)
        rows.append(
            row(goal_queries, "≤ 8", f"at most {cached} cached, {uncached} uncached", max(cached, uncached) <= 8)
        )
        if growth:
            p50 = max(cells, key=lambda c: c[f"{growth}_p50"])
            p95 = max(cells, key=lambda c: c[f"{growth}_p95"])
            rows.append(
                row(
                    goal_growth,
                    "≤ 2×",
                    f"p50 {p50[growth + '_p50']:.2f}× ({_cell_name(p50)}: {p50[growth]['p50']:.1f} vs "
                    f"{p50['ours']['p50']:.1f} ms), p95 {p95[growth + '_p95']:.2f}× ({_cell_name(p95)}: "
                    f"{p95[growth]['p95']:.1f} vs {p95['ours']['p95']:.1f} ms)",
                    max(p50[f"{growth}_p50"], p95[f"{growth}_p95"]) <= 2,
                )
            )
    else:
        for goal, target in ((goal_admin, "≥ 5× in every scenario"), (goal_raw, "≤ 2×"), (goal_queries, "≤ 8")):
            rows.append(row(goal, target, missing=missing or "not run"))
    if not (cells and growth):
        rows.append(row(goal_growth, "≤ 2×", missing=figures.get("growth_missing") or missing or "not run"))
    rows.extend(link_rows(links, links_missing or missing))
    return rows


def link_rows(links, missing="") -> list[dict]:
    """One row per page and kind of link: keep-alive off and on must both meet the goal."""
    target = "≥ 500 req/s, p99 ≤ 50 ms"
    rows = []
    for kind, page in KINDS.items():
        for unknown, label in ((False, "valid links"), (True, "unknown links (404)")):
            goal = f"`{page}` GET, {label}, 2 gunicorn workers"
            wanted = kind + ("u" if unknown else "")
            cells = [cell for cell in links or [] if cell["kind"] == wanted and cell["server"] == "this"]
            if not cells:
                rows.append(row(goal, target, missing=missing or "not run"))
                continue
            cells.sort(key=lambda cell: cell["keep_alive"])
            measured = "; ".join(
                f"keep-alive {'on' if cell['keep_alive'] else 'off'}: {cell['rps']:.0f} req/s, p99 {cell['p99']:.1f} ms"
                f" ({cell['requests']} requests)"
                for cell in cells
            )
            rows.append(row(goal, target, measured, all(c["rps"] >= 500 and c["p99"] <= 50 for c in cells)))
    return rows


def samples(n) -> str:
    return f"{n} sample{'' if n == 1 else 's'}"


def rate(value) -> str:
    return "–" if value is None else f"{value:.0f}"


def invitation_rows(figures, missing="") -> list[dict]:
    """The request alone, the delivery against the raw sink and against the naive design."""
    goal_request = "inviting 10,000 people: the administrator's request (p50 / p95)"
    goal_raw = "delivery, 2 workers, vs the SMTP sink's raw single-connection rate (median over rounds)"
    goal_naive = "packets vs the naive design (a task and a connection per message; median over rounds)"
    if not figures:
        targets = ((goal_request, "≤ 1 s"), (goal_raw, "≥ 50 %"), (goal_naive, "≥ 5×"))
        return [row(goal, target, missing=missing or "not run") for goal, target in targets]
    rows = []
    request = figures.get("request")
    goal_request = goal_request.replace("10,000", f"{figures['request_count']:,}")
    if request:
        rows.append(
            row(
                goal_request,
                "≤ 1 s",
                f"{request['p50']:.3f} s / {request['p95']:.3f} s ({samples(request['n'])})",
                request["p95"] <= 1,
            )
        )
    else:
        rows.append(row(goal_request, "≤ 1 s", missing="not run"))
    medians, rounds = figures.get("medians", {}), len(figures.get("per_round", []))
    undelivered = figures.get("undelivered")
    how = f"{rounds} rounds of {figures['count']:,} invitations, {figures['workers']} workers"
    if undelivered:
        how += f"; {len(undelivered)} round(s) did not deliver every message or record it as sent"
    steady = figures.get("medians_first_to_last", {}).get("packets")
    ratio = figures["goals"].get("packets_vs_raw")
    if ratio is not None:
        measured = (
            f"{ratio:.0%} (median msg/s: packets {rate(medians.get('packets'))} from the request to the last"
            f" message, {rate(steady)} from the first to the last; raw {rate(medians.get('raw'))}; {how})"
        )
        rows.append(row(goal_raw, "≥ 50 %", measured, ratio >= 0.5 and not undelivered))
    else:
        rows.append(row(goal_raw, "≥ 50 %", missing="not run"))
    ratio = figures["goals"].get("packets_vs_naive")
    if ratio is not None:
        measured = (
            f"{ratio:.1f}× (median msg/s: packets {rate(medians.get('packets'))}, naive "
            f"{rate(medians.get('naive'))}; {how})"
        )
        rows.append(row(goal_naive, "≥ 5×", measured, ratio >= 5 and not undelivered))
    else:
        rows.append(row(goal_naive, "≥ 5×", missing="not run"))
    return rows


def import_rows(figures, missing="", big_missing="") -> list[dict]:
    """10,000 rows by `importusers` (new people, and the same people updated) and by the web pages;
    100,000 rows in the import job."""
    goal_small = "import of 10,000 rows, end to end (median, p95)"
    goal_big = "import of 100,000 rows in one file, in a task with progress"
    if not figures:
        return [
            row(goal_small, "≤ 10 s (median)", missing=missing or "not run"),
            row(goal_big, "works, peak RSS ≤ 300 MB", missing=missing or "not run"),
        ]
    cells = figures["cells"]
    parts, ok = [], True
    kinds = (
        ("cli", "`importusers`"),
        ("update", "`importusers` updating the 10,000 people it made"),
        ("web", "web: check, preview, confirm"),
        ("web-update", "web, updating the 10,000 people it made"),
    )
    for kind, label in kinds:
        cell = cells.get(f"{kind}/ours")
        if not cell:
            continue
        if not cell["total_s"]:
            parts.append(f"{label}: no sample done")
            ok = False
            continue
        total = cell["total_s"]
        parts.append(f"{label}: {total['p50']:.1f} s, {total['p95']:.1f} s ({samples(total['n'])})")
        ok = ok and total["p50"] <= 10
    rows = [row(goal_small, "≤ 10 s (median)", "; ".join(parts), ok and bool(parts), "" if parts else "not run")]
    big = cells.get("big/ours")
    if not big:
        rows.append(row(goal_big, "works, peak RSS ≤ 300 MB", missing=big_missing or "not run"))
    elif big["refused"]:
        rows.append(row(goal_big, "works, peak RSS ≤ 300 MB", "refused (over the row limit)", False))
    elif not big["total_s"]:
        rows.append(row(goal_big, "works, peak RSS ≤ 300 MB", "no sample done", False))
    else:
        measured = (
            f"works: {big['total_s']['p50']:.0f} s (check {big['check_s']:.0f} s), peak RSS {big['peak_rss_mb']} MB"
            f" ({samples(big['total_s']['n'])})"
        )
        if big.get("progress"):
            done, total = big["progress"]
            measured += f"; the job's progress counter at the end: {done:,} of {total:,}"
        rows.append(row(goal_big, "works, peak RSS ≤ 300 MB", measured, big["peak_rss_mb"] <= 300))
    return rows


def print_table(rows, out=sys.stdout):
    print("| goal | target | measured | |", file=out)
    print("|---|---|---|---|", file=out)
    for r in rows:
        print(f"| {r['goal']} | {r['target']} | {r['measured']} | {r['status']} |", file=out)


# Running the pieces.


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


class Run:
    def __init__(self, only):
        self.only = only
        self.log = []  # (piece, seconds, exit status, load averages before and after)
        self.crashed = []
        self.figures = {}  # piece: its figures, as its script wrote them
        self.figures_dir = Path(tempfile.mkdtemp(prefix="bench-goals-"))

    def wanted(self, piece):
        return piece in self.only

    def missing(self, piece, data_ok=True) -> str:
        """Why a piece's rows have no figure."""
        if not self.wanted(piece):
            return "not run"
        return "crashed" if data_ok else "not run: its data step crashed"

    def run(self, piece, title, command, env=None, figures=True) -> dict | None:
        """Run one command of a piece, streaming its output; return its figures (JSON), or None if it
        crashed (or wrote none)."""
        path = self.figures_dir / f"{piece}-{len(self.log)}.json"
        if figures:
            command = [*command, "--json", str(path)]
        before = load_average()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
        print(f"\n=== {title} (started {stamp} UTC, load average {before})", flush=True)
        print("    " + " ".join(command), flush=True)
        started = time.monotonic()
        status = subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}).returncode
        seconds = time.monotonic() - started
        self.log.append((title, seconds, status, before, load_average()))
        print(
            f"=== {title}: {'done' if status == 0 else f'CRASHED (exit status {status})'} in {seconds / 60:.1f} min",
            flush=True,
        )
        if status:
            self.crashed.append(title)
            return None
        if figures:
            self.figures[piece] = json.loads(path.read_text())
            path.unlink()
            return self.figures[piece]
        return {}


def main():  # noqa: C901 - one piece after the other
    args = parse_args()
    only = set(args.only.split(",")) if args.only else set(PIECES)
    unknown = only - set(PIECES)
    if unknown:
        sys.exit(f"unknown pieces: {', '.join(sorted(unknown))} (pieces: {', '.join(PIECES)})")
    run = Run(only)
    python = sys.executable
    started = time.monotonic()
    began = datetime.datetime.now(datetime.UTC)
    web = {"DATABASE_URL": args.database, "BENCH_REDIS_URL": args.redis}
    big = {"DATABASE_URL": args.database_1m, "BENCH_REDIS_URL": args.redis}
    with_1m = not args.skip_1m
    data_ok, data_1m_ok = True, with_1m
    if run.wanted("data"):
        data_ok = run.run("data", "data: 100,000 users", [python, "bench/run.py", "generate"], web, False) is not None
        if with_1m:
            data_1m_ok = (
                run.run(
                    "data",
                    "data: 1,000,000 users (made once: ~9 min and 1.2 GB the first time)",
                    [python, "bench/run.py", "generate", "--users", "1000000"],
                    big,
                    False,
                )
                is not None
            )
    rows = []
    people = links = None
    if run.wanted("people"):
        command = [python, "bench/run.py", "measure", "--samples", str(args.samples)]
        if with_1m and data_1m_ok:
            command += ["--side", f"1m={args.database_1m}", "--growth", "1m"]
        if args.scenarios:
            command += ["--scenarios", args.scenarios]
        if data_ok:
            title = "people: /users/ vs the admin vs the raw SQL" + (
                ", and at 1,000,000 users" if "--side" in command else ""
            )
            people = run.run("people", title, command, web)
    if run.wanted("links") and data_ok:
        links = run.run("links", "links: /i/ and /a/ on gunicorn", [python, "bench/run.py", "tokens",
                        "--samples", str(args.samples)], web)  # fmt: skip
    web_figures = {"cells": (people or {}).get("cells"), "growth": (people or {}).get("growth"),
                   "links": (links or {}).get("links")}  # fmt: skip
    if people is not None and not people.get("growth"):
        web_figures["growth_missing"] = "skipped (BENCH_1M=0)" if not with_1m else "crashed (1,000,000-user data)"
    rows += web_rows(web_figures, run.missing("people", data_ok), run.missing("links", data_ok))
    if run.wanted("plans") and data_ok:
        run.run("plans", "plans: EXPLAIN of the list's queries", [python, "bench/run.py", "explain"], web, False)
    invitations = None
    if run.wanted("invitations"):
        invitations = run.run(
            "invitations",
            f"invitations: {args.delivery_rounds} rounds of packets / naive / raw at {args.delivery_count:,}, "
            f"then the request alone for {args.request_count:,} people, {args.requests} times",
            [python, "bench/invitations.py", "--count", str(args.delivery_count), "--rounds",
             str(args.delivery_rounds), "--requests", str(args.requests), "--request-count", str(args.request_count),
             "--workers", "2", "--database", args.invitations_database, "--redis", args.invitations_redis],
        )  # fmt: skip
    rows += invitation_rows(invitations, run.missing("invitations"))
    imports = None
    if run.wanted("imports"):
        imports = run.run(
            "imports",
            f"imports: 10,000 rows by importusers (new people, then updates) and the web, alternating, "
            f"{samples(args.import_samples)} each; "
            f"100,000 rows: {samples(args.big_imports)}",
            [python, "bench/imports.py", "--samples", str(args.import_samples), "--big-samples",
             str(args.big_imports), "--kinds", "cli,update,web,web-update" + (",big" if args.big_imports else ""),
             "--existing", str(args.import_existing)],
            {"DATABASE_URL": args.imports_database},
        )  # fmt: skip
    rows += import_rows(imports, run.missing("imports"), "" if args.big_imports else "skipped (BENCH_BIG_IMPORTS=0)")
    if run.wanted("results"):
        run.run("results", "results pages (no goal of issue 12)", [python, "bench/results.py"],
                {"DATABASE_URL": args.results_database}, False)  # fmt: skip
    report(rows, run, began, time.monotonic() - started, args)
    run.figures_dir.rmdir()
    if run.crashed:
        sys.exit(f"\n{len(run.crashed)} piece(s) crashed: {'; '.join(run.crashed)}")


def commit() -> str:
    out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def report(rows, run, began, seconds, args):
    RESULTS.mkdir(exist_ok=True)
    counts = []
    if run.wanted("people"):
        counts.append(f"/users/ {args.samples} interleaved rounds per cell")
    if run.wanted("links"):
        counts.append(f"link pages {max(2, args.samples // 5)} rounds of 5 s per cell")
    if run.wanted("invitations"):
        counts.append(
            f"delivery {args.delivery_rounds} rounds of {args.delivery_count:,} invitations, the request alone "
            f"{args.requests} times for {args.request_count:,} people"
        )
    if run.wanted("imports"):
        counts.append(f"imports {args.import_samples} per 10,000-row kind, {args.big_imports} of 100,000 rows")
    header = (
        f"Issue 12's goals, one run of bench/goals.py: {began:%Y-%m-%d %H:%M} UTC, commit {commit()}, "
        f"{os.cpu_count()} cores, {seconds / 60:.0f} min. Samples: {'; '.join(counts) or 'none'}. "
        "Percentiles are nearest-rank."
    )
    pieces = ["| piece | minutes | exit status | load average before | after |", "|---|---:|---:|---|---|"]
    for title, took, status, before, after in run.log:
        pieces.append(f"| {title} | {took / 60:.1f} | {status} | {before} | {after} |")
    with open(RESULTS / "goals.md", "w") as out:
        print(header, file=out)
        print(file=out)
        print_table(rows, out)
        print(file=out)
        print("\n".join(pieces), file=out)
    (RESULTS / "goals.json").write_text(
        json.dumps(
            {"began": began.isoformat(), "commit": commit(), "args": vars(args), "rows": rows, "figures": run.figures,
             "pieces": [dict(zip(("piece", "seconds", "status", "load_before", "load_after"), p, strict=True))
                        for p in run.log]},
            indent=2,
        )
    )  # fmt: skip
    print("\n" + "\n".join(pieces))
    print(f"\n{header}\n")
    print_table(rows)
    met = sum(r["status"] == "pass" for r in rows)
    print(f"\n{met} of {len(rows)} goals met. Written to bench/results/goals.md and goals.json.")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--only", default="", help=f"a comma-separated subset of the pieces: {','.join(PIECES)}")
    add("--samples", type=int, default=20, help="/users/ rounds (20 at least); link pages: samples / 5 rounds")
    add("--scenarios", default="", help="only the /users/ scenarios whose name matches this expression (trials)")
    add("--database", default="postgres://postgres@127.0.0.1:5432/experquiz_people_bench", help="100,000 users")
    add("--database-1m", default="postgres://postgres@127.0.0.1:5432/experquiz_people_bench_1m")
    add("--skip-1m", action="store_true", help="no 1,000,000-user side: no growth row")
    add("--redis", default="redis://127.0.0.1:6379/9", help="the cache of the web pieces")
    add("--delivery-count", type=int, default=1000, help="invitations per delivery round")
    add("--delivery-rounds", type=int, default=20)
    add("--requests", type=int, default=20, help="samples of the invitation request alone")
    add("--request-count", type=int, default=10_000, help="people invited by the request alone")
    add("--invitations-database", default="postgres://postgres@127.0.0.1:5432/experquiz_bench",
        help="dropped and made again")  # fmt: skip
    add("--invitations-redis", default="redis://127.0.0.1:6379/6", help="the workers' broker")
    add("--import-samples", type=int, default=8, help="samples of each 10,000-row import")
    add("--big-imports", type=int, default=1, help="samples of the 100,000-row import (0: none)")
    add("--import-existing", type=int, default=100_000, help="people already in the importing organisation")
    add("--imports-database", default="postgres://postgres@127.0.0.1:5432/experquiz_import_bench")
    add("--results-database", default="postgres://postgres@127.0.0.1:5432/experquiz_results_bench")
    return parser.parse_args()


if __name__ == "__main__":
    main()
