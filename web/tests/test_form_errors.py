"""Every form error and every lookup is scope-safe (security review, finding 3).

A form that reports a clash ("this email address is taken") or a page that looks people up (a search
box, pasted addresses, an import preview) must not tell a manager who holds an address outside their
scope. For every URL pattern of the tenant URLconf, each page's forms are found in its template
context and submitted with the email, mobile or employee number of someone the actor may not see (a
user of another group, an administrator, another tenant's user), typed as a person would type it;
POST-only actions whose form lives on another page have a line in SUBMITTERS. Whatever the answer,
redirects followed, it must not show that person's name, nor any identifier of theirs that the actor
did not type. A new page with a form is in this test by construction; a new POST-only action must be
added to SUBMITTERS or to NO_INPUT, or test_every_post_action_is_covered fails and says so.
"""

import itertools

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_filters import FilterSet

from accounts.models import Contact, User
from experquiz import phones
from groups.tests.factories import grant
from rights.names import Right
from rights.selectors import contacts_in_scope, users_in_scope

from .access import ACCESS, IN_SCOPE, OTHER_TENANT, OUT_OF_SCOPE, PUBLIC, World, invite_form
from .test_access_matrix import URLS, content, urls_for

# Whose identifiers are typed: someone of another group, an administrator (managers never reach
# rights holders), another tenant's user.
TARGETS = ("otto", "alice", "gina")
IDENTIFIERS = {
    "otto": {"mobile": "+33612345671", "employee_number": "E-OTTO-71"},
    "alice": {"mobile": "+33612345672", "employee_number": "E-ALICE-72"},
    "gina": {"mobile": "+33612345673", "employee_number": "E-GINA-73"},
}
# A group-scoped manager (manage_users and invite over Lyon), an organisation-wide manager who is no
# administrator (administrators are out of their scope).
ACTORS = ("manager_a", "wide_a")

# Form fields through which a page checks a clash or looks people up, and what is typed in them.
LOOKUP_FIELDS = {
    "email": ("email",),
    "mobile": ("mobile",),
    "employee_number": ("employee_number",),
    "addresses": ("email", "mobile"),
    "q": ("email", "mobile", "employee_number"),
    "username": ("email", "mobile"),
}


def typed(person: User, kind: str) -> str:
    """The identifier as a person types it: an email in capitals, a mobile in the national format."""
    if kind == "email":
        return person.email.upper()
    if kind == "mobile":
        digits = "0" + person.mobile[3:]
        return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
    return person.employee_number


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")


# POST-only actions whose form lives on another page: (world, actor, kind, value) → the POST data.
SUBMITTERS = {
    # Contacts that carry the person's address: converting them clashes with the user who holds it.
    "accounts:contact_convert": lambda world, actor, kind, value: {
        "ids": list(Contact.objects.filter(organization=world.acme).values_list("pk", flat=True)),
        "to": "created",
    },
    # An import file whose row carries the identifier: the preview matches it to the user.
    "accounts:user_import": lambda world, actor, kind, value: {
        "file": csv_upload(f"first_name,last_name,{kind},groups\nNina,Newcomer,{value},{world.lyon.name}\n"),
    },
    # Pasted addresses: the summary (and the invitation made) must not name someone out of reach.
    "assessments:invite_review": lambda world, actor, kind, value: (
        invite_form(world.groups[IN_SCOPE]) | {"addresses": value}
    ),
    "assessments:invite_confirm": lambda world, actor, kind, value: (
        invite_form(world.groups[IN_SCOPE]) | {"addresses": value, "once": f"{actor}-{kind}-{value}"}
    ),
    "assessments:assignment_add_review": lambda world, actor, kind, value: {"addresses": value},
    "assessments:assignment_add_confirm": lambda world, actor, kind, value: {
        "addresses": value,
        "once": f"{actor}-{kind}-{value}",
    },
}
# POST-only actions that take no typed value (ids in the URL or ticked boxes): nothing to look up.
NO_INPUT = {
    "accounts:logout": "no fields",
    "accounts:user_bulk": "ticked ids, checked against the scope by the access matrix",
    "accounts:user_bulk_undo": "no fields (a confirmation); the job is the actor's own, by the access matrix",
    "accounts:user_import_confirm": "no fields",
    "accounts:user_type_delete": "no fields",
    "groups:remove_members": "ticked ids, checked against the scope by the access matrix",
    "invitations:resend": "no fields",
    "invitations:revoke": "no fields",
    "invitations:group_resend": "a group chosen among the actor's",
    "invitations:batch_retry": "no fields",
    "invitations:users_send": "ticked ids, checked against the scope by the access matrix",
    "invitations:user_send": "no fields",
    "invitations:user_revoke": "no fields",
    "invitations:user_activate": "no fields",
    "assessments:publish": "no fields",
    "assessments:unpublish": "no fields",
    "assessments:question_move": "a direction, up or down",
    "assessments:take_start": "no fields",
    "assessments:take_submit": "no fields",
    "assessments:assigned_start": "no fields",
}


class ScopeWorld(World):
    """The access matrix's world, plus an organisation-wide manager, identifiers on the people the
    actors may not see, and contacts that carry those people's addresses."""

    def __init__(self):
        super().__init__()
        wide = self.person(self.acme, "Wanda", "Widemanager")
        grant(wide, Right.MANAGE_USERS, everyone=True)
        grant(wide, Right.INVITE, everyone=True)
        self.actors["wide_a"] = wide
        self.targets = {
            "otto": self.users[OUT_OF_SCOPE],
            "alice": self.actors["admin_a"],
            "gina": self.users[OTHER_TENANT],
        }
        for name, person in self.targets.items():
            User.objects.filter(pk=person.pk).update(**IDENTIFIERS[name])
            person.refresh_from_db()
        for name in ("otto", "alice"):
            person = self.targets[name]
            Contact.objects.create(
                organization=self.acme,
                first_name="Cyd",
                last_name=f"Holds{name.title()}mail",
                email=person.email,
            )
            Contact.objects.create(
                organization=self.acme, first_name="Cyd", last_name=f"Holds{name.title()}mobile", mobile=person.mobile
            )


def client_of(world, actor) -> Client:
    user = world.actors[actor]
    client = Client(HTTP_HOST=f"{user.organization.slug}.localhost")
    client.force_login(user)
    return client


def strings_of(user: User) -> list[str]:
    return [user.full_name, user.email, user.mobile, phones.display(user.mobile), user.employee_number]


def forbidden_for(world, actor, typed_value: str) -> set[str]:
    """What `actor` must not see: the names and identifiers of the people out of their reach, except
    what they typed themselves (in any form the product writes it) and what also belongs to someone
    they may see (a contact carrying a user's address is shown with that address)."""
    me = world.actors[actor]
    visible = {me.pk}
    for right in Right:
        visible |= set(users_in_scope(me, right).values_list("pk", flat=True))
    hidden = set()
    for user in User.objects.exclude(pk__in=visible):
        hidden |= set(strings_of(user))
    shown = set()
    for user in User.objects.filter(pk__in=visible):
        shown |= set(strings_of(user))
    for contact in contacts_in_scope(me):
        shown |= {str(contact), contact.email, contact.mobile, phones.display(contact.mobile)}
    echo = {typed_value, typed_value.lower()}
    try:
        e164 = phones.to_e164(typed_value, "FR")
        echo |= {e164, phones.display(e164)}
    except phones.InvalidPhoneNumber:
        pass
    return {s for s in hidden - shown - echo if s}


def value_of(field: forms.Field, bound: forms.BoundField):
    """A valid value for a field that is not a lookup: its initial value, else its first choice."""
    initial = bound.value()
    if isinstance(field, forms.ModelMultipleChoiceField):
        first = field.queryset.first()
        return [initial[0]] if initial else ([first.pk] if first else [])
    if isinstance(field, forms.ModelChoiceField):
        if initial:
            return initial
        first = field.queryset.first()
        return first.pk if first else ""
    if isinstance(field, forms.ChoiceField):
        if initial:
            return initial
        values = [value for value, _label in field.choices if value not in ("", None)]
        return values[0] if values else ""
    if isinstance(field, forms.BooleanField | forms.FileField):
        return None
    return initial if initial is not None else ""


def forms_on(response):
    """(method, form) of every form in the response's template context."""
    found, seen = [], set()
    contexts = response.context or []
    for context in contexts if isinstance(contexts, list) else [contexts]:
        for value in context.flatten().values():
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, FilterSet):
                found.append(("get", value.form))
            elif isinstance(value, forms.BaseForm):
                found.append(("post", value))
    return found


# What the other lookup fields of a form get: identifiers nobody holds (a new one each time: an
# earlier submission may have created someone with the last one), so that the form is valid but for
# the one clash under test (e.g. an email for an "email is the preferred channel" form).
FRESH_NUMBERS = itertools.count(10)
FRESH = {
    "email": lambda n: f"fresh.person.{n}@acme.example",
    "mobile": lambda n: f"07 56 00 {n // 100 % 100:02d} {n % 100:02d}",
    "employee_number": lambda n: "",
}


def submissions(form, kind, value):
    """The data of `form` with the identifier typed in each lookup field that takes this kind."""
    fields = [name for name in form.fields if kind in LOOKUP_FIELDS.get(name, ())]
    if not fields:
        return None
    data = {}
    for name, field in form.fields.items():
        if name in fields:
            data[name] = value
        elif name in FRESH:
            data[name] = FRESH[name](next(FRESH_NUMBERS))
        else:
            default = value_of(field, form[name])
            if default is not None:
                data[name] = default
    return data


def the_url(world, name):
    access = ACCESS[name]
    kwargs = next(kw for n, _route, kw, _cb in URLS if n == name)
    return next(urls_for(world, name, access, kwargs, IN_SCOPE if kwargs else None))


def leaks(world, actor, value, response) -> list[str]:
    body = content(response)
    return sorted(s for s in forbidden_for(world, actor, value) if s in body)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(n for n, *_ in URLS if n in ACCESS and ACCESS[n].gate != PUBLIC))
def test_every_form_error_and_lookup_is_scope_safe(name):
    world = ScopeWorld()
    url = the_url(world, name)
    failures = []
    for actor in ACTORS:
        for target in TARGETS:
            person = world.targets[target]
            for kind in ("email", "mobile", "employee_number"):
                value = typed(person, kind)
                where = f"{actor} typing {target}'s {kind} ({value!r}) on {url}"
                # A search on any page: ?q= is how every list looks people up.
                response = client_of(world, actor).get(url, {"q": value}, follow=True)
                if found := leaks(world, actor, value, response):
                    failures.append(f"{where}, GET ?q=: shows {found}")
                for method, form in forms_on(response):
                    data = submissions(form, kind, value)
                    if data is None:
                        continue
                    send = getattr(client_of(world, actor), method)
                    answer = send(url, data, follow=True)
                    if answer.status_code >= 500:
                        failures.append(f"{where}, {method.upper()} {type(form).__name__}: {answer.status_code}")
                    if found := leaks(world, actor, value, answer):
                        failures.append(f"{where}, {method.upper()} {type(form).__name__}: shows {found}")
                if name in SUBMITTERS:
                    data = SUBMITTERS[name](world, actor, kind, value)
                    answer = client_of(world, actor).post(url, data, follow=True)
                    if answer.status_code >= 500:
                        failures.append(f"{where}, POST: {answer.status_code}")
                    if found := leaks(world, actor, value, answer):
                        failures.append(f"{where}, POST: shows {found}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_every_post_action_is_covered():
    """A POST-only action (its form lives on another page) is in SUBMITTERS or, taking no typed value,
    in NO_INPUT; a page that renders its own form is covered through its template context."""
    world = ScopeWorld()
    missing = []
    for name, *_ in URLS:
        access = ACCESS.get(name)
        if access is None or access.gate == PUBLIC or name in SUBMITTERS or name in NO_INPUT:
            continue
        if access.post_only or client_of(world, "admin_a").get(the_url(world, name)).status_code == 405:
            missing.append(name)
    assert not missing, (
        f"POST-only actions {missing} are not in the scope-safety test: add each to SUBMITTERS "
        "(how to submit a person's identifier to it) or to NO_INPUT (why it takes none) in "
        "web/tests/test_form_errors.py."
    )


def test_a_leak_in_a_form_error_is_caught():
    """The check itself can fail: a message naming the holder of a typed address is found."""
    from django.http import HttpResponse

    assert "Otto Outscopeparis" in content(HttpResponse("This email already belongs to Otto Outscopeparis."))
    assert typed(User(mobile="+33612345671"), "mobile") == "06 12 34 56 71"
