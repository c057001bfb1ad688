"""`/users/` against Django's admin changelist and against the raw SQL of its own queries, interleaved.

Imported by `bench/run.py measure` once Django is set up on the benchmark database. For every
scenario (a filter, or several) and page size (25 and 200 rows), three cells are timed:

- ours: `/users/` through Django's test client (the whole request: middleware, queries, template);
- admin: the stock changelist `/admin/accounts/user/` on the bare domain with the same organisation,
  filters, sort and page, its `list_per_page` set to the same page size (in this process only);
- raw SQL: the queries our request sent (captured once, exactly as sent), replayed one after the
  other on a psycopg connection of their own, fetching every row.

Every round visits every cell once, in turn (ours, admin, raw, the next scenario…), so a change in
the machine's load touches all of them alike; `--samples` rounds (20 at least). Percentiles are the
nearest-rank ones over all samples (bench.stats). Query counts are taken with the tab counts cached
and with the cache emptied.
"""

import time

import psycopg
from django.contrib import admin
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization, User, UserType
from bench.stats import summary
from groups.models import UserGroup

SIZES = (25, 200)
ADMIN_EMAIL = "admin@bench0.example"
STAFF_EMAIL = "staff@platform.example"
# The admin changelist's list_display (accounts.admin.UserAdmin); its `o=` names a column by index.
ADMIN_LAST_LOGIN = 6


def scenarios(org):
    """(name, our query string, the admin's query string) for each filter alone and combined."""
    group = UserGroup.objects.for_org(org).order_by("pk")[7]
    user_type = UserType.objects.for_org(org).get(name="Trainee")
    # A word that matches: the most common surname of the data set.
    email = User.objects.for_org(org).get(email__endswith=".4242@bench0.example").email.split("@")[0]
    o = f"organization__id__exact={org.pk}"
    return [
        ("no filter", "", o),
        ("status=active", "status=active", f"{o}&status__exact=active"),
        ("status=deleted", "status=deleted", f"{o}&status__exact=deleted"),
        ("group", f"group={group.pk}", f"{o}&user_groups__id__exact={group.pk}"),
        ("type", f"type={user_type.pk}", f"{o}&user_type__id__exact={user_type.pk}"),
        ("q=lefevre (common surname)", "q=lefevre", f"{o}&q=lefevre"),
        ("q=06 00 01 23 45 (phone)", "q=06+00+01+23+45", f"{o}&q=%2B33600012345"),
        ("q=<name.4242> (email)", f"q={email}", f"{o}&q={email}"),
        (
            "status+group+type+q",
            f"status=active&group={group.pk}&type={user_type.pk}&q=ma",
            f"{o}&status__exact=active&user_groups__id__exact={group.pk}&user_type__id__exact={user_type.pk}&q=ma",
        ),
        ("sort=-last_login, page 200", "sort=-last_login&page=200", f"{o}&o=-{ADMIN_LAST_LOGIN}&p=200"),
    ]


class Replay:
    """The SQL of one request, replayed on a connection of its own (autocommit, as Django runs)."""

    def __init__(self, statements):
        settings = connection.settings_dict
        self.conn = psycopg.connect(
            dbname=settings["NAME"],
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
            user=settings["USER"] or None,
            password=settings["PASSWORD"] or None,
            autocommit=True,
        )
        self.statements = statements

    def run(self):
        with self.conn.cursor() as cursor:
            for sql in self.statements:
                cursor.execute(sql.encode())
                if cursor.description:
                    cursor.fetchall()

    def close(self):
        self.conn.close()


def timed_ms(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def measure(samples: int = 20):
    """Run the interleaved rounds; print the table; return the cells for the goal table."""
    org = Organization.objects.get(slug="bench0")
    ours = Client(HTTP_HOST=f"{org.slug}.localhost")
    ours.force_login(User.objects.get(organization=org, email=ADMIN_EMAIL))
    staff = Client(HTTP_HOST="localhost")
    staff.force_login(User.objects.get(organization=None, email=STAFF_EMAIL))
    model_admin = admin.site._registry[User]
    default_per_page = model_admin.list_per_page

    cells = []
    for name, query, admin_query in scenarios(org):
        for size in SIZES:
            url = f"/users/?{query}&per_page={size}" if query else f"/users/?per_page={size}"
            cache.clear()
            with CaptureQueriesContext(connection) as uncached:
                response = ours.get(url)
            assert response.status_code == 200, (url, response.status_code)
            with CaptureQueriesContext(connection) as cached:
                response = ours.get(url)
            rows = response.content.count(b'name="ids"')
            cells.append(
                {
                    "scenario": name,
                    "size": size,
                    "url": url,
                    "admin_url": f"/admin/accounts/user/?{admin_query}",
                    "rows": rows,
                    "queries_cached": len(cached),
                    "queries_uncached": len(uncached),
                    "replay": Replay([q["sql"] for q in cached.captured_queries]),
                    "ours": [],
                    "admin": [],
                    "raw": [],
                }
            )

    def admin_get(cell):
        model_admin.list_per_page = cell["size"]
        try:
            response = staff.get(cell["admin_url"])
        finally:
            model_admin.list_per_page = default_per_page
        assert response.status_code == 200, (cell["admin_url"], response.status_code)
        return response

    for cell in cells:  # the admin's page shows as many rows as ours (the same page of the same filter)
        cell["admin_rows"] = admin_get(cell).content.count(b'name="_selected_action"')
        ours.get(cell["url"])
        cell["replay"].run()

    for n in range(samples):
        for cell in cells:
            sides = [
                ("ours", lambda cell=cell: ours.get(cell["url"])),
                ("admin", lambda cell=cell: admin_get(cell)),
                ("raw", cell["replay"].run),
            ]
            # Each side leads in turn: none always runs right after another's work.
            for side, function in sides[n % 3 :] + sides[: n % 3]:
                cell[side].append(timed_ms(function))
    for cell in cells:
        cell["replay"].close()
        for side in ("ours", "admin", "raw"):
            cell[side] = summary(cell[side])
        cell["vs_admin_p50"] = cell["admin"]["p50"] / cell["ours"]["p50"]
        cell["vs_admin_p95"] = cell["admin"]["p95"] / cell["ours"]["p95"]
        cell["vs_raw_p95"] = cell["ours"]["p95"] / cell["raw"]["p95"]
    print_cells(cells, samples)
    return cells


def print_cells(cells, samples):
    print(
        f"\n/users/ at 100,000 users vs the admin changelist vs the raw SQL of its own queries; "
        f"{samples} interleaved samples per cell; ms (p50 / p95 / p99, nearest rank)"
    )
    header = (
        f"{'scenario':28} {'rows':>4} {'q c/u':>5} | {'ours p50':>8} {'p95':>6} {'p99':>6} | "
        f"{'admin p50':>9} {'p95':>6} | {'raw p50':>7} {'p95':>5} | {'×adm p50':>8} {'×adm p95':>8} {'/raw p95':>8}"
    )
    print(header)
    print("-" * len(header))
    for cell in cells:
        o, a, r = cell["ours"], cell["admin"], cell["raw"]
        print(
            f"{cell['scenario'][:22] + ' /' + str(cell['size']):28} {cell['rows']:>4} "
            f"{cell['queries_cached']:>2}/{cell['queries_uncached']:<2} | "
            f"{o['p50']:8.1f} {o['p95']:6.1f} {o['p99']:6.1f} | {a['p50']:9.1f} {a['p95']:6.1f} | "
            f"{r['p50']:7.1f} {r['p95']:5.1f} | {cell['vs_admin_p50']:8.1f} {cell['vs_admin_p95']:8.1f} "
            f"{cell['vs_raw_p95']:8.2f}"
        )
        if cell["rows"] != cell["admin_rows"]:
            print(f"   (the admin's page shows {cell['admin_rows']} rows)")
