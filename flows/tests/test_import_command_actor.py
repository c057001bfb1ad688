"""`importusers --actor LOGIN_ID`: the command acts for that person, whose rights are checked as on the
import page; without it the operator on the server imports (the system: no right to check)."""

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from accounts.models import User
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db


def _file(tmp_path, text):
    path = tmp_path / "people.csv"
    path.write_text(text)
    return str(path)


def test_an_actor_imports_within_their_groups_and_is_recorded(acme, maggie, lyon, tmp_path, capsys, deliver):
    path = _file(tmp_path, "email,groups\nann@acme.example,Lyon\n")
    deliver(lambda: call_command("importusers", acme.slug, path, "--invite", "--actor", "maggie@acme.example"))
    assert "Invitations: 1 sent." in capsys.readouterr().out
    ann = User.objects.get(email="ann@acme.example")
    assert ann.status == "invited" and ann.created_by == maggie
    assert set(AuditEvent.objects.filter(target_user=ann).values_list("actor", flat=True)) == {maggie.pk}
    assert AuditEvent.objects.filter(action=Action.IMPORT_APPLIED, actor=maggie).exists()
    assert [m.to for m in mail.outbox] == [["ann@acme.example"]]


def test_an_actor_cannot_import_outside_their_groups(acme, maggie, lyon, paris, tmp_path, capsys):
    path = _file(tmp_path, "email,groups\nann@acme.example,Lyon\npia@acme.example,Paris\n")
    with pytest.raises(CommandError, match="1 rows in error"):
        call_command("importusers", acme.slug, path, "--actor", "maggie@acme.example")
    assert "Paris" in capsys.readouterr().out
    assert not User.objects.filter(email__in=["ann@acme.example", "pia@acme.example"]).exists()


def test_an_actor_without_the_right_imports_nothing(acme, bob, tmp_path):
    path = _file(tmp_path, "email\nann@acme.example\n")
    with pytest.raises(CommandError, match="You do not hold the right to manage users"):
        call_command("importusers", acme.slug, path, "--actor", "bob@acme.example")
    assert not User.objects.filter(email="ann@acme.example").exists()


def test_invitations_take_the_actors_invite_right(acme, alice, lyon, tmp_path):
    from groups.tests.factories import grant
    from rights.names import Right

    manager = User.objects.create(organization=acme, email="mo@acme.example", status="active")
    manager.set_password("x")
    manager.save()
    grant(manager, Right.MANAGE_USERS, everyone=True)  # but not invite
    path = _file(tmp_path, "email\nann@acme.example\n")
    with pytest.raises(CommandError, match="right to invite"):
        call_command("importusers", acme.slug, path, "--invite", "--actor", "mo@acme.example")
    assert not User.objects.filter(email="ann@acme.example").exists()


@pytest.mark.parametrize("login_id", ["nobody@acme.example", "mallory@globex.example"])
def test_an_unknown_actor_is_an_error(acme, mallory, tmp_path, login_id):
    path = _file(tmp_path, "email\nann@acme.example\n")
    with pytest.raises(CommandError, match="No active user"):
        call_command("importusers", acme.slug, path, "--actor", login_id)
    assert not User.objects.filter(email="ann@acme.example").exists()


def test_without_an_actor_the_operator_imports_as_the_system(acme, alice, tmp_path):
    path = _file(tmp_path, "email\nann@acme.example\n")
    call_command("importusers", acme.slug, path)
    ann = User.objects.get(email="ann@acme.example")
    assert ann.created_by is None
    assert AuditEvent.objects.get(action=Action.USER_CREATED, target_user=ann).actor is None
