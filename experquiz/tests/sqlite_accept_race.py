"""Run by test_sqlite_concurrency in a process of its own: the `make run` configuration (development
settings, a SQLite file) with several invitations each accepted twice at the same moment.

    python experquiz/tests/sqlite_accept_race.py DB_PATH PAIRS

Prints one JSON line: for each invitation, the two answers (status code and the problem page shown).
"""

import json
import os
import re
import sys
import threading
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(db_path: str, pairs: int) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "experquiz.settings.dev"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.services import organization_create, user_create, users_mark_invited
    from invitations.models import Invitation
    from invitations.tokens import hash_token

    call_command("migrate", verbosity=0)
    organization = organization_create(
        name="Race", slug="race", admin_email="admin@race.example", admin_password="a long admin password"
    )
    tokens = []
    for n in range(pairs):
        user = user_create(organization=organization, actor=None, email=f"invitee{n}@race.example")
        # Invited as the sending service marks people (a new person starts created).
        users_mark_invited(organization=organization, user_ids=[user.pk], actor=None)
        token = f"race-token-{n}"
        Invitation.objects.create(
            organization=organization,
            user=user,
            channel="email",
            address=user.email,
            token_hash=hash_token(token),
            expires_at=timezone.now() + timedelta(days=7),
            delivery=Invitation.Delivery.SENT,
        )
        tokens.append(token)
    connection.close()

    form = {
        "first_name": "Ina",
        "last_name": "Vitee",
        "new_password1": "a sturdy passphrase 42",
        "new_password2": "a sturdy passphrase 42",
    }
    results = []
    for token in tokens:
        barrier = threading.Barrier(2)
        answers = [None, None]

        def accept(slot, token=token, barrier=barrier, answers=answers):
            client = Client(HTTP_HOST="race.localhost")
            client.raise_request_exception = False
            try:
                barrier.wait()
                response = client.post(f"/i/{token}/", form)
                shown = re.search(r'data-problem="(\w+)"', response.content.decode())
                problem = shown.group(1) if shown else None
                answers[slot] = {"status": response.status_code, "problem": problem}
            except Exception as error:  # reported, not raised: the parent test shows it
                answers[slot] = {"status": "exception", "problem": repr(error)}
            finally:
                connection.close()

        threads = [threading.Thread(target=accept, args=(slot,)) for slot in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        results.append(answers)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
