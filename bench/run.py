"""People-list benchmark: generate a large data set, then time /users/ against Django's admin.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_people_bench .venv/bin/python bench/run.py all

Steps: `generate` (migrate, then one organisation of 100,000 users — `--users` for another size —
and five of 20,000, 500 groups, 1.5 memberships per user, loaded with COPY), `measure` (each filter
alone and combined, deep pages typed or reached by Next: queries per page at two page sizes, median
and p95 latency, cold and warm tab counts, and the admin changelist with the same filters on the
same data; `--side` adds another database or checkout, interleaved), `explain` (the plans of the
filters, of deep pages and of the tab counts), `import` (a 10,000-row CSV uploaded, checked and
imported through the web pages). `all` runs them in order. Generation is skipped when the data
already exists. `--json FILE` writes the figures (the /users/ cells, the link pages' cells) for
bench/goals.py, which runs every benchmark of issue 12 and prints the whole goal table (`make bench`).
"""

import argparse
import json
import math
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
from bench.database import ensure_database  # noqa: E402

ensure_database()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Organization, User, UserType  # noqa: E402
from accounts.search import search_text_for  # noqa: E402
from experquiz.naming import name_key  # noqa: E402
from flows.management.commands.seed_demo import FIRST_NAMES as FIRST  # noqa: E402
from flows.management.commands.seed_demo import LAST_NAMES as LAST  # noqa: E402
from groups.models import UserGroup  # noqa: E402

BIG, SMALL = "bench0", [(f"bench{n}", 20_000) for n in range(1, 6)]
GROUPS = {"bench0": 250, **{f"bench{n}": 50 for n in range(1, 6)}}  # 500 in all
MEMBERSHIPS_PER_USER = 1.5  # 300,000 for the 200,000 users of the default data set
STATUSES = ["active"] * 60 + ["created"] * 10 + ["invited"] * 10 + ["inactive"] * 15 + ["deleted"] * 5
ADMIN_EMAIL = "admin@bench0.example"
STAFF_EMAIL = "staff@platform.example"
RUNS = 30


def ascii_lower(text):
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def generate(users=100_000):
    """The data set, `users` people in the big organisation (bench0)."""
    call_command("migrate", verbosity=0)
    if Organization.objects.filter(slug=BIG).exists():
        people = User.objects.filter(organization__slug=BIG).count()
        print(f"Data already generated: {people:,} people in {BIG}.", flush=True)
        # The growth goal compares two sizes: a database of another size than asked would mislead.
        if not users * 0.95 <= people <= users * 1.1:
            sys.exit(f"{BIG} holds {people:,} people, not about {users:,}: use another database for that size.")
        return
    started = time.perf_counter()
    rng = random.Random(2026)
    now = timezone.now()
    raw = connection.cursor().cursor  # psycopg cursor, for COPY
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM accounts_user")
        next_id = cursor.fetchone()[0] + 1
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM usergroups_usergroup")
        next_group = cursor.fetchone()[0] + 1
    for slug, size in [(BIG, users), *SMALL]:
        org = Organization.objects.create(name=slug.title(), slug=slug)
        types = [UserType.objects.create(organization=org, name=name).pk for name in ("Employee", "Trainee", "Client")]
        group_ids = list(range(next_group, next_group + GROUPS[slug]))
        with raw.copy(
            "COPY usergroups_usergroup (id, organization_id, name, name_key, description, created_at) FROM STDIN"
        ) as copy:
            for n, pk in enumerate(group_ids):
                name = f"Group {slug} {n:03d}"
                copy.write_row((pk, org.pk, name, name_key(name), "", now))
        next_group += len(group_ids)
        user_ids = []
        columns = (
            "id, password, last_login, is_superuser, organization_id, first_name, last_name, email, mobile, "
            "employee_number, preferred_channel, language, user_type_id, status, is_administrator, "
            "must_change_password, is_staff, created_at, updated_at, search_text, session_generation"
        )
        with raw.copy(f"COPY accounts_user ({columns}) FROM STDIN") as copy:
            for n in range(size):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                email = f"{ascii_lower(first)}.{ascii_lower(last)}.{n}@{slug}.example"
                mobile = f"+336{n:08d}" if n % 3 == 0 else ""
                status = STATUSES[rng.randrange(len(STATUSES))]
                created = now - timezone.timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
                last_login = created + timezone.timedelta(days=rng.randrange(30)) if status == "active" else None
                employee = f"E{n:06d}" if n % 2 == 0 else ""
                user_ids.append(next_id)
                copy.write_row(
                    (
                        next_id, "!", last_login, False, org.pk, first, last, email, mobile, employee, "email",
                        "fr" if n % 2 else "en", rng.choice(types), status, False, False, False, created, created,
                        search_text_for(
                            first_name=first, last_name=last, email=email, mobile=mobile, employee_number=employee
                        ),
                        0,
                    )
                )  # fmt: skip
                next_id += 1
        share = int(size * MEMBERSHIPS_PER_USER)
        pairs = set()
        while len(pairs) < share:
            pairs.add((rng.choice(group_ids), rng.choice(user_ids)))
        with raw.copy("COPY usergroups_membership (organization_id, group_id, user_id, added_at) FROM STDIN") as copy:
            for group, user in pairs:
                copy.write_row((org.pk, group, user, now))
        del pairs, user_ids
        print(f"  {slug}: {size} users, {len(group_ids)} groups, {share} memberships", flush=True)
    with connection.cursor() as cursor:
        for table in ("accounts_user", "usergroups_usergroup"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    big = Organization.objects.get(slug=BIG)
    admin = User.objects.create(organization=big, email=ADMIN_EMAIL, first_name="Bench", last_name="Admin",
                                is_administrator=True, status="active")  # fmt: skip
    admin.set_password("bench-pass-2026")
    admin.save()
    User.objects.create_superuser(STAFF_EMAIL, "bench-pass-2026")
    with connection.cursor() as cursor:
        # Fresh statistics, and a visibility map so counts can use index-only scans.
        cursor.execute("VACUUM ANALYZE")
    print(f"Generated in {time.perf_counter() - started:.1f} s")


def measure(samples=20, sides=(), scenarios=""):
    """`sides`: (name, database URL, checkout) of the other sides to interleave with this one;
    `scenarios`: a regular expression, to time only the scenarios whose name it finds (trial runs)."""
    from bench.people import measure as people_measure
    from bench.side import Side

    started = []
    try:
        for name, database_url, root in sides:
            print(f"Starting side {name} ({database_url}, code of {root})…", flush=True)
            started.append(Side(name, database_url, root))
            print(f"  side {name} ready: {len(started[-1].cells)} cells", flush=True)
        print("Preparing this side's cells (URLs, queries cached and not)…", flush=True)
        return people_measure(samples, started, scenarios)
    finally:
        for side in started:
            side.close()


def tokens(samples=20):
    """The link pages on gunicorn with the production settings (bench/tokens.py): /i/ and /a/, valid
    and unknown links, with keep-alive and without."""
    from bench.tokens import measure as tokens_measure
    from bench.tokens import table

    summary = tokens_measure(
        database_url=os.environ["DATABASE_URL"],
        cache_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        rounds=max(2, samples // 5),
    )
    print()
    print(table(summary, workers=2, connections=8))
    return summary


def goals(cells, links, growth=""):
    """The goal table of issue 12 for the web pages alone (bench/goals.py prints the whole one)."""
    from bench.goals import print_table, web_rows

    rows = web_rows({"cells": cells, "links": links_as_list(links), "growth": growth})
    print()
    print_table([row for row in rows if row["status"] != "not run"])


def links_as_list(links) -> list[dict] | None:
    """bench/tokens.py's summary, {(server, kind, keep_alive): cell}, as a list of plain dictionaries."""
    if links is None:
        return None
    return [
        {"server": server, "kind": kind, "keep_alive": keep_alive, **cell}
        for (server, kind, keep_alive), cell in links.items()
    ]


def write_figures(path, cells, links, growth):
    """The figures as JSON for bench/goals.py: the cells without their open replay connection."""
    plain = [{key: value for key, value in cell.items() if key != "replay"} for cell in cells or []]

    def finite(value):  # JSON has no NaN: an empty sample is written as null
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, list):
            return [finite(item) for item in value]
        return value

    figures = {"cells": plain if cells is not None else None, "links": links_as_list(links), "growth": growth}
    Path(path).write_text(json.dumps(finite(figures), indent=2))


def explain():
    """EXPLAIN ANALYZE of the queries `/users/` sends: the page and the tab counts, per filter, for deep
    pages (typed, or reached by Next) and for the unfiltered list's kept counts."""
    from urllib.parse import urlencode

    from bench.side import forget_cached, reach

    org = Organization.objects.get(slug=BIG)
    actor = User.objects.get(organization=org, email=ADMIN_EMAIL)
    group = UserGroup.objects.for_org(org).order_by("pk")[7]
    trainee = UserType.objects.for_org(org).get(name="Trainee")
    client = Client(HTTP_HOST=f"{org.slug}.localhost")
    client.force_login(actor)

    def analyze(sql):
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())

    def show(title, url):
        forget_cached()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        total = re.search(r'data-total="(\d+)"', response.content.decode()).group(1)
        page = next(q["sql"] for q in queries.captured_queries if "keyset_0" in q["sql"])
        print(f"\n-- {title} ({total} users; {url[:100]}): the page query, 25 rows")
        print(page[page.index(" FROM ") :])
        print(analyze(page))
        # One statement each: a string of prepared reads sent together is split into its EXECUTEs (the
        # PREPAREs, sent once per connection, are not the request's).
        statements = [
            sql
            for q in queries.captured_queries
            if not q["sql"].startswith("PREPARE ")
            for sql in (q["sql"].split("; ") if q["sql"].startswith("EXECUTE ") else [q["sql"]])
        ]
        counts = [sql for sql in statements if "statuscount" in sql or "status_counts" in sql or "COUNT(" in sql]
        for sql in counts:
            print(f"-- {title}: tab counts")
            print(sql)
            print(analyze(sql))

    for title, params in [
        ("no filter", {}),
        ("status filter", {"status": "inactive"}),
        ("group filter", {"group": group.pk}),
        ("type filter", {"type": trainee.pk}),
        ("text filter, common word", {"q": "lefevre"}),
        ("text filter, rare word", {"q": "lambert.4242"}),
        ("phone filter", {"q": "06 00 01 23 45"}),
    ]:
        show(title, f"/users/?{urlencode(params)}")
    for title, query, by in [
        ("sort=-last_login, page 200 by Next", "sort=-last_login", "next:200"),
        ("sort=-last_login, page 200 typed", "sort=-last_login&page=200", ""),
        ("type filter, page 500 by Next", f"type={trainee.pk}", "next:500"),
        ("no filter, the middle page by Next", "", "next:middle"),
        ("sort=-last_login, page 3000 by Next (people who never logged in)", "sort=-last_login", "next:3000"),
        ("sort=last_login, the middle page by Next", "sort=last_login", "next:middle"),
        ("sort=status, the middle page by Next", "sort=status", "next:middle"),
        ("sort=-status, the middle page by Next", "sort=-status", "next:middle"),
        ("sort=-name, the middle page by Previous", "sort=-name", "previous:middle"),
        ("sort=created, the middle page by Next", "sort=created", "next:middle"),
        ("no filter, the last page (typed: read from the end)", "page=999999", ""),
    ]:
        show(title, reach(client, query, 25, by)[0])


def import_10k():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import ImportJob

    org = Organization.objects.get(slug=BIG)
    client = Client(HTTP_HOST=f"{org.slug}.localhost")
    client.force_login(User.objects.get(organization=org, email=ADMIN_EMAIL))
    run = int(time.time())
    lines = ["Prénom;Nom;E-mail;Téléphone mobile;Groupes"]
    groups = list(UserGroup.objects.for_org(org).values_list("name", flat=True)[:20])
    for n in range(10_000):
        # 06 5x … numbers: valid French mobiles that the generated users (06 00 …) do not use.
        mobile = f"06 {50 + n // 10000} {n // 100 % 100:02d} {n % 100:02d} {run % 100:02d}"
        lines.append(f"Imp{n};Run{run};imp{n}.{run}@import.example;{mobile};{groups[n % 20]}")
    data = ("\ufeff" + "\n".join(lines) + "\n").encode()
    started = time.perf_counter()
    response = client.post("/users/import/", {"file": SimpleUploadedFile("big.csv", data)})
    checked = time.perf_counter()
    job = ImportJob.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
    errors = [row for row in job.report.get("rows", []) if row["errors"]][:3]
    assert job.state == "ready" and not errors, (job.state, job.error, errors)
    client.post(f"/users/import/{job.pk}/confirm/")
    done = time.perf_counter()
    job.refresh_from_db()
    assert job.state == "done", job.error
    # Leave the data set as generated, so the next run measures the same thing.
    User.objects.filter(organization=org, email__endswith="@import.example").delete()
    print(
        f"\nImport of 10,000 rows into {org.slug}: upload + check {checked - started:.1f} s, "
        f"confirm + write {done - checked:.1f} s, total {done - started:.1f} s "
        f"({job.report['result']['created']} created)"
    )


def side_spec(text):
    """NAME=DATABASE_URL[=CHECKOUT] → (name, database URL, checkout; this one by default)."""
    name, _, rest = text.partition("=")
    database_url, _, root = rest.partition("=")
    if not name or not database_url.startswith("postgres"):
        raise argparse.ArgumentTypeError("NAME=DATABASE_URL[=CHECKOUT], e.g. 1m=postgres://…/experquiz_people_bench_1m")
    return name, database_url, root or str(ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["generate", "measure", "tokens", "explain", "import", "all", "web"])
    parser.add_argument("--samples", type=int, default=20, help="interleaved samples per cell (at least 20)")
    parser.add_argument("--users", type=int, default=100_000, help="people in the big organisation (generate)")
    parser.add_argument(
        "--side",
        type=side_spec,
        action="append",
        default=[],
        help="NAME=DATABASE_URL[=CHECKOUT]: time /users/ on that database (generated the same way) with that "
        "checkout's code too, interleaved (measure); repeatable",
    )
    parser.add_argument("--growth", default="", help="the --side that holds 1,000,000 users: adds the growth goal")
    parser.add_argument("--json", default="", help="write the figures (measure, tokens) to this file")
    parser.add_argument("--scenarios", default="", help="only the /users/ scenarios whose name matches (trials)")
    args = parser.parse_args()
    step, samples = args.step, max(20, args.samples)
    if step in ("generate", "all", "web"):
        generate(args.users)
    cells = measure(samples, args.side, args.scenarios) if step in ("measure", "all", "web") else None
    links = tokens(samples) if step in ("tokens", "all", "web") else None
    if args.json:
        write_figures(args.json, cells, links, args.growth)
    if step in ("explain", "all"):
        explain()
    if step in ("import", "all"):
        import_10k()
    if (cells or links) and not args.json:  # with --json, bench/goals.py prints the whole table
        goals(cells, links, args.growth)


if __name__ == "__main__":
    main()
