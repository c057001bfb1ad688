"""People-list benchmark: generate a large data set, then time /users/ against Django's admin.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_people_bench .venv/bin/python bench/run.py all

Steps: `generate` (migrate, then one organisation of 100,000 users and five of 20,000, 500 groups,
300,000 memberships, loaded with COPY), `measure` (each filter alone and combined: queries per page
at two page sizes, median and p95 latency, cold and warm tab counts, and the admin changelist with
the same filters on the same data), `explain` (the plans of the status, group and text filters),
`import` (a 10,000-row CSV uploaded, checked and imported through the web pages). `all` runs them
in order. Generation is skipped when the data already exists.
"""

import argparse
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")


def ensure_database():
    """Create the benchmark database if it does not exist yet (PostgreSQL only)."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(os.environ.get("DATABASE_URL", ""))
    if "postgresql" not in config.get("ENGINE", ""):
        sys.exit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
    params = {key.lower(): config[key] for key in ("HOST", "PORT", "USER", "PASSWORD") if config.get(key)}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as maintenance:
        exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            maintenance.execute(f'CREATE DATABASE "{config["NAME"]}"')


ensure_database()

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Organization, User, UserType  # noqa: E402
from accounts.search import search_text_for  # noqa: E402
from experquiz.naming import name_key  # noqa: E402
from flows.management.commands.seed_demo import FIRST_NAMES as FIRST  # noqa: E402
from flows.management.commands.seed_demo import LAST_NAMES as LAST  # noqa: E402
from groups.models import UserGroup  # noqa: E402

BIG, SMALL = ("bench0", 100_000), [(f"bench{n}", 20_000) for n in range(1, 6)]
GROUPS = {"bench0": 250, **{f"bench{n}": 50 for n in range(1, 6)}}  # 500 in all
MEMBERSHIPS = 300_000
STATUSES = ["active"] * 60 + ["created"] * 10 + ["invited"] * 10 + ["inactive"] * 15 + ["deleted"] * 5
ADMIN_EMAIL = "admin@bench0.example"
STAFF_EMAIL = "staff@platform.example"
RUNS = 30


def ascii_lower(text):
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def generate():
    call_command("migrate", verbosity=0)
    if Organization.objects.filter(slug=BIG[0]).exists():
        print("Data already generated.")
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
    membership_rows = []
    for slug, size in [BIG, *SMALL]:
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
        share = size * MEMBERSHIPS // 200_000
        pairs = set()
        while len(pairs) < share:
            pairs.add((rng.choice(group_ids), rng.choice(user_ids)))
        membership_rows += [(org.pk, group, user, now) for group, user in pairs]
        print(f"  {slug}: {size} users, {len(group_ids)} groups, {share} memberships")
    with raw.copy("COPY usergroups_membership (organization_id, group_id, user_id, added_at) FROM STDIN") as copy:
        for row in membership_rows:
            copy.write_row(row)
    with connection.cursor() as cursor:
        for table in ("accounts_user", "usergroups_usergroup"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    big = Organization.objects.get(slug=BIG[0])
    admin = User.objects.create(organization=big, email=ADMIN_EMAIL, first_name="Bench", last_name="Admin",
                                is_administrator=True, status="active")  # fmt: skip
    admin.set_password("bench-pass-2026")
    admin.save()
    User.objects.create_superuser(STAFF_EMAIL, "bench-pass-2026")
    with connection.cursor() as cursor:
        # Fresh statistics, and a visibility map so counts can use index-only scans.
        cursor.execute("VACUUM ANALYZE")
    print(f"Generated in {time.perf_counter() - started:.1f} s")


def scenarios(org):
    """(name, our query string, admin query string) for each filter alone and combined."""
    group = UserGroup.objects.for_org(org).order_by("pk")[7]
    user_type = UserType.objects.for_org(org).get(name="Trainee")
    email = User.objects.for_org(org).get(email__endswith=".4242@bench0.example").email.split("@")[0]
    o = f"organization__id__exact={org.pk}"
    return [
        ("no filter", "", o),
        ("status=active", "status=active", f"{o}&status__exact=active"),
        ("status=deleted", "status=deleted", f"{o}&status__exact=deleted"),
        ("group", f"group={group.pk}", f"{o}&user_groups__id__exact={group.pk}"),
        ("type", f"type={user_type.pk}", f"{o}&user_type__id__exact={user_type.pk}"),
        ("q=lefevre (name)", "q=lefevre", f"{o}&q=lefevre"),
        ("q=phone 06 00 01 23 45", "q=06+00+01+23+45", f"{o}&q=%2B33600012345"),
        (f"q={email} (email)", f"q={email}", f"{o}&q={email}"),
        (
            "status+group+type+q",
            f"status=active&group={group.pk}&type={user_type.pk}&q=ma",
            f"{o}&status__exact=active&user_groups__id__exact={group.pk}&user_type__id__exact={user_type.pk}&q=ma",
        ),
        ("sort=-last_login, page 200", "sort=-last_login&page=200", f"{o}&o=-8&p=199"),
    ]


def timed(client, url, runs=RUNS):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def measure():
    org = Organization.objects.get(slug=BIG[0])
    ours = Client(HTTP_HOST=f"{org.slug}.localhost")
    ours.force_login(User.objects.get(organization=org, email=ADMIN_EMAIL))
    admin = Client(HTTP_HOST="localhost")
    admin.force_login(User.objects.get(organization=None, email=STAFF_EMAIL))
    print(f"\n/users/ on {org.slug} ({User.objects.filter(organization=org).count()} users); {RUNS} runs each; "
          "ms; admin changelist at its default 100 rows per page")  # fmt: skip
    header = (
        f"{'scenario':34} {'rows':>6} {'q/25':>5} {'q/200':>6} {'cold':>7} {'median':>7} {'p95':>7}"
        f" | {'admin q':>7} {'median':>8} {'p95':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, query, admin_query in scenarios(org):
        url = f"/users/?{query}&per_page=100" if query else "/users/?per_page=100"
        cache.clear()
        started = time.perf_counter()
        response = ours.get(url)
        cold = (time.perf_counter() - started) * 1000
        rows = re.search(rb'data-total="(\d+)"', response.content).group(1).decode()
        q25 = count_queries(ours, url.replace("per_page=100", "per_page=25"))
        q200 = count_queries(ours, url.replace("per_page=100", "per_page=200"))
        median, p95 = timed(ours, url)
        admin_url = f"/admin/accounts/user/?{admin_query}"
        admin_queries = count_queries(admin, admin_url)
        admin_median, admin_p95 = timed(admin, admin_url, runs=max(5, RUNS // 3))
        print(
            f"{name:34} {rows:>6} {q25:>5} {q200:>6} {cold:>7.1f} {median:>7.1f} {p95:>7.1f}"
            f" | {admin_queries:>7} {admin_median:>8.1f} {admin_p95:>8.1f}"
        )


def explain():
    from web.people.views_users import filtered_users, list_queryset

    org = Organization.objects.get(slug=BIG[0])
    actor = User.objects.get(organization=org, email=ADMIN_EMAIL)
    group = UserGroup.objects.for_org(org).order_by("pk")[7]
    for name, params in [
        ("status filter", {"status": "inactive"}),
        ("group filter", {"group": group.pk}),
        ("text filter, common word", {"q": "lefevre"}),
        ("text filter, rare word", {"q": "lambert.4242"}),
        ("phone filter", {"q": "06 00 01 23 45"}),
    ]:
        request = RequestFactory().get("/users/", params)
        request.user, request.organization = actor, org
        filterset = filtered_users(request, request.GET)
        filterset.is_valid()
        total = filterset.qs.count()
        print(f"\n-- {name}: {params} ({total} users; the page query of the list: 25 rows, ORDER BY name)")
        print(list_queryset(filterset, total)[:25].explain(analyze=True))
        print(f"-- {name}: tab counts (GROUP BY status over the other filters)")
        from django.db.models import Count

        base = filtered_users(request, {k: v for k, v in params.items() if k != "status"})
        base.is_valid()
        print(base.without_status().order_by().values_list("status").annotate(n=Count("pk")).explain(analyze=True))


def import_10k():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.models import ImportJob

    org = Organization.objects.get(slug=BIG[0])
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["generate", "measure", "explain", "import", "all"])
    step = parser.parse_args().step
    for name, function in [("generate", generate), ("measure", measure), ("explain", explain), ("import", import_10k)]:
        if step in (name, "all"):
            function()


if __name__ == "__main__":
    main()
