"""A person's outstanding account links end when what they were sent for changes (security review).

An account invitation, a password reset link and a temporary password not sent yet were made for an
address and for the account as it was. Changing a login ID or a channel address, granting or
withdrawing rights (directly, through a rights profile, or by changing or deleting a profile or the
group a right is scoped to), and setting a password in any way revoke all of them, and the person's
history says why. CHANGES lists every way to make such a change; each one is checked through the
real token pages. KEPT lists changes that must leave the links alone.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import StatusChange, User
from accounts.tests.factories import PASSWORD, MembershipFactory, UserFactory
from experquiz import sms
from groups.tests.factories import RightsProfileFactory, grant
from invitations.models import Invitation
from invitations.services import acceptance, account, delivery, resets
from invitations.tokens import hash_token, make_token
from rights.models import ProfileAssignment
from rights.names import Right
from web.people.people_forms import UserForm

from .helpers import last_token

pytestmark = pytest.mark.django_db

Kind = Invitation.Kind
NEW_PASSWORD = "violet-umbrella-42"
REVOKED_NOTE = "Pending links revoked"


# --- The person, their pending links, and how to look at them ---------------------------------------


@pytest.fixture
def person(acme, lyon):
    user = UserFactory(
        organization=acme,
        email="pat@acme.example",
        mobile="+33611111111",
        employee_number="E-7",
        first_name="Pat",
        last_name="Person",
    )
    MembershipFactory(group=lyon, user=user)
    return user


def sent_link(user, kind, **extra) -> str:
    """A link already delivered to `user`, as the worker leaves it; returns its token."""
    token = make_token()
    Invitation.objects.create(
        organization=user.organization,
        kind=kind,
        user=user,
        channel=user.preferred_channel,
        address=user.email,
        token_hash=hash_token(token),
        expires_at=timezone.now() + timedelta(days=1),
        delivery=Invitation.Delivery.SENT,
        sent_at=timezone.now(),
        **extra,
    )
    return token


def unsent_temporary_password(user) -> Invitation:
    return Invitation.objects.create(
        organization=user.organization,
        kind=Kind.TEMPORARY_PASSWORD,
        user=user,
        channel=user.preferred_channel,
        address=user.email,
    )


@dataclass
class Links:
    invitation: str  # token of /i/<token>/
    reset: str  # token of /r/<token>/
    temporary: Invitation  # a temporary password still in the outbox


def pending_links(user) -> Links:
    return Links(
        invitation=sent_link(user, Kind.ACCOUNT),
        reset=sent_link(user, Kind.PASSWORD_RESET),
        temporary=unsent_temporary_password(user),
    )


def problem(path) -> str | None:
    """What the real token page says about a link: None when it offers its form."""
    response = Client(HTTP_HOST="acme.localhost").get(path)
    if response.status_code == 200:
        return None
    assert response.status_code == 410, (path, response.status_code)
    return response.content.decode().split('data-problem="', 1)[1].split('"', 1)[0]


def temporary_password_goes_out(invitation) -> bool:
    before = len(mail.outbox) + len(sms.outbox)
    outcome = delivery.invitations_deliver(invitation_ids=[invitation.pk])
    return bool(outcome.sent) or len(mail.outbox) + len(sms.outbox) > before


# --- Ways to change a person ---------------------------------------------------------------------


@dataclass
class Scene:
    person: User
    alice: User
    alice_client: Client
    maggie_client: Client
    acme: object
    lyon: object
    paris: object
    deliver: Callable
    state: dict = field(default_factory=dict)

    def person_client(self) -> Client:
        client = Client(HTTP_HOST="acme.localhost")
        client.force_login(User.objects.get(pk=self.person.pk))
        return client


def edit_data(person, **changes) -> dict:
    """The user's edit form with its current values, changed by `changes`."""
    data = {key: value for key, value in UserForm.initial_for(person).items() if value is not None}
    return {**data, **changes}


def edit(client, person, **changes):
    response = client.post(reverse("accounts:user_edit", args=[person.pk]), edit_data(person, **changes))
    assert response.status_code == 302, response.content.decode()[:2000]


def import_csv(client, text):
    """Upload a people file on the import page and confirm it (small files are applied in the request)."""
    upload = SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")
    response = client.post(reverse("accounts:user_import"), {"file": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    job_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    response = client.post(reverse("accounts:user_import_confirm", args=[job_id]))
    assert response.status_code == 302
    assert client.get(reverse("accounts:user_import_job", args=[job_id])).context["job"].state == "done"


NO_RIGHTS = {f"{right.value}_scope": "none" for right in Right}


def set_rights(scene, **data):
    response = scene.alice_client.post(reverse("groups:user_rights", args=[scene.person.pk]), {**NO_RIGHTS, **data})
    assert response.status_code == 302, response.content.decode()[:2000]


def held_profile(scene):
    profile = RightsProfileFactory(organization=scene.acme, name="Regional")
    grant(profile, Right.INVITE, scene.lyon)
    ProfileAssignment.objects.create(organization=scene.acme, profile=profile, user=scene.person)
    scene.state["profile"] = profile


def make_administrator(scene):
    User.objects.filter(pk=scene.person.pk).update(is_administrator=True)


def make_invited(scene):
    User.objects.filter(pk=scene.person.pk).update(status=User.Status.INVITED)
    scene.state["token"] = sent_link(scene.person, Kind.ACCOUNT)


def give_a_reset_link(scene):
    scene.state["token"] = sent_link(scene.person, Kind.PASSWORD_RESET)


def give_a_temporary_password(scene):
    User.objects.filter(pk=scene.person.pk).update(must_change_password=True)
    scene.state["temporary"] = unsent_temporary_password(scene.person)


def own_password_change(scene):
    response = scene.person_client().post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302


def reset_password(scene):
    response = Client(HTTP_HOST="acme.localhost").post(
        f"/r/{scene.state['token']}/", {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302


def accept_invitation(scene):
    response = Client(HTTP_HOST="acme.localhost").post(
        f"/i/{scene.state['token']}/",
        {"first_name": "Pat", "last_name": "Person", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302


def deliver_temporary_password(scene):
    assert temporary_password_goes_out(scene.state["temporary"])


def platform_admin_edits(**changes):
    def perform(scene):
        client = Client(HTTP_HOST="localhost")
        client.force_login(User.objects.create_superuser("root@platform.example", "platform-pass-2026"))
        url = f"/admin/accounts/user/{scene.person.pk}/change/"
        form = client.get(url).context["adminform"].form
        data = {name: value for name, value in form.initial.items() if name in form.fields and value is not None}
        data = {name: ("on" if value is True else value) for name, value in data.items() if value is not False}
        data.update(changes)
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:3000]

    return perform


@dataclass
class Change:
    name: str
    perform: Callable
    prepare: Callable = lambda scene: None  # before the links exist: what the change needs
    reason: str = ""  # how the person's history explains the revocation


CHANGES = [
    Change("admin-edits-email", lambda s: edit(s.alice_client, s.person, email="pat.new@acme.example"), reason="email"),
    Change("admin-edits-mobile", lambda s: edit(s.alice_client, s.person, mobile="06 22 22 22 22"), reason="mobile"),
    Change("admin-removes-mobile", lambda s: edit(s.alice_client, s.person, mobile=""), reason="mobile"),
    Change(
        "admin-changes-channel", lambda s: edit(s.alice_client, s.person, preferred_channel="sms"), reason="channel"
    ),
    Change(
        "manager-edits-email",
        lambda s: edit(s.maggie_client, s.person, email="maggie.home@example.org"),
        reason="email",
    ),
    Change(
        "import-updates-email",
        lambda s: import_csv(s.alice_client, "employee_number,email\nE-7,pat.new@acme.example\n"),
        reason="email",
    ),
    Change(
        "import-updates-mobile",
        lambda s: import_csv(s.alice_client, "email,mobile\npat@acme.example,0622222222\n"),
        reason="mobile",
    ),
    Change(
        "import-changes-channel",
        lambda s: import_csv(s.alice_client, "email,preferred_channel\npat@acme.example,sms\n"),
        reason="channel",
    ),
    Change(
        "admin-grants-a-right",
        lambda s: set_rights(s, invite_scope="groups", invite_groups=[s.lyon.pk]),
        reason="rights",
    ),
    Change(
        "admin-withdraws-a-right",
        lambda s: set_rights(s),
        prepare=lambda s: grant(s.person, Right.INVITE, s.lyon),
        reason="rights",
    ),
    Change(
        "admin-widens-a-right",
        lambda s: set_rights(s, invite_scope="all"),
        prepare=lambda s: grant(s.person, Right.INVITE, s.lyon),
        reason="rights",
    ),
    Change(
        "admin-grants-a-profile",
        lambda s: set_rights(s, profiles=[RightsProfileFactory(organization=s.acme).pk]),
        reason="rights",
    ),
    Change("admin-withdraws-a-profile", lambda s: set_rights(s), prepare=held_profile, reason="rights"),
    Change("admin-makes-administrator", lambda s: set_rights(s, is_administrator="on"), reason="rights"),
    Change("admin-removes-administrator", lambda s: set_rights(s), prepare=make_administrator, reason="rights"),
    Change(
        "admin-changes-a-held-profile",
        lambda s: s.alice_client.post(
            reverse("groups:profile_update", args=[s.state["profile"].pk]),
            {**NO_RIGHTS, "name": "Regional", "invite_scope": "all"},
        ),
        prepare=held_profile,
        reason="rights",
    ),
    Change(
        "admin-deletes-a-held-profile",
        lambda s: s.alice_client.post(reverse("groups:profile_delete", args=[s.state["profile"].pk])),
        prepare=held_profile,
        reason="rights",
    ),
    Change(
        "admin-deletes-the-group-a-right-is-scoped-to",
        lambda s: s.alice_client.post(reverse("groups:delete", args=[s.paris.pk])),
        prepare=lambda s: grant(s.person, Right.VIEW_RESULTS, s.paris),
        reason="rights",
    ),
    Change("own-password-change", own_password_change, reason="password"),
    Change("password-reset", reset_password, prepare=give_a_reset_link, reason="password"),
    Change("invitation-accepted", accept_invitation, prepare=make_invited, reason="password"),
    Change(
        "temporary-password-delivered",
        deliver_temporary_password,
        prepare=give_a_temporary_password,
        reason="temporary",
    ),
    Change("platform-admin-edits-email", platform_admin_edits(email="pat.new@acme.example"), reason="email"),
    # The platform admin cannot change rights (is_administrator is read-only there).
]

REASONS = {
    "email": "email address changed",
    "mobile": "mobile number changed",
    "channel": "preferred channel changed",
    "rights": "rights changed",
    "password": "password changed",
    "temporary": "temporary password sent",
}

KEPT = [
    Change(
        "admin-edits-names-language-and-number",
        lambda s: edit(s.alice_client, s.person, first_name="Patricia", language="fr", employee_number="E-8"),
    ),
    Change("admin-edits-email-case-only", lambda s: edit(s.alice_client, s.person, email="PAT@acme.example")),
    Change("admin-edits-mobile-typed-differently", lambda s: edit(s.alice_client, s.person, mobile="06 11 11 11 11")),
    Change("admin-changes-groups", lambda s: edit(s.alice_client, s.person, groups=[s.lyon.pk, s.paris.pk])),
    Change(
        "admin-saves-rights-unchanged",
        lambda s: set_rights(s, invite_scope="groups", invite_groups=[s.lyon.pk]),
        prepare=lambda s: grant(s.person, Right.INVITE, s.lyon),
    ),
    Change(
        "import-updates-names",
        lambda s: import_csv(s.alice_client, "email,first_name,mobile\npat@acme.example,Patricia,+33 6 11 11 11 11\n"),
    ),
    Change(
        "admin-changes-a-profile-held-by-others",
        lambda s: s.alice_client.post(
            reverse("groups:profile_update", args=[RightsProfileFactory(organization=s.acme).pk]),
            {**NO_RIGHTS, "name": "Other", "invite_scope": "all"},
        ),
    ),
    Change(
        "admin-deletes-a-group-no-right-uses",
        lambda s: s.alice_client.post(reverse("groups:delete", args=[s.paris.pk])),
    ),
]


@pytest.fixture
def scene(person, alice, alice_client, maggie_client, acme, lyon, paris, deliver):
    return Scene(person, alice, alice_client, maggie_client, acme, lyon, paris, deliver)


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.name)
def test_a_change_revokes_every_pending_account_link(scene, change):
    change.prepare(scene)
    links = pending_links(scene.person)
    assert problem(f"/i/{links.invitation}/") is None and problem(f"/r/{links.reset}/") is None

    change.perform(scene)

    assert problem(f"/i/{links.invitation}/") == "revoked"
    assert problem(f"/r/{links.reset}/") == "revoked"
    assert not temporary_password_goes_out(links.temporary)
    links.temporary.refresh_from_db()
    assert links.temporary.revoked_at is not None
    note = f"{REVOKED_NOTE}: {REASONS[change.reason]}"
    assert StatusChange.objects.filter(user=scene.person, reason__startswith=note).count() == 1
    assert note in scene.alice_client.get(reverse("accounts:user_detail", args=[scene.person.pk])).content.decode()


@pytest.mark.parametrize("change", KEPT, ids=lambda change: change.name)
def test_other_changes_keep_the_pending_links(scene, change):
    change.prepare(scene)
    links = pending_links(scene.person)

    change.perform(scene)

    assert problem(f"/i/{links.invitation}/") is None
    assert problem(f"/r/{links.reset}/") is None
    links.temporary.refresh_from_db()
    assert links.temporary.revoked_at is None
    assert not StatusChange.objects.filter(user=scene.person, reason__startswith=REVOKED_NOTE).exists()


def test_a_change_with_nothing_pending_writes_no_history(scene):
    edit(scene.alice_client, scene.person, email="pat.new@acme.example")
    assert not StatusChange.objects.filter(user=scene.person, reason__startswith=REVOKED_NOTE).exists()


def test_a_refused_change_revokes_nothing(scene, bob):
    links = pending_links(scene.person)
    response = scene.alice_client.post(
        reverse("accounts:user_edit", args=[scene.person.pk]), edit_data(scene.person, email=bob.email)
    )
    assert response.status_code == 200 and "already belongs to" in response.content.decode()
    assert problem(f"/i/{links.invitation}/") is None and problem(f"/r/{links.reset}/") is None


def test_the_links_of_other_people_are_left_alone(scene, bob):
    others = pending_links(bob)
    edit(scene.alice_client, scene.person, email="pat.new@acme.example")
    set_rights(scene, is_administrator="on")
    assert problem(f"/i/{others.invitation}/") is None and problem(f"/r/{others.reset}/") is None


def test_a_change_to_a_profile_revokes_the_links_of_every_holder_and_only_theirs(scene, bob, otto):
    held_profile(scene)
    ProfileAssignment.objects.create(organization=scene.acme, profile=scene.state["profile"], user=bob)
    holders, other = [pending_links(scene.person), pending_links(bob)], pending_links(otto)
    response = scene.alice_client.post(
        reverse("groups:profile_update", args=[scene.state["profile"].pk]),
        {**NO_RIGHTS, "name": "Regional", "view_results_scope": "all"},
    )
    assert response.status_code == 302
    for links in holders:
        assert problem(f"/i/{links.invitation}/") == "revoked" and problem(f"/r/{links.reset}/") == "revoked"
    assert problem(f"/i/{other.invitation}/") is None and problem(f"/r/{other.reset}/") is None
    assert StatusChange.objects.filter(reason__startswith=REVOKED_NOTE).count() == 2


# --- The reproduction: a manager takes over an account an administrator later promotes --------------


def test_a_manager_cannot_take_over_an_account_through_a_link_sent_to_their_own_address(
    acme, alice_client, maggie_client, lyon, deliver
):
    vic = UserFactory(organization=acme, email="vic@acme.example", first_name="Vic", last_name="Tim", status="created")
    MembershipFactory(group=lyon, user=vic)
    regional = RightsProfileFactory(organization=acme, name="Head office")
    grant(regional, Right.MANAGE_USERS, everyone=True)
    grant(regional, Right.VIEW_RESULTS, everyone=True)

    # The manager points the account at an address of theirs and invites it there…
    edit(maggie_client, vic, email="maggie.home@example.org")
    vic.refresh_from_db()
    deliver(lambda: maggie_client.post(reverse("invitations:user_send", args=[vic.pk])))
    token = last_token("maggie.home@example.org")
    # …puts the address back so nothing looks amiss…
    edit(maggie_client, vic, email="vic@acme.example")
    # …and an administrator later gives the account wide rights.
    response = alice_client.post(reverse("groups:user_rights", args=[vic.pk]), {**NO_RIGHTS, "profiles": [regional.pk]})
    assert response.status_code == 302

    thief = Client(HTTP_HOST="acme.localhost")
    assert problem(f"/i/{token}/") == "revoked"
    response = thief.post(
        f"/i/{token}/",
        {"first_name": "Vic", "last_name": "Tim", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 410
    assert "_auth_user_id" not in thief.session
    vic.refresh_from_db()
    assert vic.status == "invited" and not vic.check_password(NEW_PASSWORD)
    history = alice_client.get(reverse("accounts:user_detail", args=[vic.pk])).content.decode()
    assert f"{REVOKED_NOTE}: email address changed" in history


# --- Finding 10: a reset link asked for before a password change dies with it -----------------------


def test_a_reset_link_requested_before_a_password_change_is_dead_after_it(acme, bob, deliver):
    anon = Client(HTTP_HOST="acme.localhost")
    deliver(lambda: anon.post(reverse("invitations:password_forgot"), {"username": bob.email}))
    token = last_token(bob.email)
    assert problem(f"/r/{token}/") is None

    bobs = Client(HTTP_HOST="acme.localhost")
    bobs.force_login(bob)
    response = bobs.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert bobs.get("/me/").status_code == 200  # the one who changed it stays logged in

    assert problem(f"/r/{token}/") == "revoked"
    response = anon.post(f"/r/{token}/", {"new_password1": "another-pass-77", "new_password2": "another-pass-77"})
    assert response.status_code == 410
    bob.refresh_from_db()
    assert bob.check_password(NEW_PASSWORD)


# --- Races on PostgreSQL: a link used while the account changes -------------------------------------


def race(*actions):
    """Run `actions` in threads started together; return what each returned or raised."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait(10)
            results[index] = action()
        except Exception as exc:  # what each side got is the result
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(6))
def test_a_link_used_while_the_account_changes_is_either_used_first_or_refused(real_db, round_):
    """No deadlock whichever side locks first, and never a link that works after the change."""
    from accounts.services import user_update
    from accounts.tests.factories import AdministratorFactory, OrganizationFactory
    from rights.services import user_rights_set

    acme = OrganizationFactory(slug="acme", name="Acme")
    alice = AdministratorFactory(organization=acme, email="alice@acme.example")
    invited = UserFactory(organization=acme, email="ivy@acme.example", status="invited")
    active = UserFactory(organization=acme, email="ann@acme.example")
    invitation = Invitation.objects.get(token_hash=hash_token(sent_link(invited, Kind.ACCOUNT)))
    reset = Invitation.objects.get(token_hash=hash_token(sent_link(active, Kind.PASSWORD_RESET)))

    def accept():
        return acceptance.invitation_accept(
            invitation=invitation, first_name="Ivy", last_name="I", password=NEW_PASSWORD
        )

    def move():
        fields = {k: v for k, v in UserForm.initial_for(invited).items() if k not in ("groups", "user_type")}
        return user_update(user=invited, actor=alice, user_type=None, **{**fields, "email": "ivy.new@acme.example"})

    def complete_reset():
        return acceptance.password_reset_complete(invitation=reset, password=NEW_PASSWORD)

    def promote():
        return user_rights_set(user=active, actor=alice, is_administrator=True, profiles=[], grants={})

    pairs = [(accept, move), (complete_reset, promote)]
    for use, change in pairs:
        used, changed = race(use, change) if round_ % 2 else race(change, use)[::-1]
        assert isinstance(changed, User), changed  # the change always goes through
        link = Invitation.objects.get(pk=(invitation if use is accept else reset).pk)
        if isinstance(used, User):  # used first: the change found nothing left to revoke
            assert link.used_at is not None and link.revoked_at is None
        else:  # changed first: the link was refused, and nothing of it was applied
            assert isinstance(used, acceptance.InvitationUnusable) and used.reason == "revoked", used
            assert link.used_at is None and link.revoked_at is not None
            assert not User.objects.get(pk=link.user_id).check_password(NEW_PASSWORD)


# --- A link made while the address changes goes to the new address ---------------------------------
# A service that read the user before a change committed must not send to the old address: each one
# locks the user and reads the address again. A copy read before the change stands for that race.


def send_invitation(user, actor):
    return account.invitations_send(organization=user.organization, users=[user], actor=actor).batch.invitations.get()


def activate(user, actor):
    return account.user_activate_with_temporary_password(user=user, actor=actor)


def request_reset(user, actor):
    return resets.password_reset_request(organization=user.organization, user=user)


@pytest.mark.parametrize(
    "status, make",
    [("created", send_invitation), ("created", activate), ("active", request_reset)],
    ids=["account-invitation", "temporary-password", "password-reset"],
)
def test_a_link_made_from_a_stale_copy_of_the_user_goes_to_the_current_address(status, make, acme, alice):
    person = UserFactory(organization=acme, email="old@acme.example", mobile="+33633333333", status=status)
    stale = User.objects.get(pk=person.pk)
    # An edit commits meanwhile: the address and the channel change.
    User.objects.filter(pk=person.pk).update(email="new@acme.example", preferred_channel="sms")
    assert make(stale, alice).address == "+33633333333"
