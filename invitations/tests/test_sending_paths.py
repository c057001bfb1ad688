"""Every path that sends a message checks the sender's right over the recipient (security review,
finding 8): the `invite` right for invitations, `manage_users` for temporary passwords (a temporary
password replaces the user's password, so it takes what activation takes).

SENDING_PATHS lists each path and how to trigger it. For each, an actor who holds every right but the
one the path needs (organisation-wide) triggers it: nothing is queued or sent, nobody becomes
invited, and the page says why. An administrator triggering the same path does send, so a trigger
that no longer reaches its path fails too. test_every_sending_path_is_listed reads the code: every
URL, bulk action, Celery task, Celery worker step and management command that reaches
`invitations_enqueue` (the one way a message leaves) must be covered by a line here or excluded with
its reason.
"""

import ast
import html
import inspect
import re
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import get_commands
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.html import strip_tags

from accounts.models import Contact, ImportJob, User
from accounts.tests.factories import ContactFactory, MembershipFactory, UserFactory, UserGroupFactory
from assessments.tests.factories import make_questionnaire
from conftest import tenant_client
from experquiz import sms
from experquiz.tests.codebase import product_modules
from flows import bulk
from flows.assessments import Selection, assessment_invite
from groups.tests.factories import grant
from invitations.models import Invitation, InvitationBatch
from rights.names import Right

pytestmark = pytest.mark.django_db
Kind = Invitation.Kind
FORBIDDEN_PAGE = "You do not have the rights needed for this page."


@dataclass(frozen=True)
class SendingPath:
    right: str  # the right the sender needs over the recipient
    trigger: object  # (env, client) → response, redirects followed
    covers: tuple  # the entry points of test_every_sending_path_is_listed this line exercises
    refusal: str = FORBIDDEN_PAGE  # what the page says to an actor without the right


def csv_upload(text):
    return SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")


def post(name, *args, data=None):
    # As confirmed on the confirmation page a sending path shows first (it sends nothing before).
    return lambda env, client: client.post(reverse(name, args=args), {**(data or {}), "confirmed": "1"}, follow=True)


def _big_group_resend(env, client):
    with mock.patch.object(bulk, "SYNC_MAX", 0):
        return post("invitations:group_resend", data={"group": env.team.pk})(env, client)


def _import_with_invite(env, client):
    response = client.post(
        reverse("accounts:user_import"),
        {"file": csv_upload("first_name,last_name,email\nIan,Imported,ian@acme.example\n"), "invite": "on"},
        follow=True,
    )
    job = ImportJob.objects.filter(created_by=env.sender(client)).first()
    if job is None or job.state != ImportJob.State.READY:
        return response
    return client.post(reverse("accounts:user_import_confirm", args=[job.pk]), follow=True)


def _confirm_an_import_that_asked_for_invitations(env, client):
    """The right may be gone between the upload and the confirmation: the import happens, nobody is
    invited, and the result says so."""
    sender = env.sender(client)
    job = ImportJob.objects.create(
        organization=env.org,
        created_by=sender,
        filename="people.csv",
        data=b"first_name,last_name,email\nIan,Imported,ian@acme.example\n",
        invite=True,
        state=ImportJob.State.READY,
        report={"error": 0, "rows": []},
        total=1,
    )
    return client.post(reverse("accounts:user_import_confirm", args=[job.pk]), follow=True)


def _window():
    opens = timezone.localtime(timezone.now() + timedelta(minutes=5))
    return {"opens_at": f"{opens:%Y-%m-%dT%H:%M}", "closes_at": f"{opens + timedelta(days=1):%Y-%m-%dT%H:%M}"}


def _review_then_confirm(review_url, confirm_url, data):
    """The assessment invitation pages: the review (which sends nothing) hands the confirmation form
    its one-time key; the trigger posts that form as the browser would. Without a form to post (the
    review refused the sender), the confirmation is posted with the same choice and no key."""

    def trigger(env, client):
        review = client.post(review_url(env), data(env))
        page = review.content.decode()
        if review.status_code != 200 or "data-confirm-form" not in page:
            return client.post(confirm_url(env), data(env), follow=True)
        form = page.split("data-confirm-form", 1)[1].split("</form>", 1)[0]
        posted = {}
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
            posted.setdefault(name, []).append(html.unescape(value))
        return client.post(confirm_url(env), posted, follow=True)

    return trigger


SENDING_PATHS = {
    "invite one user (user page)": SendingPath(
        Right.INVITE,
        lambda env, client: post("invitations:user_send", env.carol.pk)(env, client),
        covers=("url:invitations:user_send",),
    ),
    "invite ticked users": SendingPath(
        Right.INVITE,
        lambda env, client: post("invitations:users_send", data={"users": [env.carol.pk]})(env, client),
        covers=("url:invitations:users_send",),
    ),
    "bulk action: send invitations": SendingPath(
        Right.INVITE,
        lambda env, client: post("accounts:user_bulk", data={"action": "invite", "ids": [env.carol.pk]})(env, client),
        covers=("bulk:invite",),
    ),
    "resend an account invitation": SendingPath(
        Right.INVITE,
        lambda env, client: post("invitations:resend", env.failed_invitation.pk)(env, client),
        covers=("url:invitations:resend",),
    ),
    "resend to a group": SendingPath(
        Right.INVITE,
        lambda env, client: post("invitations:group_resend", data={"group": env.team.pk})(env, client),
        covers=("url:invitations:group_resend",),
    ),
    "resend to a group too big for one request (a worker invites them)": SendingPath(
        Right.INVITE,
        lambda env, client: _big_group_resend(env, client),
        covers=("url:invitations:group_resend", "bulk:invite_group"),
    ),
    "retry a batch's failed messages": SendingPath(
        Right.INVITE,
        lambda env, client: post("invitations:batch_retry", env.batch_of(client).pk)(env, client),
        covers=("url:invitations:batch_retry",),
    ),
    "paste addresses": SendingPath(
        Right.INVITE,
        lambda env, client: post("invitations:paste", data={"addresses": "pat@acme.example", "group": env.team.pk})(
            env, client
        ),
        covers=("url:invitations:paste",),
    ),
    "convert contacts to invited users": SendingPath(
        Right.INVITE,
        lambda env, client: post("accounts:contact_convert", data={"ids": [env.contact.pk], "to": "invited"})(
            env, client
        ),
        covers=("url:accounts:contact_convert",),
        refusal="You do not hold the right to invite, so no contact was converted",
    ),
    "import with invitations": SendingPath(
        Right.INVITE,
        _import_with_invite,
        covers=("url:accounts:user_import_confirm", "task:accounts.tasks.import_apply"),
        refusal="You do not hold the right to invite, so this import cannot send invitations.",
    ),
    "confirm an import that asked for invitations": SendingPath(
        Right.INVITE,
        _confirm_an_import_that_asked_for_invitations,
        covers=("url:accounts:user_import_confirm", "task:accounts.tasks.import_apply"),
        refusal="1 user outside your invitation rights was not invited.",
    ),
    "invite people to an assessment": SendingPath(
        Right.INVITE,
        _review_then_confirm(
            lambda env: reverse("assessments:invite_review", args=[env.quiz.pk]),
            lambda env: reverse("assessments:invite_confirm", args=[env.quiz.pk]),
            lambda env: {"contacts": [env.contact.pk], "addresses": "pat@acme.example", **_window()},
        ),
        covers=("url:assessments:invite_confirm",),
    ),
    "add people to an assessment invitation": SendingPath(
        Right.INVITE,
        _review_then_confirm(
            lambda env: reverse("assessments:assignment_add_review", args=[env.quiz.pk, env.assignment.pk]),
            lambda env: reverse("assessments:assignment_add_confirm", args=[env.quiz.pk, env.assignment.pk]),
            lambda env: {"contacts": [env.contact.pk], "addresses": "pat@acme.example"},
        ),
        covers=("url:assessments:assignment_add_confirm",),
    ),
    # Temporary passwords: manage_users.
    "activate with a temporary password (button)": SendingPath(
        Right.MANAGE_USERS,
        lambda env, client: post("invitations:user_activate", env.carol.pk)(env, client),
        covers=("url:invitations:user_activate",),
    ),
    "activate through the status page": SendingPath(
        Right.MANAGE_USERS,
        lambda env, client: post("accounts:user_status", env.carol.pk, "active")(env, client),
        covers=("url:accounts:user_status",),
    ),
    "bulk action: activate with temporary passwords": SendingPath(
        Right.MANAGE_USERS,
        lambda env, client: post("accounts:user_bulk", data={"action": "activate", "ids": [env.carol.pk]})(env, client),
        covers=("bulk:activate",),
    ),
    "bulk action: reactivate someone who never had a password": SendingPath(
        Right.MANAGE_USERS,
        lambda env, client: post("accounts:user_bulk", data={"action": "reactivate", "ids": [env.nora.pk]})(
            env, client
        ),
        covers=("bulk:reactivate",),
    ),
    "convert contacts to active users": SendingPath(
        Right.MANAGE_USERS,
        lambda env, client: post("accounts:contact_convert", data={"ids": [env.contact.pk], "to": "active"})(
            env, client
        ),
        covers=("url:accounts:contact_convert",),
    ),
    "resend a temporary password that failed": SendingPath(
        Right.MANAGE_USERS,
        lambda env, client: post("invitations:resend", env.failed_password.pk)(env, client),
        covers=("url:invitations:resend",),
        refusal="Only someone who manages this user can send them a new temporary password.",
    ),
}

# Entry points that reach a sending but are not an actor's: nobody's right to check.
EXCLUDED = {
    "url:invitations:password_forgot": "public: a person asks for their own reset link",
    "task:invitations.tasks.password_reset_send": "public: the look-up behind the forgotten-password page",
    "task:invitations.tasks.invitations_sweep": "system: re-queues what was already sent, and reminders of it",
    "task:invitations.tasks.worker_started": "system: a worker's start sweeps, as beat does",
    "task:flows.tasks.assessments_send_reminders": "system: beat reminds those invited to an assessment by whoever "
    "invited them",
    "command:inviteassessment": "the platform operator on the server (no actor) invites to an assessment",
    "step:invitations.tasks.RecoverOnConnect": "system: the worker sweeps when it (re)connects to the broker",
    "command:importusers": "the platform operator on the server (no actor): `--invite` invites whoever it imports; "
    "with `--actor` the person's invite right is checked (flows/tests/test_import_command_actor.py)",
}


# The world: Acme, its administrator, a created user in a group, a contact, failed messages, and the
# two actors who hold everything but one right.


class Env(SimpleNamespace):
    def sender(self, client):
        return User.objects.get(pk=client.session["_auth_user_id"])

    def batch_of(self, client):
        """A batch of the sender's with a failed invitation (non-administrators see only their own)."""
        sender = self.sender(client)
        batch = InvitationBatch.objects.create(organization=self.org, created_by=sender)
        Invitation.objects.filter(pk=self.failed_invitation.pk).update(batch=batch)
        return batch


@pytest.fixture
def env(acme, alice):
    team = UserGroupFactory(organization=acme, name="Team")
    carol = UserFactory(organization=acme, first_name="Carol", last_name="Created", status="created")
    MembershipFactory(group=team, user=carol)
    tess = UserFactory(organization=acme, first_name="Tess", last_name="Temporary", must_change_password=True)
    failed = {"organization": acme, "channel": "email", "delivery": Invitation.Delivery.FAILED, "created_by": alice}
    failed_invitation = Invitation.objects.create(
        user=carol, address=carol.email, expires_at=timezone.now() + timedelta(days=7), **failed
    )
    failed_password = Invitation.objects.create(kind=Kind.TEMPORARY_PASSWORD, user=tess, address=tess.email, **failed)
    # Restored after being deleted before she ever had a password: reactivating her sends her one.
    nora = UserFactory(organization=acme, first_name="Nora", last_name="Nopassword", status="inactive")
    nora.set_unusable_password()
    nora.save(update_fields=["password"])
    # Hold every right but one, over everyone.
    without = {}
    for missing in (Right.INVITE, Right.MANAGE_USERS):
        holder = UserFactory(organization=acme, first_name="Holds", last_name=f"All but {missing}")
        for right in Right:
            if right != missing:
                grant(holder, right, everyone=True)
        without[missing] = holder
    quiz = make_questionnaire(acme, title="Fire safety", created_by=alice)
    # An open assessment invitation of Alice's (to Tess), that people can be added to. Nothing is
    # sent: the test's on-commit callbacks only run inside the trigger.
    assignment, _summary = assessment_invite(
        actor=alice,
        questionnaire=quiz,
        selection=Selection(group_ids=(), user_ids=(tess.pk,), contact_ids=(), addresses=""),
    )
    return Env(
        org=acme,
        alice=alice,
        team=team,
        carol=carol,
        nora=nora,
        contact=ContactFactory(organization=acme, first_name="Cora", last_name="Contact", email="cora@example.org"),
        quiz=quiz,
        assignment=assignment,
        failed_invitation=failed_invitation,
        failed_password=failed_password,
        without=without,
    )


def state():
    """What a sending changes: the invitations (new, re-queued), who is invited, the outboxes."""
    # (A batch the test files a failed invitation in is no sending: batch_id is left out.)
    return (
        [{k: v for k, v in row.items() if k != "batch_id"} for row in Invitation.objects.order_by("pk").values()],
        sorted(User.objects.filter(status=User.Status.INVITED).values_list("pk", flat=True)),
        len(mail.outbox) + len(sms.outbox),
    )


@pytest.fixture(autouse=True)
def _empty_outboxes():
    mail.outbox.clear()
    sms.outbox.clear()


@pytest.mark.parametrize("path", list(SENDING_PATHS))
def test_a_sending_path_sends_nothing_without_the_right_and_says_why(path, env, django_capture_on_commit_callbacks):
    line = SENDING_PATHS[path]
    actor = env.without[line.right]
    client = tenant_client(env.org, actor)
    before = state()
    with django_capture_on_commit_callbacks(execute=True):
        response = line.trigger(env, client)
    assert response.status_code in (200, 403), response.status_code
    assert state() == before, f"{path}: something was queued, sent or marked invited"
    assert line.refusal in strip_tags(response.content.decode()), f"{path}: no clear message"


@pytest.mark.parametrize("path", list(SENDING_PATHS))
def test_the_same_path_sends_for_an_administrator(path, env, django_capture_on_commit_callbacks):
    """The control: the trigger does reach a sending, so the refusal above is the right check's doing."""
    client = tenant_client(env.org, env.alice)
    with django_capture_on_commit_callbacks(execute=True):
        SENDING_PATHS[path].trigger(env, client)
    assert len(mail.outbox) + len(sms.outbox) > 0, f"{path}: an administrator sent nothing"


# Which code paths send: read from the code, so a new one cannot go unlisted ------------------------

SEND = "invitations_enqueue"  # every message leaves through it (the database is the outbox)


def project_functions():
    """{(module, qualname): (name, names it uses)} for every function of the project (tests aside).

    The names used include the dotted strings it uses (such as a task's name), directly or through a
    constant of its module: a task published by name (`current_app.tasks[NAME]`) is used like an
    imported one (see hooks). A dotted string never matches a function's name."""
    functions = {}

    def visit(node, module, prefix, constants):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                used = {n.id for n in ast.walk(child) if isinstance(n, ast.Name)}
                used |= {n.attr for n in ast.walk(child) if isinstance(n, ast.Attribute)}
                used |= {n.value for n in ast.walk(child) if isinstance(n, ast.Constant) and _dotted(n.value)}
                used |= {constants[name] for name in used if name in constants}
                functions[module, prefix + child.name] = (child.name, used)
                visit(child, module, f"{prefix}{child.name}.<locals>.", constants)
            elif isinstance(child, ast.ClassDef):
                visit(child, module, f"{prefix}{child.name}.", constants)

    for module, tree in product_modules():
        constants = {
            node.targets[0].id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and _dotted(node.value.value)
        }
        visit(tree, module, "", constants)
    return functions


def _dotted(value) -> bool:
    return isinstance(value, str) and "." in value and " " not in value


def _last_name(node):
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


def hooks():
    """{name: names of the functions it reaches} for what the code reaches without naming the function:
    a signal (`hook.send(...)` reaches every receiver connected with `hook.connect(receiver)`), and a
    Celery task published by its name (the name reaches the task's function)."""
    reached = {}
    for _module, tree in product_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _last_name(node.func) == "connect" and node.args:
                signal, receiver = _last_name(node.func.value), _last_name(node.args[0])
                if signal and receiver:
                    reached.setdefault(signal, set()).add(receiver)
    from experquiz.celery import app

    app.loader.import_default_modules()
    for task_name, task in app.tasks.items():
        if not task_name.startswith("celery."):
            reached.setdefault(task_name, set()).add(code_of(task.run)[1].rsplit(".", 1)[-1])
    return reached


def functions_that_send():
    """Every function that uses, directly or through others, the function that queues messages.

    Names are matched by their last part, which errs on the side of listing too much (a function of
    the same name elsewhere), never too little.
    """
    functions = project_functions()
    through = hooks()
    # What each function uses, and what it reaches through a hook or a task's name.
    uses = {
        key: used | {target for name in used & through.keys() for target in through[name]}
        for key, (_name, used) in functions.items()
    }
    reached = {key for key, (name, _used) in functions.items() if name == SEND}
    names = {SEND}
    steps = worker_steps()
    grown = True
    while grown:
        grown = False
        for key, (name, _used) in functions.items():
            if key not in reached and uses[key] & names:
                reached.add(key)
                if key not in steps:  # the worker calls a step's start(), nobody names it
                    names.add(name)
                grown = True
    return reached


def worker_steps():
    """The methods of Celery worker steps (bootsteps: classes whose base is a `…Step`), as keys of
    project_functions: the worker calls them (an entry point, like a task), and their names (start,
    stop) are too common to follow."""
    found = set()
    for module, tree in product_modules():
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(str(_last_name(base)).endswith("Step") for base in node.bases):
                found |= {
                    (module, f"{node.name}.{item.name}") for item in node.body if isinstance(item, ast.FunctionDef)
                }
    return found


def url_patterns(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_patterns(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}", pattern.callback


def code_of(function):
    function = inspect.unwrap(function)
    return function.__module__, function.__qualname__


def sending_entry_points() -> set[str]:
    sends = functions_that_send()
    found = set()
    for name, callback in url_patterns(get_resolver(settings.ROOT_URLCONF).url_patterns):
        view_class = getattr(callback, "view_class", None)
        if view_class is not None:
            module = view_class.__module__
            if any((module, f"{view_class.__name__}.{method}") in sends for method in vars(view_class)):
                found.add(f"url:{name}")
        elif code_of(callback) in sends:
            found.add(f"url:{name}")
    for action in bulk.REGISTRY.values():
        if code_of(action.handler) in sends:
            found.add(f"bulk:{action.name}")
    from experquiz.celery import app

    app.loader.import_default_modules()
    for task_name, task in app.tasks.items():
        if not task_name.startswith("celery.") and code_of(task.run) in sends:
            found.add(f"task:{task_name}")
    for module, qualname in sends & worker_steps():
        found.add(f"step:{module}.{qualname.split('.')[0]}")
    for command, app_name in get_commands().items():
        module = f"{app_name}.management.commands.{command}"
        if any(key[0] == module for key in sends):
            found.add(f"command:{command}")
    return found


def test_every_sending_path_is_listed():
    covered = {entry for line in SENDING_PATHS.values() for entry in line.covers} | set(EXCLUDED)
    missing = sending_entry_points() - covered
    assert not missing, (
        f"These entry points send messages but are not in the sending-paths test: {sorted(missing)}. Add a line "
        "to SENDING_PATHS in invitations/tests/test_sending_paths.py (the right it needs and how to trigger it), "
        "or to EXCLUDED with the reason no actor's right applies."
    )


def test_the_list_names_only_entry_points_that_send():
    """A line whose entry point no longer sends is stale (renamed URL, removed action)."""
    stale = ({entry for line in SENDING_PATHS.values() for entry in line.covers} | set(EXCLUDED)) - (
        sending_entry_points()
    )
    assert not stale, f"Stale entries in the sending-paths test: {sorted(stale)}"


def test_the_code_reading_finds_a_new_sending_path(monkeypatch):
    """The guard can fail: a view that sends, unlisted, is found."""
    functions = project_functions()
    functions["accounts.views_new", "remind_everyone"] = ("remind_everyone", {"invitations_send"})
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "project_functions", lambda: functions)
    assert ("accounts.views_new", "remind_everyone") in functions_that_send()


def test_the_code_reading_follows_hooks_and_tasks_published_by_name(monkeypatch):
    """A floor that sends through a hook (a signal whose receiver sends) or publishes a task by its
    name (as the invitations services do) is found too."""
    functions = project_functions()
    functions["accounts.services", "user_nudge"] = ("user_nudge", {"user_nudged", "send"})
    functions["invitations.receivers", "invite_on_nudge"] = ("invite_on_nudge", {"invitations_send"})
    functions["accounts.views_new", "nudge"] = ("nudge", {"user_nudge"})
    functions["accounts.views_new", "queue_it"] = ("queue_it", {"tasks", "invitations.tasks.password_reset_send"})
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "project_functions", lambda: functions)
    real_hooks = hooks()
    monkeypatch.setattr(
        __import__(__name__, fromlist=["x"]), "hooks", lambda: {**real_hooks, "user_nudged": {"invite_on_nudge"}}
    )
    sends = functions_that_send()
    assert ("accounts.views_new", "nudge") in sends
    assert ("accounts.views_new", "queue_it") in sends


def test_the_code_reading_finds_a_worker_step_that_sends_without_following_its_common_name(monkeypatch):
    """A worker step's start() is an entry point; `start` itself (a thread's, a variable's) is not sending."""
    functions = project_functions()
    functions["accounts.steps", "Nudge.start"] = ("start", {"invitations_send"})
    functions["accounts.views_new", "begin"] = ("begin", {"start", "Thread"})
    module = __import__(__name__, fromlist=["x"])
    monkeypatch.setattr(module, "project_functions", lambda: functions)
    real_steps = worker_steps()
    monkeypatch.setattr(module, "worker_steps", lambda: real_steps | {("accounts.steps", "Nudge.start")})
    sends = functions_that_send()
    assert ("accounts.steps", "Nudge.start") in sends and ("accounts.views_new", "begin") not in sends
    assert "step:accounts.steps.Nudge" in sending_entry_points()


# The services check it themselves, whoever calls them ---------------------------------------------


def test_the_sending_service_refuses_a_sender_without_the_invite_right(env):
    from experquiz.authorization import NotAllowed
    from invitations.services.account import invitations_send

    with pytest.raises(NotAllowed, match="You do not hold the right to invite"):
        invitations_send(organization=env.org, users=[env.carol], actor=env.without[Right.INVITE])
    env.carol.refresh_from_db()
    assert env.carol.status == "created" and not Invitation.objects.filter(user=env.carol, used_at=None).exclude(
        pk=env.failed_invitation.pk
    )


def test_the_sending_service_skips_recipients_outside_the_senders_invite_right(env, lyon, maggie):
    """A group-scoped sender: those of their groups are invited, the others skipped with the reason."""
    from invitations.services.account import invitations_send

    ivo = UserFactory(organization=env.org, first_name="Ivo", status="created")
    MembershipFactory(group=lyon, user=ivo)
    result = invitations_send(organization=env.org, users=[ivo, env.carol], actor=maggie)
    assert result.invited == [ivo.pk]
    assert [(user.pk, reason) for user, reason in result.skipped] == [(env.carol.pk, "outside your right to invite")]
    env.carol.refresh_from_db()
    assert env.carol.status == "created"


def test_a_temporary_password_takes_manage_users_at_the_service_too(env):
    from experquiz.errors import DomainError
    from invitations.services.account import user_activate_with_temporary_password

    with pytest.raises(DomainError, match="Only someone who manages Carol Created"):
        user_activate_with_temporary_password(user=env.carol, actor=env.without[Right.MANAGE_USERS])
    env.carol.refresh_from_db()
    assert env.carol.status == "created"


def test_converting_to_invited_without_the_right_converts_nothing(env):
    from flows.contacts import contacts_convert

    converted, refused = contacts_convert(contacts=[env.contact], to="invited", actor=env.without[Right.INVITE])
    assert converted == [] and "right to invite" in refused[0][1]
    assert not User.objects.filter(email="cora@example.org").exists()
    assert Contact.objects.get(pk=env.contact.pk).converted_to is None
