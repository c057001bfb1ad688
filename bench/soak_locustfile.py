"""Locust users of the soak (bench/soak.py starts Locust with this file and the seed it wrote).

Administrators sign in and browse: the people list with its filters, tabs, search, sorting and
pages, people's pages, groups. One in ten also runs bulk actions, one in ten imports small files.
Invited people open their link and accept it, once each. Every request is named by its page type,
so the statistics give a median and a 99th percentile per page type.
"""

import itertools
import json
import os
import random
import re
import threading

from locust import HttpUser, between, task

SEED = json.loads(open(os.environ["SOAK_SEED"]).read())  # noqa: SIM115
HOST = os.environ["SOAK_HOST"]
_lock = threading.Lock()
_admins = itertools.cycle(SEED["admins"])
_tokens = iter(SEED["tokens"])
_serial = itertools.count()
USER_ID = re.compile(r'href="/users/(\d+)/"')


def next_of(iterator):
    with _lock:
        return next(iterator, None)


class Browser(HttpUser):
    abstract = True

    def on_start(self):
        self.client.headers["Host"] = HOST
        # A connection per request, as through a proxy: a kept-alive connection the server closes
        # while idle would be reset under the next request (a client-side race, not the product's).
        self.client.headers["Connection"] = "close"

    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def post(self, path, data, *, name, files=None, expect=(200, 302)):
        with self.client.post(
            path,
            data={**data, "csrfmiddlewaretoken": self.csrf()},
            files=files,
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code not in expect:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            return response


class Administrator(Browser):
    """Browses and filters; `role` decides whether they also run bulk actions or imports."""

    fixed_count = int(os.environ.get("SOAK_ADMINS", len(SEED["admins"])))
    wait_time = between(1, 3)

    def on_start(self):
        super().on_start()
        number = next(_serial)
        self.role = "bulk" if number % 10 == 1 else "import" if number % 10 == 2 else "browse"
        self.email = next_of(_admins)
        self.client.get("/login/", name="login page")
        self.post("/login/", {"username": self.email, "password": SEED["password"]}, name="login", expect=(302,))
        self.seen = []

    def users(self, query, name):
        response = self.client.get(f"/users/?{query}", name=name)
        self.seen = USER_ID.findall(response.text)[:50] or self.seen
        return response

    @task(6)
    def browse_list(self):
        tab = random.choice(["", "status=active", "status=created", "status=inactive", "status=deleted"])
        self.users(tab, "users list")

    @task(4)
    def filter_list(self):
        group = random.choice(SEED["groups"])
        query = random.choice(
            [f"group={group}", f"group={group}&status=active", f"sort=-created&group={group}", "sort=-last_login",
             "per_page=100&page=3", "status=active&page=5"]
        )  # fmt: skip
        self.users(query, "users list filtered")

    @task(3)
    def search(self):
        self.users(f"q={random.choice(['first1', 'last2', 'person12', 'soak.example', 'last19'])}", "users search")

    @task(3)
    def person(self):
        if self.seen:
            self.client.get(f"/users/{random.choice(self.seen)}/", name="user detail")

    @task(1)
    def groups(self):
        self.client.get("/groups/", name="groups")

    @task(2)
    def background_work(self):
        if self.role == "bulk":
            self.bulk()
        elif self.role == "import":
            self.import_file()

    def bulk(self):
        if random.random() < 0.7 and self.seen:
            # A few ticked people, changed within the request.
            ids = random.sample(self.seen, min(len(self.seen), 10))
            action = random.choice(["add_to_group", "remove_from_group"])
            self.post(
                "/users/bulk/",
                {"action": action, "ids": ids, "group": random.choice(SEED["groups"]), "confirmed": "1"},
                name="bulk action (in request)",
            )
        else:
            # Everyone of a shift: a background job, followed on its page.
            shift = random.choice(SEED["shifts"])
            action = random.choice(["deactivate", "reactivate"])
            response = self.post(
                "/users/bulk/",
                {"action": action, "all_matching": "1", "filters": f"group={shift}", "confirmed": "1"},
                name="bulk job start",
            )
            location = response.headers.get("Location", "")
            if "/users/bulk/" in location:
                self.client.get(location, name="bulk job page", headers={"Accept": "application/json"})

    def import_file(self):
        batch = next(_serial)
        rows = "".join(f"Imp{batch},Person{n},imp{batch}-{n}@soak.example\n" for n in range(30))
        response = self.post(
            "/users/import/",
            {"invite": "on" if batch % 2 else ""},
            files={"file": (f"people-{batch}.csv", "first_name,last_name,email\n" + rows, "text/csv")},
            name="import upload",
            expect=(302,),
        )
        job = response.headers.get("Location", "")
        if not job:
            return
        self.client.get(job, name="import page")
        self.post(f"{job}confirm/", {}, name="import confirm", expect=(302,))
        self.client.get(job, name="import page")


class InvitedPerson(Browser):
    """Opens their invitation link, reads it and types (5 to 30 s), then accepts it, once."""

    fixed_count = int(os.environ.get("SOAK_PEOPLE", len(SEED["tokens"])))
    wait_time = between(5, 30)

    def on_start(self):
        super().on_start()
        self.token = next_of(_tokens)
        self.opened = self.accepted = False

    @task
    def accept(self):
        if self.token is None or self.accepted:
            return
        if not self.opened:
            self.client.get(f"/i/{self.token}/", name="invitation link")
            self.opened = True
            return
        password = f"a long password {self.token[:6]} 2026"
        self.post(
            f"/i/{self.token}/",
            {"first_name": "Invited", "last_name": "Person", "new_password1": password, "new_password2": password},
            name="invitation accept",
            expect=(302,),
        )
        self.accepted = True
