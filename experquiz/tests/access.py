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
"""

from dataclasses import dataclass, field

from accounts.models import Contact, User
from accounts.rights import ADMINISTRATOR, Right
from accounts.tests.factories import (
    AdministratorFactory,
    ContactFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UserGroupFactory,
)
from groups.tests.factories import RightsProfileFactory, grant

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
}

# URL kwarg name → kind of object it names (a line's `kinds` overrides, e.g. for a bare "pk").
KWARG_KINDS = {
    "user_id": "user",
    "group_id": "group",
    "profile_id": "profile",
    "contact_id": "contact",
}


# The world ---------------------------------------------------------------------------------------


class World:
    """Tenant A (Acme) and tenant B (Globex) with one person per role and one object per place.

    Names are distinctive so that a leak shows up as a plain substring of a response body.
    """

    def __init__(self):
        self.acme = OrganizationFactory(slug="acme", name="Acme")
        self.globex = OrganizationFactory(slug="globex", name="Globex")
        self.lyon = UserGroupFactory(organization=self.acme, name="Lyon")
        self.paris = UserGroupFactory(organization=self.acme, name="Paris")
        self.berlin = UserGroupFactory(organization=self.globex, name="Berlin")
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
        # The manager holds manage_users and invite over Lyon; nothing else.
        grant(self.actors["manager_a"], Right.MANAGE_USERS, self.lyon)
        grant(self.actors["manager_a"], Right.INVITE, self.lyon)
        self.users = {
            IN_SCOPE: person(self.acme, "Ines", "Inscopelyon", groups=[self.lyon]),
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
}

# What each actor holds (independent of the code under test) and on which host it acts.
ACTOR_RIGHTS = {
    "admin_a": {ADMINISTRATOR, *Right},
    "manager_a": {Right.MANAGE_USERS, Right.INVITE},
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
        return access.ok
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
    """Names and emails `actor` must never see: everyone outside what they may see."""
    from accounts.selectors import users_in_scope

    if actor in ("anonymous", "admin_b_on_a"):
        visible = set()
    else:
        me = world.actors[actor]
        visible = {me.pk}
        for right in Right:
            visible |= set(users_in_scope(me, right).values_list("pk", flat=True))
    strings = []
    for user in User.objects.exclude(pk__in=visible):
        strings += [user.full_name, user.email]
    visible_org = None if actor in ("anonymous", "admin_b_on_a", "plain_a") else actor_org(world, actor)
    for contact in Contact.objects.exclude(organization=visible_org):
        strings += [str(contact), contact.email]
    return [s for s in strings if s]
