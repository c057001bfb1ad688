"""The access matrix's registry: who may open which page, and how to make the objects its URL names.

Every URL pattern of the tenant URLconf must have a line in ACCESS, and every URL kwarg must be
known to KWARG_KINDS (or to the line's `kinds`): test_access_matrix fails, naming the page, until it
is registered, so a page added later cannot escape the matrix. Registering a page is one line:

    "accounts:user_detail": Access(Right.MANAGE_USERS, kinds={"pk": "user"}),

`gate` is what the view checks: PUBLIC (no login), LOGGED_IN (any user, only their own data),
ADMINISTRATOR or a scoped Right. The matrix derives every expected status from it: anonymous →
302 to the login page, a user without the right → 403, an object out of the actor's scope or of
another tenant → 404, otherwise `ok`. `expect` overrides a cell when a page behaves differently on
purpose (e.g. the home page redirects non-administrators to their own space).

A PUBLIC page that names an object (a link's token) finds it only on its own tenant: another
tenant's token, or one that page does not know (OUT_OF_SCOPE), is a 404 for everyone.

`post_only` pages (an action behind a button) answer a GET with 405, or with their refusal, and
never act on it; the matrix POSTs an empty form in every cell: the refused ones must change
nothing, the allowed ones must reach the action (`ok`, usually the redirect back).

Some kwargs are plain values rather than objects (an export format, a target status): VALUE_KINDS
lists the values the matrix tries, each in every cell.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from accounts.models import BulkChange, BulkJob, Contact, ImportJob, StatusChange, User
from accounts.tests.factories import (
    AdministratorFactory,
    ContactFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UserGroupFactory,
    UserTypeFactory,
)
from assessments.models import Assignee, Assignment, Attempt
from assessments.tests.factories import AssigneeFactory, AssignmentFactory, make_assignment, make_questionnaire
from audit.models import Action, AuditEvent
from groups.tests.factories import RightsProfileFactory, grant
from invitations.models import Invitation, InvitationBatch
from invitations.tokens import hash_token
from rights.names import ADMINISTRATOR, Right

PUBLIC = "public"
LOGGED_IN = "logged_in"

# Where the objects of a URL come from, relative to tenant A (Acme).
IN_SCOPE, OUT_OF_SCOPE, OTHER_TENANT = "in_scope", "out_of_scope", "other_tenant"
PLACES = (IN_SCOPE, OUT_OF_SCOPE, OTHER_TENANT)


@dataclass(frozen=True)
class Access:
    gate: str
    ok: int = 200
    kinds: dict = field(default_factory=dict)
    # {(actor, place): status}, {actor: status} or {place: status}, looked up in that order

    expect: dict = field(default_factory=dict)
    # POST an empty form where access must be refused, and check nothing changed.
    post: bool = True
    # Only POST does anything: GET is a 405 (or the refusal), and allowed cells POST too.
    post_only: bool = False
    # (world) → a form that actors allowed on the page POST (once per cell): wherever it leads,
    # redirects followed, the page must not be a 500 nor show anyone out of their scope.
    data: object = None


# Whose attempts are whose (see World): only their taker reaches them.
ATTEMPTS = {
    ("manager_a", IN_SCOPE): 404,
    ("plain_a", IN_SCOPE): 404,
    ("admin_a", OUT_OF_SCOPE): 404,
    ("plain_a", OUT_OF_SCOPE): 404,
}

ACCESS = {
    # accounts
    "home": Access(LOGGED_IN, expect={"manager_a": 302, "plain_a": 302}),
    "accounts:login": Access(PUBLIC, expect={"admin_a": 302, "manager_a": 302, "plain_a": 302, "admin_b": 302}),
    "accounts:logout": Access(LOGGED_IN, ok=405, post=False),
    "accounts:password_change": Access(LOGGED_IN),
    "accounts:me": Access(LOGGED_IN),
    "set_language": Access(PUBLIC, ok=302, post=False),
    # groups and rights
    "groups:list": Access(Right.MANAGE_USERS),
    "groups:create": Access(ADMINISTRATOR),
    "groups:grid": Access(Right.MANAGE_USERS),
    "groups:detail": Access(Right.MANAGE_USERS),
    "groups:update": Access(ADMINISTRATOR),
    "groups:delete": Access(ADMINISTRATOR),
    "groups:add_members": Access(Right.MANAGE_USERS),
    # Without ?users= the page sends the actor back to the group to pick members first.
    "groups:remove_members": Access(Right.MANAGE_USERS, ok=302),
    "groups:rights": Access(ADMINISTRATOR),
    "groups:profile_create": Access(ADMINISTRATOR),
    "groups:profile_update": Access(ADMINISTRATOR),
    "groups:profile_delete": Access(ADMINISTRATOR),
    "groups:user_rights": Access(ADMINISTRATOR),
    # people (post=False: a read-only page answers a POST with 405 before reading anything)
    "accounts:user_list": Access(Right.MANAGE_USERS),
    # A new person put in the manager's group: created, then shown on their page.
    "accounts:user_create": Access(
        Right.MANAGE_USERS,
        data=lambda world: {
            "first_name": "Nina",
            "last_name": "Newcomer",
            "email": "NINA.NEWCOMER@ACME.EXAMPLE",
            "preferred_channel": "email",
            "language": "en",
            "groups": [world.groups[IN_SCOPE].pk],
        },
    ),
    # Everyone's ids, as a tampered form would send them: only those in scope are acted on.
    "accounts:user_bulk": Access(
        Right.MANAGE_USERS,
        ok=302,
        post_only=True,
        data=lambda world: {
            "action": "add_to_group",
            "confirmed": "1",
            "ids": [user.pk for user in world.users.values()],
            "group": world.groups[IN_SCOPE].pk,
        },
    ),
    # A background job is seen only by whoever started it (IN_SCOPE is the manager's own job).
    "accounts:user_bulk_job": Access(
        Right.MANAGE_USERS, kinds={"pk": "bulk_job"}, expect={("admin_a", IN_SCOPE): 404}, post=False
    ),
    # Undone only by whoever ran the action (IN_SCOPE is the manager's own job): a first POST shows
    # what the undo would do, a confirmed one does it.
    "accounts:user_bulk_undo": Access(
        Right.MANAGE_USERS,
        post_only=True,
        kinds={"pk": "bulk_job"},
        expect={("admin_a", IN_SCOPE): 404},
        data=lambda world: {"confirmed": "1"},
    ),
    "accounts:user_export": Access(Right.MANAGE_USERS),
    "accounts:user_import": Access(Right.MANAGE_USERS),
    "accounts:user_import_sample": Access(Right.MANAGE_USERS),
    # An import is seen only by whoever uploaded it (IN_SCOPE is the manager's own import).
    "accounts:user_import_job": Access(
        Right.MANAGE_USERS, kinds={"pk": "import_job"}, expect={("admin_a", IN_SCOPE): 404}, post=False
    ),
    # Same: only the uploader follows or confirms an import.
    "accounts:user_import_progress": Access(
        Right.MANAGE_USERS, kinds={"pk": "import_job"}, expect={("admin_a", IN_SCOPE): 404}, post=False
    ),
    # Same: only the uploader confirms an import.
    "accounts:user_import_confirm": Access(
        Right.MANAGE_USERS, ok=302, post_only=True, kinds={"pk": "import_job"}, expect={("admin_a", IN_SCOPE): 404}
    ),
    "accounts:user_detail": Access(Right.MANAGE_USERS, kinds={"pk": "user"}, post=False),
    "accounts:user_edit": Access(Right.MANAGE_USERS, kinds={"pk": "user"}),
    "accounts:user_status": Access(Right.MANAGE_USERS, kinds={"pk": "user"}),
    "accounts:contact_list": Access(Right.MANAGE_USERS),
    # Contacts belong to no group: a group-scoped manager neither creates nor imports any.
    "accounts:contact_create": Access(Right.MANAGE_USERS, expect={"manager_a": 404}),
    "accounts:contact_import": Access(Right.MANAGE_USERS, expect={"manager_a": 404}),
    "accounts:contact_convert": Access(
        Right.MANAGE_USERS,
        ok=302,
        post_only=True,
        data=lambda world: {"ids": [contact.pk for contact in world.contacts.values()], "to": "created"},
    ),
    # Contacts belong to no group: only organisation-wide holders of the right reach any contact.
    "accounts:contact_edit": Access(Right.MANAGE_USERS, kinds={"pk": "contact"}, expect={("manager_a", IN_SCOPE): 404}),
    # Same: contacts are out of a group-scoped manager's reach.
    "accounts:contact_delete": Access(
        Right.MANAGE_USERS, kinds={"pk": "contact"}, expect={("manager_a", IN_SCOPE): 404}
    ),
    "accounts:organization_settings": Access(
        ADMINISTRATOR,
        data=lambda world: {
            "language": "fr",
            "phone_region": "FR",
            "invitation_lifetime_days": 14,
            "invitation_reminder_days": 2,
            "sending": "at_once",
            "default_window_hours": 24,
            "assessment_reminder_hours": 0,
        },
    ),
    "accounts:user_type_list": Access(ADMINISTRATOR),
    "accounts:user_type_edit": Access(ADMINISTRATOR, kinds={"pk": "user_type"}),
    "accounts:user_type_delete": Access(ADMINISTRATOR, ok=302, post_only=True, kinds={"pk": "user_type"}),
    # invitations: links in messages (anyone holding the link) ...
    "invitations:accept": Access(PUBLIC, kinds={"token": "account_token"}),
    "invitations:reset": Access(PUBLIC, kinds={"token": "reset_token"}),
    "invitations:password_forgot": Access(PUBLIC),
    # ... and the admin pages
    "invitations:list": Access(Right.INVITE),
    # Known addresses are typed in capitals: the page may echo what was typed, not who it belongs to.
    "invitations:paste": Access(
        Right.INVITE,
        data=lambda world: {
            "addresses": "\n".join(
                [world.users[IN_SCOPE].email.upper(), world.users[OUT_OF_SCOPE].email.upper(), "NEWCOMER@ACME.EXAMPLE"]
            ),
            "group": world.groups[IN_SCOPE].pk,
        },
    ),
    "invitations:resend": Access(Right.INVITE, ok=302, post_only=True, kinds={"pk": "invitation"}),
    "invitations:revoke": Access(Right.INVITE, ok=302, post_only=True, kinds={"pk": "invitation"}),
    "invitations:group_resend": Access(
        Right.INVITE, ok=302, post_only=True, data=lambda world: {"group": world.groups[IN_SCOPE].pk, "confirmed": "1"}
    ),
    "invitations:batch": Access(Right.INVITE, kinds={"pk": "batch"}),
    "invitations:batch_progress": Access(Right.INVITE, kinds={"pk": "batch"}),
    "invitations:batch_retry": Access(Right.INVITE, ok=302, post_only=True, kinds={"pk": "batch"}),
    "invitations:users_send": Access(
        Right.INVITE,
        ok=302,
        post_only=True,
        data=lambda world: {"users": [u.pk for u in world.users.values()], "confirmed": "1"},
    ),
    "invitations:user_send": Access(Right.INVITE, ok=302, post_only=True),
    "invitations:user_revoke": Access(Right.INVITE, ok=302, post_only=True),
    # A POST first shows the confirmation (what will be sent, to which address); confirmed, it acts.
    "invitations:user_activate": Access(Right.MANAGE_USERS, post_only=True, data=lambda world: {"confirmed": "1"}),
    # the audit trail
    "audit:list": Access(ADMINISTRATOR),
    "audit:export": Access(ADMINISTRATOR),
    # questionnaires (IN_SCOPE is shown to the manager's group, OUT_OF_SCOPE to another group only)
    "assessments:list": Access(Right.MANAGE_QUESTIONNAIRES),
    "assessments:create": Access(
        Right.MANAGE_QUESTIONNAIRES,
        data=lambda world: {
            "title": "Newquiz",
            "kind": "evaluation",
            "visibility": "groups",
            "groups": [world.groups[IN_SCOPE].pk],
        },
    ),
    "assessments:import": Access(Right.MANAGE_QUESTIONNAIRES),
    "assessments:detail": Access(Right.MANAGE_QUESTIONNAIRES),
    "assessments:update": Access(Right.MANAGE_QUESTIONNAIRES),
    "assessments:delete": Access(Right.MANAGE_QUESTIONNAIRES),
    "assessments:publish": Access(Right.MANAGE_QUESTIONNAIRES, ok=302, post_only=True),
    "assessments:unpublish": Access(Right.MANAGE_QUESTIONNAIRES, ok=302, post_only=True),
    "assessments:export": Access(Right.MANAGE_QUESTIONNAIRES),
    "assessments:question_create": Access(
        Right.MANAGE_QUESTIONNAIRES,
        data=lambda world: {"text": "Newquestion?", "choice_1": "Yes", "correct_1": "on", "choice_2": "No"},
    ),
    "assessments:question_update": Access(Right.MANAGE_QUESTIONNAIRES),
    "assessments:question_delete": Access(Right.MANAGE_QUESTIONNAIRES),
    "assessments:question_move": Access(Right.MANAGE_QUESTIONNAIRES, ok=302, post_only=True),
    # inviting people to one (invite, over the questionnaires it reaches: IN_SCOPE is shown to the
    # manager's group, OUT_OF_SCOPE to another group only); the assignments are of those questionnaires
    "assessments:invite": Access(Right.INVITE),
    # An empty form comes back with its errors; a real one shows the summary (and writes nothing).
    "assessments:invite_review": Access(
        Right.INVITE, post_only=True, data=lambda world: invite_form(world.groups[IN_SCOPE])
    ),
    # Without the review's one-time key: sent back to review, nothing made.
    "assessments:invite_confirm": Access(
        Right.INVITE, post_only=True, data=lambda world: invite_form(world.groups[IN_SCOPE])
    ),
    "assessments:assignment": Access(Right.INVITE),
    "assessments:assignment_add": Access(Right.INVITE),
    "assessments:assignment_add_review": Access(
        Right.INVITE, post_only=True, data=lambda world: invite_form(world.groups[IN_SCOPE])
    ),
    "assessments:assignment_add_confirm": Access(Right.INVITE, post_only=True),
    # GET asks to confirm (the POST, which removes the person, is tested in web/assessments/tests).
    "assessments:assignee_remove": Access(Right.INVITE),
    # results (view_results; the manager reads Lyon's): IN_SCOPE is shown to Lyon, with Ines, Otto and a
    # contact invited, OUT_OF_SCOPE shown to Paris only. Contacts need the right over everyone.
    "assessments:results": Access(Right.VIEW_RESULTS, post=False),
    "assessments:results_questionnaire": Access(Right.VIEW_RESULTS, post=False),
    "assessments:results_export": Access(Right.VIEW_RESULTS, post=False),
    "assessments:results_user": Access(Right.VIEW_RESULTS, post=False),
    "assessments:results_contact": Access(Right.VIEW_RESULTS, post=False, expect={("manager_a", IN_SCOPE): 404}),
    # taking one freely, from one's own space: IN_SCOPE is open to every Acme user, OUT_OF_SCOPE is
    # shown to a group none of the actors is in.
    "assessments:take_start": Access(
        LOGGED_IN,
        ok=302,
        post_only=True,
        kinds={"questionnaire_id": "open_questionnaire"},
        expect={("admin_a", OUT_OF_SCOPE): 404, ("plain_a", OUT_OF_SCOPE): 404},
    ),
    # An attempt is its taker's only: IN_SCOPE is the administrator's own, OUT_OF_SCOPE someone else's.
    "assessments:take": Access(LOGGED_IN, ok=302, post=False, kinds={"attempt_id": "attempt"}, expect=ATTEMPTS),
    "assessments:take_question": Access(LOGGED_IN, kinds={"attempt_id": "attempt"}, expect=ATTEMPTS),
    "assessments:take_review": Access(LOGGED_IN, post=False, kinds={"attempt_id": "attempt"}, expect=ATTEMPTS),
    "assessments:take_submit": Access(
        LOGGED_IN, ok=302, post_only=True, kinds={"attempt_id": "attempt"}, expect=ATTEMPTS
    ),
    "assessments:assigned_start": Access(
        LOGGED_IN, ok=302, post_only=True, kinds={"assignee_id": "taker_place"}, expect=ATTEMPTS
    ),
    # The assessment link (a contact's, which is their credential: whoever is signed in) and the pages
    # of the contact's attempt, which send a browser that did not start it back to the link's page.
    "assessment_link": Access(PUBLIC, kinds={"token": "assessment_token"}),
    "assessment_link_opened": Access(PUBLIC, ok=204, post_only=True, kinds={"token": "assessment_token"}),
    "assessment_link_question": Access(PUBLIC, ok=302, kinds={"token": "assessment_token"}),
    "assessment_link_review": Access(PUBLIC, ok=302, post=False, kinds={"token": "assessment_token"}),
    "assessment_link_submit": Access(PUBLIC, ok=302, post_only=True, kinds={"token": "assessment_token"}),
}


def invite_form(group) -> dict:
    """Whom to invite (`group` and a new address) and when: a form an inviter may post."""
    opens = timezone.localtime() + timedelta(hours=1)
    return {
        "groups": [group.pk],
        "addresses": "newcomer@elsewhere.example",
        "opens_at": opens.strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (opens + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
    }


# URL kwarg name → kind of object it names (a line's `kinds` overrides, e.g. for a bare "pk").
KWARG_KINDS = {
    "user_id": "user",
    "group_id": "group",
    "profile_id": "profile",
    "contact_id": "contact",
    "fmt": "format",
    "to": "status",
    "questionnaire_id": "questionnaire",
    "question_id": "question",
    "attempt_id": "attempt",
    "number": "question_number",
    "assignment_id": "assignment",
    "assignee_id": "assignee",
}

# Kinds of plain values: each value is tried in every cell (they name no tenant's object).
VALUE_KINDS = {
    "format": ("csv", "xlsx"),
    "status": (User.Status.INACTIVE, User.Status.DELETED),
    "question_number": (1, 2),
}


# The world ---------------------------------------------------------------------------------------


class World:
    """Tenant A (Acme) and tenant B (Globex) with one person per role and one object per place.

    Names are distinctive so that a leak shows up as a plain substring of a response body.
    """

    def __init__(self):
        self.acme = OrganizationFactory(slug="acme", name="Acme")
        self.globex = OrganizationFactory(slug="globex", name="Globex")
        self.lyon = UserGroupFactory(organization=self.acme, name="Lyonteam")
        self.paris = UserGroupFactory(organization=self.acme, name="Paristeam")
        self.berlin = UserGroupFactory(organization=self.globex, name="Berlinteam")
        person = self.person
        self.actors = {
            "admin_a": AdministratorFactory(
                organization=self.acme, first_name="Alice", last_name="Adminacme", email="alice@acme.example"
            ),
            "manager_a": person(self.acme, "Maggie", "Managerlyon", groups=[]),
            "plain_a": person(self.acme, "Bob", "Plainacme"),
            "admin_b": AdministratorFactory(
                organization=self.globex, first_name="Mallory", last_name="Adminglobex", email="mallory@globex.example"
            ),
        }
        # The manager holds manage_users, invite, manage_questionnaires and view_results over Lyon; nothing else.
        grant(self.actors["manager_a"], Right.MANAGE_USERS, self.lyon)
        grant(self.actors["manager_a"], Right.VIEW_RESULTS, self.lyon)
        grant(self.actors["manager_a"], Right.INVITE, self.lyon)
        grant(self.actors["manager_a"], Right.MANAGE_QUESTIONNAIRES, self.lyon)
        # Ines is in the manager's group and in another: pages that list her groups must show the
        # manager only theirs (a group's name is out-of-scope information too).
        self.users = {
            IN_SCOPE: person(self.acme, "Ines", "Inscopelyon", groups=[self.lyon, self.paris]),
            OUT_OF_SCOPE: person(self.acme, "Otto", "Outscopeparis", groups=[self.paris]),
            OTHER_TENANT: person(self.globex, "Gina", "Globexperson", groups=[self.berlin]),
        }
        person(self.acme, "Nora", "Nogroupacme")
        self.groups = {IN_SCOPE: self.lyon, OUT_OF_SCOPE: self.paris, OTHER_TENANT: self.berlin}
        self.profiles = {
            IN_SCOPE: RightsProfileFactory(organization=self.acme, name="Regional"),
            OUT_OF_SCOPE: RightsProfileFactory(organization=self.acme, name="Headquarters"),
            OTHER_TENANT: RightsProfileFactory(organization=self.globex, name="Globex profile"),
        }
        self.contacts = {
            IN_SCOPE: ContactFactory(organization=self.acme, first_name="Cora", last_name="Contactacme"),
            OUT_OF_SCOPE: ContactFactory(organization=self.acme, first_name="Carl", last_name="Contactacmetwo"),
            OTHER_TENANT: ContactFactory(organization=self.globex, first_name="Cleo", last_name="Contactglobex"),
        }
        self.user_types = {
            IN_SCOPE: UserTypeFactory(organization=self.acme, name="Trainee"),
            OUT_OF_SCOPE: UserTypeFactory(organization=self.acme, name="Contractor"),
            OTHER_TENANT: UserTypeFactory(organization=self.globex, name="Globex type"),
        }
        # Jobs are their author's: IN_SCOPE is the manager's own, OUT_OF_SCOPE the administrator's.
        authors = {IN_SCOPE: "manager_a", OUT_OF_SCOPE: "admin_a", OTHER_TENANT: "admin_b"}
        # A language set for everyone of the organisation, done and undoable: its undo must name
        # nobody the undoer may no longer see (Otto, outside the manager's Lyon).
        self.bulk_jobs = {
            place: BulkJob.objects.create(
                organization=self.actors[author].organization,
                created_by=self.actors[author],
                action="set_language",
                params={"value": "fr"},
                state=BulkJob.State.DONE,
                total=300,
            )
            for place, author in authors.items()
        }
        for job in self.bulk_jobs.values():
            BulkChange.objects.bulk_create(
                BulkChange(organization=job.organization, job=job, user=user, before="en")
                for user in User.objects.filter(organization=job.organization)
            )
            User.objects.filter(organization=job.organization).update(language="fr")
        self.import_jobs = {
            place: ImportJob.objects.create(
                organization=self.actors[author].organization,
                created_by=self.actors[author],
                filename=f"{author}.csv",
                data=b"email\n",
                state=ImportJob.State.READY,
                report={"error": 0, "rows": []},
            )
            for place, author in authors.items()
        }
        # A batch per author, each with one failed invitation of the person of its place.
        self.batches, self.invitations = {}, {}
        for place, author in authors.items():
            actor, user = self.actors[author], self.users[place]
            batch = InvitationBatch.objects.create(organization=actor.organization, created_by=actor)
            self.batches[place] = batch
            self.invitations[place] = Invitation.objects.create(
                organization=user.organization,
                user=user,
                channel="email",
                address=user.email,
                expires_at=timezone.now() + timedelta(days=7),
                delivery=Invitation.Delivery.FAILED,
                batch=batch,
                created_by=actor,
            )
        # History that names other people: the administrator created Ines and invited her too, and
        # Otto was in Lyon when the manager invited him (his invitation is in the manager's batch),
        # then moved to Paris, out of the manager's scope.
        admin = self.actors["admin_a"]
        ines, otto = self.users[IN_SCOPE], self.users[OUT_OF_SCOPE]
        User.objects.filter(pk=ines.pk).update(created_by=admin)
        StatusChange.objects.create(
            organization=self.acme, user=ines, from_status="created", to_status="active", actor=admin
        )
        for user, batch in ((ines, self.batches[OUT_OF_SCOPE]), (otto, self.batches[IN_SCOPE])):
            Invitation.objects.create(
                organization=self.acme,
                user=user,
                channel="email",
                address=user.email,
                expires_at=timezone.now() + timedelta(days=7),
                delivery=Invitation.Delivery.FAILED,
                batch=batch,
                created_by=batch.created_by,
            )
        # The audit trail of each tenant names its own people: the administrator changed Ines (Acme),
        # Globex's administrator changed Gina. Only an administrator of the same tenant reads them.
        for actor, person in ((admin, ines), (self.actors["admin_b"], self.users[OTHER_TENANT])):
            AuditEvent.objects.create(
                organization_id=person.organization_id,
                created_at=timezone.now(),
                actor=actor,
                action=Action.USER_UPDATED,
                target_user=person,
                target_type="user",
                target_id=person.pk,
                target_label=person.full_name,
                before={"email": "old." + person.email},
                after={"email": person.email},
            )
        # Links in messages. Their invitees are known by a mobile number only: the link's holder
        # is the invitee and sees their own login, while the matrix checks names and emails.
        self.tokens = {}
        for kind in (Invitation.Kind.ACCOUNT, Invitation.Kind.PASSWORD_RESET):
            for place, organization in ((IN_SCOPE, self.acme), (OTHER_TENANT, self.globex)):
                number = len(self.tokens) + 1
                invitee = UserFactory(
                    organization=organization,
                    first_name="",
                    last_name="",
                    email="",
                    mobile=f"+3361234500{number}",
                    preferred_channel="sms",
                    status=User.Status.INVITED if kind == Invitation.Kind.ACCOUNT else User.Status.ACTIVE,
                )
                token = f"{kind}-{place}-token-{number}"
                Invitation.objects.create(
                    organization=organization,
                    kind=kind,
                    user=invitee,
                    channel="sms",
                    address=invitee.mobile,
                    token_hash=hash_token(token),
                    expires_at=timezone.now() + timedelta(days=7),
                    delivery=Invitation.Delivery.SENT,
                )
                self.tokens[kind, place] = token
        # Questionnaires to manage: shown to the manager's group, to another group, of another tenant.
        admin, admin_b = self.actors["admin_a"], self.actors["admin_b"]
        self.questionnaires = {
            IN_SCOPE: make_questionnaire(
                self.acme, title="Quizlyon", questions=2, visibility="groups", groups=[self.lyon], created_by=admin
            ),
            OUT_OF_SCOPE: make_questionnaire(
                self.acme, title="Quizparis", questions=2, visibility="groups", groups=[self.paris], created_by=admin
            ),
            OTHER_TENANT: make_questionnaire(self.globex, title="Quizglobex", questions=2, created_by=admin_b),
        }
        # Results: Ines (in scope), Otto (out of it) and a contact were invited to the Lyon quiz; Ines
        # submitted, through her invitation.
        assignment = AssignmentFactory(questionnaire=self.questionnaires[IN_SCOPE], created_by=admin)
        for invited in (ines, otto, self.contacts[IN_SCOPE]):
            field = "contact" if isinstance(invited, Contact) else "user"
            place = AssigneeFactory(assignment=assignment, **{field: invited})
            if invited is ines:
                Attempt.objects.create(
                    organization=self.acme,
                    questionnaire=assignment.questionnaire,
                    user=ines,
                    assignee=place,
                    started_at=timezone.now(),
                    submitted_at=timezone.now(),
                    score=50,
                    correct_count=1,
                    question_count=2,
                )
        # Questionnaires to take: open to every Acme user, shown to Paris only (no actor is in it),
        # open to every Globex user.
        self.open_questionnaires = {
            IN_SCOPE: make_questionnaire(self.acme, title="Openquiz", questions=2, visibility="all"),
            OUT_OF_SCOPE: make_questionnaire(
                self.acme, title="Parisquiz", questions=2, visibility="groups", groups=[self.paris]
            ),
            OTHER_TENANT: make_questionnaire(self.globex, title="Globexquiz", questions=2, visibility="all"),
        }
        # Attempts: the administrator's own, Ines's, and Globex's administrator's.
        takers = {IN_SCOPE: admin, OUT_OF_SCOPE: ines, OTHER_TENANT: admin_b}
        self.attempts = {
            place: Attempt.objects.create(
                organization=taker.organization,
                questionnaire=self.open_questionnaires[OTHER_TENANT if place == OTHER_TENANT else IN_SCOPE],
                user=taker,
                started_at=timezone.now(),
            )
            for place, taker in takers.items()
        }
        # Assessment invitations of the questionnaires above, open for a week, each with one person
        # who has not started: Ines (in the manager's group), Otto (outside it), Gina (Globex).
        self.assignees = {}
        for place, quiz in self.questionnaires.items():
            organization, now = quiz.organization, timezone.now()
            assignment = Assignment.objects.create(
                organization=organization,
                questionnaire=quiz,
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=7),
                send_at=now,
                batch=InvitationBatch.objects.create(organization=organization, created_by=quiz.created_by),
                created_by=quiz.created_by,
            )
            self.assignees[place] = Assignee.objects.create(
                organization=organization, assignment=assignment, user=self.users[place], added_at=now
            )
        # Assessment links: Cora's (a contact of Acme) and Cleo's (of Globex); OUT_OF_SCOPE is an account
        # link, which the assessment pages do not know. And a place in an assessment invitation for each
        # attempt's taker, `taker_places` (the administrator's own, Ines's, Globex's administrator's).
        for place in (IN_SCOPE, OTHER_TENANT):
            contact = self.contacts[place]
            _assignment, links = make_assignment(self.questionnaires[place], people=[contact])
            self.tokens["assessment", place] = links[contact]
        self.tokens["assessment", OUT_OF_SCOPE] = self.tokens[Invitation.Kind.ACCOUNT, IN_SCOPE]
        self.taker_places = {
            place: make_assignment(
                self.open_questionnaires[place if place == OTHER_TENANT else IN_SCOPE], people=[taker]
            )[0].assignees.get()
            for place, taker in takers.items()
        }
        # OUT_OF_SCOPE: a token that page does not know (a real link, but of the other kind).
        account, reset = Invitation.Kind.ACCOUNT, Invitation.Kind.PASSWORD_RESET
        self.tokens[account, OUT_OF_SCOPE] = self.tokens[reset, IN_SCOPE]
        self.tokens[reset, OUT_OF_SCOPE] = self.tokens[account, IN_SCOPE]

    @staticmethod
    def person(organization, first, last, groups=()):
        user = UserFactory(
            organization=organization,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}@{organization.slug}.example",
        )
        for group in groups:
            MembershipFactory(group=group, user=user)
        return user


# object kind → maker(world, place) → the object (or a plain value) its URL kwarg takes
OBJECT_MAKERS = {
    "user": lambda world, place: world.users[place],
    "group": lambda world, place: world.groups[place],
    "profile": lambda world, place: world.profiles[place],
    "contact": lambda world, place: world.contacts[place],
    "user_type": lambda world, place: world.user_types[place],
    "bulk_job": lambda world, place: world.bulk_jobs[place],
    "import_job": lambda world, place: world.import_jobs[place],
    "invitation": lambda world, place: world.invitations[place],
    "batch": lambda world, place: world.batches[place],
    "account_token": lambda world, place: world.tokens[Invitation.Kind.ACCOUNT, place],
    "reset_token": lambda world, place: world.tokens[Invitation.Kind.PASSWORD_RESET, place],
    "questionnaire": lambda world, place: world.questionnaires[place],
    "question": lambda world, place: world.questionnaires[place].questions.first(),
    "open_questionnaire": lambda world, place: world.open_questionnaires[place],
    "attempt": lambda world, place: world.attempts[place],
    "assignment": lambda world, place: world.assignees[place].assignment,
    "assessment_token": lambda world, place: world.tokens["assessment", place],
    "taker_place": lambda world, place: world.taker_places[place],
    "assignee": lambda world, place: world.assignees[place],
}

# What each actor holds (independent of the code under test) and on which host it acts.
ACTOR_RIGHTS = {
    "admin_a": {ADMINISTRATOR, *Right},
    "manager_a": {Right.MANAGE_USERS, Right.INVITE, Right.MANAGE_QUESTIONNAIRES, Right.VIEW_RESULTS},
    "plain_a": set(),
    "admin_b": {ADMINISTRATOR, *Right},
    "anonymous": set(),
    # Tenant B's administrator with their session replayed on tenant A's host.
    "admin_b_on_a": {ADMINISTRATOR, *Right},
}
ACTORS = tuple(ACTOR_RIGHTS)
SCOPED_ACTORS = {"manager_a"}


def actor_org(world, actor):
    return world.globex if actor == "admin_b" else world.acme


def expected_status(access: Access, actor: str, place: str | None) -> int:
    """The status `actor` must get on a page gated by `access`, for objects from `place`."""
    for key in ((actor, place), actor, place):
        if key in access.expect:
            return access.expect[key]
    if actor == "admin_b_on_a":
        return 302  # the session belongs to another tenant: logged out, sent to the login page
    if access.gate == PUBLIC:
        if place is None:
            return access.ok
        own = place == IN_SCOPE if actor != "admin_b" else place == OTHER_TENANT
        return access.ok if own else 404
    if actor == "anonymous":
        return 302
    if access.gate != LOGGED_IN and access.gate not in ACTOR_RIGHTS[actor]:
        return 403
    if place is not None:
        own = place != OTHER_TENANT if actor != "admin_b" else place == OTHER_TENANT
        if not own:
            return 404
        if place == OUT_OF_SCOPE and actor in SCOPED_ACTORS:
            return 404
    return access.ok


def forbidden_strings(world, actor) -> list[str]:
    """Names and emails `actor` must never see: everyone outside what they may see, and the names of
    the groups outside their scope."""
    from groups.models import UserGroup
    from rights.selectors import groups_in_scope, users_in_scope

    visible, visible_groups = set(), set()
    if actor not in ("anonymous", "admin_b_on_a"):
        me = world.actors[actor]
        visible = {me.pk}
        for right in Right:
            visible |= set(users_in_scope(me, right).values_list("pk", flat=True))
            visible_groups |= set(groups_in_scope(me, right).values_list("pk", flat=True))
    strings = []
    for user in User.objects.exclude(pk__in=visible):
        strings += [user.full_name, user.email]
    strings += UserGroup.objects.exclude(pk__in=visible_groups).values_list("name", flat=True)
    visible_org = None if actor in ("anonymous", "admin_b_on_a", "plain_a") else actor_org(world, actor)
    for contact in Contact.objects.exclude(organization=visible_org):
        strings += [str(contact), contact.email]
    return [s for s in strings if s]
