"""Benchmark: inviting a 10,000-person mix to an assessment — the summary (preview) and the invitation.

The mix, in one organisation of 11,000 active users: four overlapping groups (9,000 people, 11,000
memberships), 1,000 users picked one by one (500 of them already in a group), and 600 pasted
addresses (300 users' emails, 100 of them already reached; 100 contacts; 200 unknown addresses, half
emails, half mobiles typed in national format, which become new contacts): 10,000 people once each.

Times, median of --runs runs each, on PostgreSQL:
  * preview – `assessment_invitation_preview` (what the summary page calls; writes nothing);
  * invite  – `assessment_invite` committed: the assignment, 10,000 places, 200 new contacts and
    10,000 message rows, plus publishing the 50 packet tasks to Redis on commit (to a queue no worker
    reads, so sending is not counted: `bench/invitations.py` measures delivery).
Each invitation is removed after its run (not timed), so runs are alike. With --profile, one more
invite run under cProfile prints where the time goes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/experquiz_assessment_bench \\
        .venv/bin/python bench/assessment_invitations.py [--runs 5] [--redis redis://127.0.0.1:6379/6] [--profile]
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

SLUG = "asgbench"
USERS = 11_000
GROUPS = [(0, 3000), (2000, 5000), (4500, 7500), (7000, 9000)]  # [start, end) user numbers
PICKED = (8500, 9500)
PASTED_USERS = (9400, 9700)
CONTACTS = 100
NEW_ADDRESSES = 200


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--profile", action="store_true")
    return parser.parse_args()


def generate():
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from accounts.models import Contact, Organization, User
    from accounts.search import search_text_for
    from assessments.models import Choice, Question, Questionnaire
    from groups.models import Membership, UserGroup

    call_command("migrate", verbosity=0)
    organization = Organization.objects.filter(slug=SLUG).first()
    if organization is not None:
        return organization
    organization = Organization.objects.create(name="Assessment bench", slug=SLUG)
    password = make_password(None)
    users = User.objects.bulk_create(
        [
            User(
                organization=organization,
                first_name=f"First{n}",
                last_name=f"{chr(65 + n % 26)}{chr(97 + n // 26 % 26)}last{n}",
                email=f"user{n}@bench.example",
                password=password,
                status=User.Status.ACTIVE,
                search_text=search_text_for(first_name=f"First{n}", email=f"user{n}@bench.example"),
            )
            for n in range(USERS)
        ],
        batch_size=2000,
    )
    for number, (start, end) in enumerate(GROUPS):
        group = UserGroup.objects.create(organization=organization, name=f"Group {number}")
        Membership.objects.bulk_create(
            [Membership(organization=organization, group=group, user=user) for user in users[start:end]],
            batch_size=5000,
        )
    Contact.objects.bulk_create(
        [
            Contact(organization=organization, last_name=f"Contact{n}", email=f"contact{n}@bench.example")
            for n in range(CONTACTS)
        ]
    )
    questionnaire = Questionnaire.objects.create(organization=organization, title="Bench quiz", is_published=True)
    question = Question.objects.create(organization=organization, questionnaire=questionnaire, position=1, text="?")
    Choice.objects.create(organization=organization, question=question, position=1, text="A", is_correct=True)
    Choice.objects.create(organization=organization, question=question, position=2, text="B")
    return organization


def selection_for(organization):
    from accounts.models import Contact, User
    from flows.assessments import Selection
    from groups.models import UserGroup

    users = list(User.objects.filter(organization=organization).order_by("pk").values_list("pk", "email"))
    pasted = [email for _pk, email in users[PASTED_USERS[0] : PASTED_USERS[1]]]
    pasted += list(
        Contact.objects.filter(organization=organization, email__startswith="contact").values_list("email", flat=True)
    )
    pasted += [f"new{n}@elsewhere.example" for n in range(NEW_ADDRESSES // 2)]
    pasted += [f"06 77 {n // 100:02d} {n % 100:02d} 99" for n in range(NEW_ADDRESSES // 2)]
    return Selection(
        group_ids=tuple(UserGroup.objects.filter(organization=organization).values_list("pk", flat=True)),
        user_ids=tuple(pk for pk, _email in users[PICKED[0] : PICKED[1]]),
        addresses="\n".join(pasted),
    )


def remove(assignment):
    from django.db import transaction

    from accounts.models import Contact
    from assessments.models import Assignee, Assignment
    from invitations.models import Invitation, InvitationBatch

    with transaction.atomic():
        Invitation.objects.filter(batch=assignment.batch_id).delete()
        Assignee.objects.filter(assignment=assignment).delete()
        Assignment.objects.filter(pk=assignment.pk).delete()
        InvitationBatch.objects.filter(pk=assignment.batch_id).delete()
        Contact.objects.filter(organization=assignment.organization_id).exclude(email__startswith="contact").delete()


def main():
    args = parse_args()
    from bench.run import ensure_database

    ensure_database()
    import django

    django.setup()
    from celery import current_app
    from django.conf import settings

    from assessments.models import Questionnaire
    from flows.assessments import assessment_invitation_preview, assessment_invite

    # Publish the packets to a real broker, on a queue nobody reads (deleted at the end).
    queue = f"asgbench-{os.getpid()}"
    current_app.conf.update(broker_url=args.redis, task_always_eager=False, task_default_queue=queue)
    settings.CELERY_TASK_DEFAULT_QUEUE = queue

    organization = generate()
    questionnaire = Questionnaire.objects.get(organization=organization, title="Bench quiz")
    selection = selection_for(organization)

    previews, invites = [], []
    summary = None
    for _run in range(args.runs):
        started = time.perf_counter()
        summary = assessment_invitation_preview(actor=None, questionnaire=questionnaire, selection=selection)
        previews.append(time.perf_counter() - started)
    for _run in range(args.runs):
        started = time.perf_counter()
        assignment, invited = assessment_invite(actor=None, questionnaire=questionnaire, selection=selection)
        invites.append(time.perf_counter() - started)
        assert invited.total == summary.total
        remove(assignment)
    print(
        f"people: groups {summary.group_total} (sum of sizes), picked {summary.picked}, "
        f"invited {summary.total} ({len(summary.invited_users)} users, {len(summary.invited_contacts)} contacts, "
        f"{len(summary.new_contact_addresses)} new), packets {len(summary.packets)}"
    )
    print(f"preview: median {statistics.median(previews):.2f} s  runs {', '.join(f'{t:.2f}' for t in previews)}")
    print(f"invite:  median {statistics.median(invites):.2f} s  runs {', '.join(f'{t:.2f}' for t in invites)}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        assignment, _invited = assessment_invite(actor=None, questionnaire=questionnaire, selection=selection)
        profiler.disable()
        remove(assignment)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    import redis

    redis.Redis.from_url(args.redis).delete(queue)


if __name__ == "__main__":
    main()
