"""The import gives what it gave before it streamed its rows (issue 12): the same report, row by row,
and the same people, groups, history and audit trail, for files generated at random (seeded) over
every rule of the check, as a manager of everyone and as a manager of some groups, and for a
20,000-row file.

`import_equivalence.json` holds digests of what the release before made of the same files in the same
organisation (values that do not depend on database ids: people by their login IDs, groups and types
by name). To make it again with another version of the code, run this module with
IMPORT_EQUIVALENCE_WRITE=1 in that checkout.
"""

import csv
import hashlib
import io
import json
import os
import random
from pathlib import Path

import pytest

from accounts.models import StatusChange, User, UserType
from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from audit.models import AuditEvent
from flows.importing import check_rows, read_table
from flows.imports import users_import
from groups.models import UserGroup
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db
DIGESTS = Path(__file__).with_name("import_equivalence.json")
WRITE = bool(os.environ.get("IMPORT_EQUIVALENCE_WRITE"))
GROUPS = ["Sales", "Lyon", "Paris", "Nantes", "Équipe Nord"]
EXISTING = 60
LISTED = 200


def _world(org):
    """The organisation every file is imported into: types, groups, 60 people, a group-scoped manager."""
    UserType.objects.filter(organization=org).delete()
    for name in ("Employé", "Trainee"):
        UserType.objects.create(organization=org, name=name)
    groups = {name: UserGroupFactory(organization=org, name=name) for name in GROUPS}
    for n in range(EXISTING):
        person = UserFactory(
            organization=org,
            email=f"old{n}@example.com" if n % 5 else "",
            mobile=f"+336100{n:05d}" if n % 2 == 0 or n % 5 == 0 else "",
            employee_number=f"E-{n}" if n % 3 == 0 else "",
            first_name=f"Old{n}",
            last_name="Person",
            preferred_channel="sms" if n % 5 == 0 else "email",
        )
        if n % 4 == 0:
            MembershipFactory(group=groups["Lyon"], user=person)
    manager = UserFactory(organization=org, email="manager@example.com", first_name="Manager", last_name="Lyon")
    grant(manager, Right.MANAGE_USERS, groups["Lyon"], groups["Paris"])
    return manager


def _cell(rng, kind):
    n = rng.randrange(10_000)
    old = rng.randrange(EXISTING)
    return {
        "new_email": f"new{n}@example.com",
        "NEW_EMAIL": f" New{n}@Example.COM ",
        "old_email": f"OLD{old}@example.com",
        "bad_email": rng.choice(["not-an-email", "a@b", "x" * 300 + "@example.com"]),
        "new_mobile": rng.choice([f"06 2{n:04d} 1 2 3"[:14], f"+33 7 {n:08d}"[:16], f"00336{n:08d}"[:13]]),
        "old_mobile": f"06 10 0{old:05d}"[:14] if old % 2 == 0 else f"+336100{old:05d}",
        "bad_mobile": rng.choice(["12", "06 12", "+99 123", "1" * 40]),
    }[kind]


def _row(rng):
    """A row that breaks a rule of the check now and then (about half of the rows break none)."""

    def pick(*weighted):
        return rng.choices(weighted[::2], weighted[1::2])[0]

    email = pick("", 2, "new_email", 12, "NEW_EMAIL", 2, "old_email", 4, "bad_email", 1)
    mobile = pick("", 8, "new_mobile", 8, "old_mobile", 4, "bad_mobile", 1)
    number = pick("", 20, f"E-{rng.randrange(EXISTING)}", 3, f"N-{rng.randrange(5000)}", 3, "9" * 60, 1)
    groups = ", ".join(map("G{}".format, range(14)))
    return [
        pick("Ann", 10, "Zoé", 10, "", 4, "Ō" * 160, 1, "=cmd", 1),
        pick("Lefèvre", 5, "", 2, "O’Neil", 2),
        _cell(rng, email) if email else "",
        _cell(rng, mobile) if mobile else "",
        number,
        pick("", 10, "employe", 4, "TRAINEE", 4, "Astronaut", 1),
        pick("", 4, "Sales", 4, "lyon; Paris", 8, "equipe nord|Nantes", 2, "Nowhere", 1, groups, 1),
        pick("", 10, "fr", 4, "English", 4, "klingon", 1),
        pick("", 20, "sms", 4, "Email", 4, "texto", 2, "pigeon", 1),
    ]


def _valid_row(rng, n, used):
    """A row without error: a new person, or (one time in ten) one of the people of Lyon by one of
    their keys (some of them twice, by two different keys: the last row is applied)."""
    email, number = f"p{n}@example.com" if n % 7 else "", f"M-{n}" if n % 3 == 0 else ""
    mobile = f"07 5{n // 10_000 % 10} {n // 100 % 100:02d} {n % 100:02d} {rng.randrange(100):02d}"
    if rng.random() < 0.1:
        old = rng.randrange(4, EXISTING, 4)
        keys = [key for key in ("email", "mobile", "number") if (old, key) not in used]
        has = {"email": old % 5 != 0, "mobile": old % 2 == 0 or old % 5 == 0, "number": old % 3 == 0}
        keys = [key for key in keys if has[key]]
        if keys:
            key = rng.choice(keys)
            used.add((old, key))
            email, mobile, number = "", "", ""
            if key == "email":
                email = f"OLD{old}@example.com"
            elif key == "mobile":
                mobile = f"06 10 0{old:05d}"[:14] if rng.random() < 0.5 else f"+336100{old:05d}"
            else:
                number = f"E-{old}"
    return [
        f"First{n}",
        rng.choice(["Lefèvre", "", "Dupont"]),
        email,
        mobile,
        number,
        rng.choice(["", "employe", "Trainee"]),
        rng.choice(["Lyon", "Paris; Lyon", "paris"]),
        rng.choice(["", "fr", "en"]),
        rng.choice(["", "sms", "email"]) if mobile and email else "",
    ]


HEADER = "first_name;last_name;email;mobile;employee_number;user_type;groups;language;preferred_channel"


def _file(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(HEADER.split(";"))
    writer.writerows(rows)
    return out.getvalue().encode()


def _report_rows(report):
    return [
        [row["row"], row["action"], row["label"], [list(e) for e in row["errors"]], [list(c) for c in row["cells"]]]
        + [[list(map(str, change)) for change in row["changes"]]]
        for row in report["rows"]
    ]


def _key(user_id, people):
    return people.get(user_id, "")


def _state(org) -> dict:
    """What the organisation holds, without database ids."""
    people = {
        pk: f"{email}|{mobile}|{number}"
        for pk, email, mobile, number in User.objects.filter(organization=org).values_list(
            "pk", "email", "mobile", "employee_number"
        )
    }
    types = dict(UserType.objects.filter(organization=org).values_list("pk", "name"))
    users = sorted(
        [
            people[user.pk],
            user.first_name,
            user.last_name,
            types.get(user.user_type_id, ""),
            user.language,
            user.preferred_channel,
            user.status,
            user.search_text,
            _key(user.created_by_id, people),
            sorted(g.name for g in user.user_groups.all()),
        ]
        for user in User.objects.filter(organization=org).prefetch_related("user_groups")
    )
    history = sorted(
        [_key(user_id, people), from_status, to_status, _key(actor_id, people), reason]
        for user_id, from_status, to_status, actor_id, reason in StatusChange.objects.filter(
            organization=org
        ).values_list("user_id", "from_status", "to_status", "actor_id", "reason")
    )
    groups = dict(UserGroup.objects.filter(organization=org).values_list("pk", "name"))
    events = AuditEvent.objects.filter(organization=org).values_list(
        "action", "target_type", "target_id", "target_label", "target_user_id", "before", "after", "actor_id"
    )
    trail = sorted(
        json.dumps(
            [
                action,
                target_type,
                label,
                _key(target_user, people),
                groups.get(target_id, "") if target_type == "usergroup" else "",
                before,
                after,
                _key(actor_id, people),
            ],
            sort_keys=True,
        )
        for action, target_type, target_id, label, target_user, before, after, actor_id in events
    )
    return {"users": users, "history": history, "trail": trail}


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _outcome(org, actor, data) -> dict:
    header, rows = read_table(data)
    check = check_rows(organization=org, actor=actor, header=header, rows=rows)
    report = check.report(LISTED)  # what an import job keeps: every count, the first rows of each kind
    outcome = {
        "counts": [report["create"], report["update"], report["error"]],
        "report": _digest(_report_rows(report)),
    }
    if not check.has_errors:
        result = users_import(organization=org, actor=actor, check=check, source="people.csv")
        outcome["result"] = [result["created"], result["updated"]]
        outcome["state"] = _digest(_state(org))
    return outcome


CASES = [(seed, who, "mixed") for seed in range(12) for who in ("admin", "manager")]
CASES += [(seed, who, "valid") for seed in range(4) for who in ("admin", "manager")]


def _expected():
    return json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}


@pytest.mark.parametrize(("seed", "who", "kind"), CASES)
def test_a_file_gives_what_it_gave_before(acme, alice, seed, who, kind):
    manager = _world(acme)
    actor = alice if who == "admin" else manager
    rng = random.Random(seed)
    used = set()
    rows = [_row(rng) for _ in range(150)] if kind == "mixed" else [_valid_row(rng, n, used) for n in range(300)]
    outcome = _outcome(acme, actor, _file(rows))
    name = f"{kind}-{seed}-{who}"
    if WRITE:
        _record(name, outcome)
        return
    assert outcome == _expected()[name]
    if kind == "valid":
        assert "state" in outcome, "a valid file is written"


@pytest.mark.slow
def test_a_20000_row_file_gives_what_it_gave_before(acme, alice):
    _world(acme)
    rng = random.Random(20_000)
    used = set()
    outcome = _outcome(acme, alice, _file([_valid_row(rng, n, used) for n in range(20_000)]))
    if WRITE:
        _record("valid-20000", outcome)
        return
    assert outcome == _expected()["valid-20000"]
    assert outcome["counts"][2] == 0 and outcome["result"][0] > 17_000


def _record(name, outcome):
    recorded = _expected()
    recorded[name] = outcome
    DIGESTS.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
