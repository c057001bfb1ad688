"""`/users/` against Django's admin changelist and against the raw SQL of its own queries, interleaved.

Imported by `bench/run.py measure` once Django is set up on the benchmark database. For every
scenario (a filter, or several; deep pages typed or reached by the Next link; bench/side.py) and page
size (25 and 200 rows), three cells are timed:

- ours: `/users/` through Django's test client (the whole request: middleware, queries, template);
- admin: the stock changelist `/admin/accounts/user/` on the bare domain with the same organisation,
  filters, sort and page, its `list_per_page` set to the same page size, served and timed by a
  process of its own (bench.side.Side with `admin`), as each site is served by its own processes;
- raw SQL: the queries our request sent (captured once, exactly as sent), replayed one after the
  other on a psycopg connection of their own, fetching every row;
- floor: `/bench/floor/` (bench/urls.py), an empty admin page on the same stack (middleware, reads of
  the organisation, session and person, the right checked, the base layout), timed as ours: what any
  admin page costs here before its own work, to read the list's ratio to its raw SQL against;

and one more per extra side (`sides`, bench.side.Side): the same scenario in another process, on
another database (1,000,000 users) or with another checkout's code (the release before).

Every round visits every cell once, in turn (ours, admin, raw, the sides, the next scenario…), the
side that goes first rotating, so a change in the machine's load touches all of them alike;
`--samples` rounds (20 at least). Percentiles are the nearest-rank ones over all samples
(bench.stats). Query counts are taken with the tab counts cached and with the cache emptied.
"""

import gc
import os
import re
import time
from pathlib import Path

import psycopg
from django.db import connection
from django.test import Client

from accounts.models import Organization, User
from bench.side import ADMIN_EMAIL, Side, prepare
from bench.stats import summary

ROOT = Path(__file__).resolve().parent.parent
FLOOR_URL = "/bench/floor/"


class Replay:
    """The SQL of one request, replayed on a connection of its own (autocommit, as Django runs).

    The reads our persistent connection prepared (experquiz.sql_rows: `EXECUTE name(…)`, several in
    one string at times) are prepared on the replay's connection first, untimed, as ours were; the
    texts are sent as ours sent them (client-side binding: several statements in one string), every
    result fetched."""

    def __init__(self, statements):
        settings = connection.settings_dict
        self.conn = psycopg.connect(
            dbname=settings["NAME"],
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
            user=settings["USER"] or None,
            password=settings["PASSWORD"] or None,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        )
        self.statements = statements
        names = sorted({name for sql in statements for name in re.findall(r"EXECUTE (\w+)", sql)})
        if names:
            with connection.cursor() as cursor:
                cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = ANY(%s)", [names])
                prepares = [statement for (statement,) in cursor.fetchall()]
            assert len(prepares) == len(names), f"not prepared on our connection: {names}"
            with self.conn.cursor() as cursor:
                for prepare in prepares:
                    cursor.execute(prepare)

    def run(self):
        with self.conn.cursor() as cursor:
            for sql in self.statements:
                cursor.execute(sql.encode())
                while True:
                    if cursor.description:
                        cursor.fetchall()
                    if not cursor.nextset():
                        break

    def close(self):
        self.conn.close()


def timed_ms(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def measure(samples: int = 20, sides=(), scenarios: str = ""):
    """Run the interleaved rounds; print the table; return the cells for the goal table. `scenarios`:
    a regular expression; only the scenarios whose name it finds are timed (trial runs)."""
    org = Organization.objects.get(slug="bench0")
    ours = Client(HTTP_HOST=f"{org.slug}.localhost")
    ours.force_login(User.objects.get(organization=org, email=ADMIN_EMAIL))
    # The admin in a process of its own, as each would be served: a garbage collection falls on the
    # requests of the process whose objects it collects (in one process, the admin's garbage, about
    # 8,000 objects between two full collections, was collected inside our requests: 4–5 ms each).
    admin_side = Side("admin", os.environ["DATABASE_URL"], str(ROOT), admin=True)
    try:
        return _measure(samples, sides, scenarios, org, ours, admin_side)
    finally:
        admin_side.close()


def _measure(samples, sides, scenarios, org, ours, admin_side):
    cells = prepare(ours, org)
    for index, cell in enumerate(cells):
        cell["index"] = index  # its number on the other sides
        theirs = admin_side.cells[index]
        assert (theirs["scenario"], theirs["size"], theirs["admin_url"]) == (
            cell["scenario"],
            cell["size"],
            cell["admin_url"],
        ), theirs
        cell["admin_rows"] = theirs["admin_rows"]  # the admin's page shows as many rows as ours
        for side in sides:
            theirs = side.cells[index]
            assert (theirs["scenario"], theirs["size"]) == (cell["scenario"], cell["size"]), side.name
            cell[side.name] = []
            cell[f"{side.name}_info"] = theirs
    cells = [cell for cell in cells if re.search(scenarios, cell["scenario"])]
    for cell in cells:
        cell.update(replay=Replay(cell.pop("statements")), ours=[], admin=[], raw=[], floor=[])

    assert ours.get(FLOOR_URL).status_code == 200
    for cell in cells:  # warm
        ours.get(cell["url"])
        cell["replay"].run()
    # What the set-up loaded (Django, the site, the cells) lives as long as the process: set aside
    # from the garbage collector, as a server process does once its application is loaded
    # (gunicorn.conf.py). A full collection otherwise walked it all, 70–110 ms, inside a timed request.
    gc.collect()
    gc.freeze()

    sides_text = "".join(f", {side.name}" for side in sides)
    print(f"{len(cells)} cells (ours, admin, raw{sides_text}), {samples} rounds", flush=True)
    for n in range(samples):
        for cell in cells:
            order = [
                ("ours", lambda cell=cell: timed_ms(lambda: ours.get(cell["url"]))),
                ("admin", lambda cell=cell: admin_side.get(cell["index"])),  # timed in its process
                ("raw", lambda cell=cell: timed_ms(cell["replay"].run)),
                ("floor", lambda: timed_ms(lambda: ours.get(FLOOR_URL))),
            ]
            # Each side leads in turn: none always runs right after another's work.
            for side, function in order[n % len(order) :] + order[: n % len(order)]:
                cell[side].append(function())
            for k in range(len(sides)):
                side = sides[(n + k) % len(sides)]
                cell[side.name].append(side.get(cell["index"]))
        print(f"  round {n + 1}/{samples} done", flush=True)
    for cell in cells:
        cell["replay"].close()
        for side in ("ours", "admin", "raw", "floor", *(side.name for side in sides)):
            cell[side] = summary(cell[side])
        cell["vs_admin_p50"] = cell["admin"]["p50"] / cell["ours"]["p50"]
        cell["vs_admin_p95"] = cell["admin"]["p95"] / cell["ours"]["p95"]
        cell["vs_raw_p95"] = cell["ours"]["p95"] / cell["raw"]["p95"]
        cell["floor_vs_raw_p95"] = cell["floor"]["p95"] / cell["raw"]["p95"]
        for side in sides:
            cell[f"{side.name}_p50"] = cell[side.name]["p50"] / cell["ours"]["p50"]
            cell[f"{side.name}_p95"] = cell[side.name]["p95"] / cell["ours"]["p95"]
    print_cells(cells, samples)
    if sides:
        print_sides(cells, samples, sides)
    return cells


def print_cells(cells, samples):
    print(
        f"\n/users/ at 100,000 users vs the admin changelist vs the raw SQL of its own queries; "
        f"{samples} interleaved samples per cell; ms (p50 / p95 / p99, nearest rank); floor: an empty "
        f"admin page on the same stack ({FLOOR_URL}), timed beside each cell"
    )
    header = (
        f"{'scenario':34} {'rows':>4} {'q c/u':>5} | {'ours p50':>8} {'p95':>6} {'p99':>6} | "
        f"{'admin p50':>9} {'p95':>6} | {'raw p50':>7} {'p95':>5} | {'×adm p50':>8} {'×adm p95':>8} {'/raw p95':>8} | "
        f"{'floor p95':>9} {'/raw':>5}"
    )
    print(header)
    print("-" * len(header))
    for cell in cells:
        o, a, r, f = cell["ours"], cell["admin"], cell["raw"], cell["floor"]
        print(
            f"{cell['scenario'][:28] + ' /' + str(cell['size']):34} {cell['rows']:>4} "
            f"{cell['queries_cached']:>2}/{cell['queries_uncached']:<2} | "
            f"{o['p50']:8.1f} {o['p95']:6.1f} {o['p99']:6.1f} | {a['p50']:9.1f} {a['p95']:6.1f} | "
            f"{r['p50']:7.1f} {r['p95']:5.1f} | {cell['vs_admin_p50']:8.1f} {cell['vs_admin_p95']:8.1f} "
            f"{cell['vs_raw_p95']:8.2f} | {f['p95']:9.1f} {cell['floor_vs_raw_p95']:5.2f}"
        )
        if cell["rows"] != cell["admin_rows"]:
            print(f"   (the admin's page shows {cell['admin_rows']} rows)")


def print_sides(cells, samples, sides):
    """Each extra side beside ours: its p50 and p95, and their ratios to ours (side / ours)."""
    print(f"\n/users/, this process (ours) beside the other sides; {samples} interleaved samples per cell; ms")
    header = f"{'scenario':34} {'ours q':>6} {'p50':>7} {'p95':>7}"
    for side in sides:
        header += f" | {side.name + ' q':>8} {'p50':>7} {'p95':>7} {'/ours p50':>9} {'p95':>5}"
    print(header)
    print("-" * len(header))
    for cell in cells:
        line = (
            f"{cell['scenario'][:28] + ' /' + str(cell['size']):34} "
            f"{cell['queries_cached']:>2}/{cell['queries_uncached']:<3} "
            f"{cell['ours']['p50']:7.1f} {cell['ours']['p95']:7.1f}"
        )
        for side in sides:
            info, times = cell[f"{side.name}_info"], cell[side.name]
            line += (
                f" | {info['queries_cached']:>4}/{info['queries_uncached']:<3} {times['p50']:7.1f} {times['p95']:7.1f}"
                f" {cell[side.name + '_p50']:9.2f} {cell[side.name + '_p95']:5.2f}"
            )
        print(line)
