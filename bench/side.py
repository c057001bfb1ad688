"""The `/users/` scenarios of the benchmark, and a process that serves them for another side.

`bench/people.py` times `/users/` in its own process (this checkout, `DATABASE_URL`). An extra side
(`run.py measure --side NAME=DATABASE_URL[=CHECKOUT]`) is this file run as a script in a process of
its own, on another database (the 1,000,000-user one) and, if asked, with the code of another
checkout (the release before): it works out the same scenarios on its own data, then answers each
cell number it reads on its standard input with the milliseconds of one request, so the benchmark
can interleave every side in one run. With `--admin` it answers with the cell's Django admin
changelist instead (bench/people.py: the admin in a process of its own).

Only the standard library is imported at the top: the script must run with another checkout's
Django project, whose `bench` package may not have this file.
"""

import gc
import html
import json
import math
import os
import re
import sys
import time

SIZES = (25, 200)
ADMIN_EMAIL = "admin@bench0.example"
STAFF_EMAIL = "staff@platform.example"
# The admin changelist's list_display (accounts.admin.UserAdmin); its `o=` names a column by index.
ADMIN_LAST_LOGIN = 6


def scenarios(org):
    """(name, our query string, the admin's query string, how the page is reached) for each filter
    alone and combined, and for deep pages: typed in the address, or reached by the Next link of the
    page before it (`by`: "next:N" for page N, "next:middle" for the middle of the list)."""
    from accounts.models import User, UserType
    from groups.models import UserGroup

    group = UserGroup.objects.for_org(org).order_by("pk")[7]
    user_type = UserType.objects.for_org(org).get(name="Trainee")
    email = User.objects.for_org(org).get(email__endswith=".4242@bench0.example").email.split("@")[0]
    o = f"organization__id__exact={org.pk}"
    return [
        ("no filter", "", o, ""),
        ("status=active", "status=active", f"{o}&status__exact=active", ""),
        ("status=deleted", "status=deleted", f"{o}&status__exact=deleted", ""),
        ("group", f"group={group.pk}", f"{o}&user_groups__id__exact={group.pk}", ""),
        ("type", f"type={user_type.pk}", f"{o}&user_type__id__exact={user_type.pk}", ""),
        ("q=lefevre (common surname)", "q=lefevre", f"{o}&q=lefevre", ""),
        ("q=06 00 01 23 45 (phone)", "q=06+00+01+23+45", f"{o}&q=%2B33600012345", ""),
        ("q=<name.4242> (email)", f"q={email}", f"{o}&q={email}", ""),
        (
            "status+group+type+q",
            f"status=active&group={group.pk}&type={user_type.pk}&q=ma",
            f"{o}&status__exact=active&user_groups__id__exact={group.pk}&user_type__id__exact={user_type.pk}&q=ma",
            "",
        ),
        ("sort=-last_login, page 200", "sort=-last_login&page=200", f"{o}&o=-{ADMIN_LAST_LOGIN}&p=200", ""),
        ("sort=-last_login, Next to 200", "sort=-last_login", f"{o}&o=-{ADMIN_LAST_LOGIN}", "next:200"),
        ("type, Next to page 500", f"type={user_type.pk}", f"{o}&user_type__id__exact={user_type.pk}", "next:500"),
        ("no filter, Next to middle", "", o, "next:middle"),
    ]


def _link(body: str, rel: str) -> str:
    match = re.search(rf'href="\?([^"]*)" rel="{rel}"', body)
    assert match, f"no {rel} link on the page next to it"
    return html.unescape(match.group(1))


def reach(client, query: str, size: int, by: str) -> tuple[str, int]:
    """The URL of the scenario's page, and its page number: typed, or the Next link of the page
    before it ("next:N"), or the Previous link of the page after it ("previous:N"), that page asked
    for by number as a visitor who typed it would; N may be "middle"."""
    base = f"/users/?{query}&per_page={size}" if query else f"/users/?per_page={size}"
    if not by:
        return base, 0
    response = client.get(base)
    total = int(re.search(r'data-total="(\d+)"', response.content.decode()).group(1))
    pages = max(1, math.ceil(total / size))
    how, wanted = by.split(":")
    number = max(2, pages // 2) if wanted == "middle" else min(int(wanted), pages)
    # Next from the page before, or Previous from the page after.
    neighbour = client.get(f"{base}&page={number - 1 if how == 'next' else number + 1}")
    assert neighbour.status_code == 200
    return f"/users/?{_link(neighbour.content.decode(), 'next' if how == 'next' else 'prev')}", number


def prepare(client, org) -> list[dict]:
    """Every cell (scenario × page size): its URL on this side, the admin's, the rows it shows and the
    queries it sends with the tab counts cached and not."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cells = []
    for name, query, admin_query, by in scenarios(org):
        for size in SIZES:
            url, number = reach(client, query, size, by)
            admin_url = f"/admin/accounts/user/?{admin_query}"
            if number:
                admin_url += f"&p={number}"
            forget_cached()
            with CaptureQueriesContext(connection) as uncached:
                response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            with CaptureQueriesContext(connection) as cached:
                response = client.get(url)
            cells.append(
                {
                    "scenario": name,
                    "size": size,
                    "url": url,
                    "admin_url": admin_url,
                    "rows": response.content.count(b'name="ids"'),
                    "queries_cached": statements_sent(cached.captured_queries),
                    "queries_uncached": statements_sent(uncached.captured_queries),
                    "statements": [q["sql"] for q in cached.captured_queries],
                }
            )
    return cells


def statements_sent(queries) -> int:
    """How many statements `queries` (captured by Django) ran: a string of several prepared reads
    sent in one round trip (experquiz.sql_rows.fetchall_together) counts each; the PREPARE of a read,
    sent once per connection, counts none."""
    count = 0
    for query in queries:
        sql = query["sql"]
        if sql.startswith("PREPARE "):
            continue
        count += len(re.findall(r"(?:^|; )EXECUTE ", sql)) if sql.startswith("EXECUTE ") else 1
    return count


def forget_cached():
    """Empty the cache of this side's keys: in Redis, those of its prefix (bench/settings.py: the sides
    share a Redis database, and `cache.clear()` would empty the other sides' too); otherwise all."""
    from django.conf import settings
    from django.core.cache import cache

    from accounts import selectors

    # This process's own copy of the counts, where the checkout keeps one.
    getattr(selectors, "forget_remembered_counts", lambda: None)()
    prefix = settings.CACHES["default"].get("KEY_PREFIX")
    if not prefix or not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def serve(root: str, *, admin: bool = False):
    """The side process: set up `root`'s Django on DATABASE_URL, prepare the cells, say them on one
    line, then time one request per cell number read. `admin`: the request is the cell's admin
    changelist (`admin_url`, its `list_per_page` set to the cell's page size), as a platform staff
    member, instead of `/users/`."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [root] + [path for path in sys.path if os.path.abspath(path) != here]
    os.chdir(root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.test import Client

    from accounts.models import Organization, User

    org = Organization.objects.get(slug="bench0")
    client = Client(HTTP_HOST=f"{org.slug}.localhost")
    client.force_login(User.objects.get(organization=org, email=ADMIN_EMAIL))
    cells = prepare(client, org)
    get = (lambda cell: client.get(cell["url"])) if not admin else _admin_getter()
    for cell in cells:
        response = get(cell)  # warm
        if admin:  # the rows the admin's page shows, to compare with ours
            cell["admin_rows"] = response.content.count(b'name="_selected_action"')
    gc.collect()  # as in people.measure(): the set-up set aside from the garbage collector
    gc.freeze()
    print(json.dumps([{k: v for k, v in cell.items() if k != "statements"} for cell in cells]), flush=True)
    for line in sys.stdin:
        cell = cells[int(line)]
        started = time.perf_counter()
        response = get(cell)
        elapsed = (time.perf_counter() - started) * 1000
        print(json.dumps({"ms": elapsed, "status": response.status_code}), flush=True)


def _admin_getter():
    """A function that requests a cell's admin changelist: Django's stock admin of the users, on the
    bare domain, its page size set to the cell's for that request only."""
    from django.contrib import admin
    from django.test import Client

    from accounts.models import User

    staff = Client(HTTP_HOST="localhost")
    staff.force_login(User.objects.get(organization=None, email=STAFF_EMAIL))
    model_admin = admin.site._registry[User]
    default_per_page = model_admin.list_per_page

    def get(cell):
        model_admin.list_per_page = cell["size"]
        try:
            return staff.get(cell["admin_url"])
        finally:
            model_admin.list_per_page = default_per_page

    return get


class Side:
    """Another side, served by this file as a script in a process of its own."""

    def __init__(self, name: str, database_url: str, root: str, *, admin: bool = False):
        import subprocess

        self.name = name
        env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "bench.settings"}
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--root", os.path.abspath(root)] + ["--admin"] * admin,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"side {name} did not start (see its error above)")
        self.cells = json.loads(line)

    def get(self, index: int) -> float:
        self.process.stdin.write(f"{index}\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert answer["status"] == 200, (self.name, self.cells[index]["url"], answer)
        return answer["ms"]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


if __name__ == "__main__":
    serve(sys.argv[sys.argv.index("--root") + 1], admin="--admin" in sys.argv)
