"""Results benchmark: a questionnaire with 10,000 attempts, then time its results pages and export.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_results_bench .venv/bin/python bench/results.py

Generates (once) one organisation of 12,000 users in 4 groups, one questionnaire of 10 questions,
10 assessment invitations of 1,000 people each (10,000 places: 8,000 started, 6,000 submitted), and
2,000 free attempts: 10,000 attempts in all. Then, for an administrator and for a reader scoped to
one group (3,000 people), counts the SQL queries of each results page at 50 and 200 rows per page
(they must be equal) and times median and p95 over RUNS requests; and times the CSV export of every
row. Requests go through Django's test client in-process, with bench/settings.py.
"""

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

import bench.run  # noqa: E402, F401  (creates the database if missing, then sets Django up)
from accounts.models import Organization, User  # noqa: E402
from assessments.models import Assignee, Assignment, Attempt, Choice, Question, Questionnaire  # noqa: E402
from groups.models import Membership, UserGroup  # noqa: E402
from invitations.models import InvitationBatch  # noqa: E402
from rights.models import Grant, GrantGroup  # noqa: E402

SLUG = "results0"
USERS, GROUPS, INVITATIONS, PER_INVITATION = 12_000, 4, 10, 1_000
FREE_ATTEMPTS = 2_000
RUNS = 20
ADMIN_EMAIL, READER_EMAIL = "admin@results0.example", "reader@results0.example"


def generate():
    call_command("migrate", verbosity=0)
    if Organization.objects.filter(slug=SLUG).exists():
        print("Data already generated.")
        return
    started = time.perf_counter()
    rng = random.Random(2026)
    now = timezone.now()
    with transaction.atomic():
        org = Organization.objects.create(name="Results", slug=SLUG)
        admin = User.objects.create(
            organization=org,
            email=ADMIN_EMAIL,
            first_name="Ada",
            last_name="Admin",
            is_administrator=True,
            status="active",
        )
        reader = User.objects.create(
            organization=org, email=READER_EMAIL, first_name="Rita", last_name="Reader", status="active"
        )
        groups = UserGroup.objects.bulk_create(UserGroup(organization=org, name=f"Group {n}") for n in range(GROUPS))
        users = User.objects.bulk_create(
            (
                User(
                    organization=org,
                    email=f"person{n}@results0.example",
                    first_name=f"First{n % 97}",
                    last_name=f"Last{n:05d}",
                    status="active",
                )
                for n in range(USERS)
            ),
            batch_size=2000,
        )
        Membership.objects.bulk_create(
            (Membership(organization=org, group=groups[n % GROUPS], user=user) for n, user in enumerate(users)),
            batch_size=2000,
        )
        grant = Grant.objects.create(organization=org, user=reader, right="view_results", granted_at=now)
        GrantGroup.objects.create(organization=org, grant=grant, group=groups[0])
        quiz = Questionnaire.objects.create(organization=org, title="Safety basics", visibility="private")
        for number in range(1, 11):
            question = Question.objects.create(organization=org, questionnaire=quiz, position=number, text=f"Q{number}")
            Choice.objects.create(organization=org, question=question, position=1, text="Right", is_correct=True)
            Choice.objects.create(organization=org, question=question, position=2, text="Wrong")
        attempts = []
        for n in range(INVITATIONS):
            opens = now - timedelta(days=INVITATIONS - n)
            batch = InvitationBatch.objects.create(organization=org, created_by=admin)
            assignment = Assignment.objects.create(
                organization=org,
                questionnaire=quiz,
                opens_at=opens,
                closes_at=opens + timedelta(days=1),
                send_at=opens,
                batch=batch,
                created_by=admin,
            )
            people = users[n * PER_INVITATION : (n + 1) * PER_INVITATION]
            places = Assignee.objects.bulk_create(
                Assignee(organization=org, assignment=assignment, user=user, added_at=opens, added_by=admin)
                for user in people
            )
            for k, place in enumerate(places):
                if k % 10 < 8:  # 8 in 10 started, 6 in 10 submitted
                    attempts.append(_attempt(org, quiz, place.user, opens, rng, submitted=k % 10 < 6, place=place))
        # Free attempts by people never invited: the database keeps one attempt made through no link
        # per user and questionnaire, and these places' attempts carry no link here.
        for user in users[INVITATIONS * PER_INVITATION :][:FREE_ATTEMPTS]:
            attempts.append(_attempt(org, quiz, user, now - timedelta(days=1), rng, submitted=True))
        Attempt.objects.bulk_create(attempts, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    count = Attempt.objects.filter(organization=org).count()
    print(f"Generated {count} attempts in {time.perf_counter() - started:.1f} s")


def _attempt(org, quiz, user, at, rng, *, submitted, place=None):
    right = rng.randrange(11)
    return Attempt(
        organization=org,
        questionnaire=quiz,
        user=user,
        assignee=place,
        started_at=at + timedelta(minutes=5),
        submitted_at=at + timedelta(minutes=15) if submitted else None,
        correct_count=right if submitted else None,
        question_count=10 if submitted else None,
        score=Decimal(right * 10) if submitted else None,
    )


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return len(queries)


def timed(client, url, runs=RUNS):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def measure():
    org = Organization.objects.get(slug=SLUG)
    quiz = Questionnaire.objects.get(organization=org)
    assignment = Assignment.objects.filter(organization=org).order_by("pk")[3]
    person = Assignee.objects.filter(assignment=assignment, user__memberships__group__name="Group 0").first().user
    base = f"/results/questionnaires/{quiz.pk}/"
    scenarios = [
        ("questionnaire, sorted by name", base + "?"),
        ("state=submitted, sort=-score", base + "?state=submitted&sort=-score&"),
        ("one invitation (1,000 places)", base + f"?assignment={assignment.pk}&"),
        ("free access only", base + "?assignment=free&"),
        ("last page, sort=-date", base + "?sort=-date&page=9999&"),
        ("questionnaires list", "/results/?"),
        ("one person", f"/results/users/{person.pk}/?"),
    ]
    total = Attempt.objects.filter(organization=org).count()
    print(f"\nResults of one questionnaire with {total} attempts and "
          f"{Assignee.objects.filter(organization=org).count()} places; {RUNS} runs each; ms")  # fmt: skip
    print("| reader | page | queries (50 / 200 rows) | median (50) | p95 (50) | median (200) | p95 (200) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for email in (ADMIN_EMAIL, READER_EMAIL):
        client = Client(HTTP_HOST=f"{SLUG}.localhost")
        client.force_login(User.objects.get(organization=org, email=email))
        who = "administrator" if email == ADMIN_EMAIL else "group-scoped"
        for name, url in scenarios:
            small, large = url + "per_page=50", url + "per_page=200"
            queries = (count_queries(client, small), count_queries(client, large))
            cells = [*timed(client, small), *timed(client, large)]
            print(f"| {who} | {name} | {queries[0]} / {queries[1]} | " + " | ".join(f"{c:.0f}" for c in cells) + " |")
        export = base + "export/csv/"
        median, p95 = timed(client, export, runs=5)
        print(f"| {who} | CSV export, every row | {count_queries(client, export)} | {median:.0f} | {p95:.0f} | | |")


if __name__ == "__main__":
    generate()
    measure()
