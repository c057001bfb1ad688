"""A person's identity, one rule per field, whichever path it is typed through.

Creating or editing a user, importing a file, creating or editing a contact, converting a contact,
the forms of the pages and the platform admin (through the models' clean()) all read the email,
mobile, preferred channel, employee number and names of a person with `identity_clean`: the same
typed text gives the same stored value and the same message everywhere. Refusals come as one
IdentityInvalid naming each field, so a form shows each message next to its field and the import
next to its row and column.

Whether an address is already taken needs the database and stays with the services
(accounts.services); everything here is pure.
"""

from dataclasses import asdict, dataclass
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from experquiz import phones
from experquiz.errors import InvalidFields
from experquiz.web import form_error_from_service

from .filelimits import clip

NAME_MAX = 150
EMPLOYEE_NUMBER_MAX = 50
EMAIL_MAX = 254
# What a person may type in a mobile field (spaces, dots, brackets…); E.164 itself is at most 16.
MOBILE_TYPED_MAX = 30
DEFAULT_REGION = "FR"


class Channel(models.TextChoices):
    EMAIL = "email", gettext_lazy("Email")
    SMS = "sms", gettext_lazy("SMS")


@dataclass(frozen=True)
class Identity:
    """The identity fields of a person, as stored."""

    email: str = ""
    mobile: str = ""
    preferred_channel: str = ""
    employee_number: str = ""
    first_name: str = ""
    last_name: str = ""

    @classmethod
    def of(cls, person) -> "Identity":
        """The identity of a User or Contact as it is stored (a contact has no channel or number)."""
        return cls(**{name: getattr(person, name, "") or "" for name in IDENTITY_FIELDS})

    def as_dict(self) -> dict:
        return asdict(self)


IDENTITY_FIELDS = tuple(Identity.__dataclass_fields__)


class IdentityInvalid(InvalidFields):
    """Some identity fields are refused: `errors` maps each to its messages; `identity` holds the
    values that passed their own rule (those refused are blank), for a caller that goes on."""

    def __init__(self, errors: dict[str, list[str]], identity: Identity):
        super().__init__(errors)
        self.identity = identity


class _Refused(Exception):
    def __init__(self, message):
        self.message = message


def _text(value) -> str:
    value = "" if value is None else str(value).strip()
    if "\x00" in value:
        # Django's own message (the forms say the same), before PostgreSQL refuses it with a 500.
        raise _Refused(_("Null characters are not allowed."))
    return value


def _email(raw) -> str:
    email = _text(raw).lower()
    if email:
        try:
            if len(email) > EMAIL_MAX:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            raise _Refused(_("“%(value)s” is not a valid email address.") % {"value": clip(_text(raw))}) from None
    return email


def _mobile(organization, raw) -> str:
    return _mobile_read(organization, raw)[0]


def _mobile_read(organization, raw) -> tuple[str, str]:
    """A typed mobile number in E.164 and in national digits (what the people search also matches),
    from one reading of it."""
    typed = _text(raw)
    if not typed:
        return "", ""
    region = organization.phone_region if organization is not None else DEFAULT_REGION
    try:
        if len(typed) > MOBILE_TYPED_MAX:
            raise phones.InvalidPhoneNumber(typed)
        return phones.read(typed, region)
    except phones.InvalidPhoneNumber:
        raise _Refused(_("“%(value)s” is not a valid mobile number.") % {"value": clip(typed)}) from None


def _limited(raw, limit, message) -> str:
    value = _text(raw)
    if len(value) > limit:
        # `message` is translated only when a value is refused: a file of 100,000 rows passes here 300,000 times.
        raise _Refused(_(message) % {"max": limit})
    return value


def _channel(raw) -> str:
    channel = _text(raw).lower()
    if channel and channel not in Channel.values:
        raise _Refused(_("Unknown channel “%(value)s” (use email or sms).") % {"value": clip(_text(raw))})
    return channel


_EMPLOYEE_NUMBER_TOO_LONG = gettext_noop("The employee number is longer than %(max)s characters.")
_FIRST_NAME_TOO_LONG = gettext_noop("The first name is longer than %(max)s characters.")
_LAST_NAME_TOO_LONG = gettext_noop("The last name is longer than %(max)s characters.")
_RULES = {
    "email": _email,
    "preferred_channel": _channel,
    "employee_number": lambda value: _limited(value, EMPLOYEE_NUMBER_MAX, _EMPLOYEE_NUMBER_TOO_LONG),
    "first_name": lambda value: _limited(value, NAME_MAX, _FIRST_NAME_TOO_LONG),
    "last_name": lambda value: _limited(value, NAME_MAX, _LAST_NAME_TOO_LONG),
}


def email_clean(raw) -> str:
    """A typed email address as stored (stripped, lower-cased), or IdentityInvalid."""
    return _one("email", _email, raw)


def mobile_clean(organization, raw) -> str:
    """A typed mobile number in E.164, read with the organisation's region, or IdentityInvalid."""
    return _one("mobile", lambda value: _mobile(organization, value), raw)


def _one(field, rule, raw):
    try:
        return rule(raw)
    except _Refused as refused:
        raise IdentityInvalid({field: [refused.message]}, Identity()) from None


class IdentityRead(NamedTuple):
    """Each identity field read by its own rule, once (`identity_read`): `values` as they would be
    stored (a refused one blank), `errors` the refusals by field, `national` the mobile's national
    digits. `identity_judge` then applies the rules between fields, as often as needed."""

    values: dict
    errors: dict
    national: str = ""


def identity_read(
    organization,
    *,
    email="",
    mobile="",
    preferred_channel="",
    employee_number="",
    first_name="",
    last_name="",
    contact: bool = False,
) -> IdentityRead:
    """The first half of `identity_clean`: every field by its own rule (a mobile parsed once)."""
    typed = {
        "email": email,
        "preferred_channel": "" if contact else preferred_channel,
        "employee_number": "" if contact else employee_number,
        "first_name": first_name,
        "last_name": last_name,
    }
    errors, values, national = {}, {}, ""
    for field in ("email", "mobile", "preferred_channel", "employee_number", "first_name", "last_name"):
        try:
            if field == "mobile":
                values[field], national = _mobile_read(organization, mobile)
            else:
                values[field] = _RULES[field](typed[field])
        except _Refused as refused:
            errors[field] = [refused.message]
            values[field] = ""
    return IdentityRead(values, errors, national)


def channel_for(channel: str, *, email: str, mobile: str) -> str:
    """The preferred channel of a person: the one given, else email, or SMS for someone with only a mobile."""
    return channel or (Channel.SMS if mobile and not email else Channel.EMAIL)


def identity_judge(
    read: IdentityRead, *, contact: bool = False, current: Identity | None = None
) -> tuple[Identity, dict[str, list[str]]]:
    """The second half of `identity_clean`: the rules between fields, on what `identity_read` read.

    Returns the identity and every refusal by field (the read's own and those of the rules between
    fields, which judge only fields that passed their own); `current` as in `identity_clean`.
    """
    errors = {field: list(messages) for field, messages in read.errors.items()}
    values = read.values
    if current is not None:
        values = {field: values[field] or getattr(current, field) for field in values}
    else:
        values = dict(values)
    email, mobile = values["email"], values["mobile"]
    if not email and not mobile and "email" not in errors and "mobile" not in errors:
        if contact:
            errors["email"] = [_("Give an email address or a mobile number.")]
        else:
            errors["email"] = [_("Give an email address or a mobile number: one of them is the login ID.")]
    if not contact and "preferred_channel" not in errors:
        channel = channel_for(values["preferred_channel"], email=email, mobile=mobile)
        values["preferred_channel"] = channel
        if channel == Channel.EMAIL and not email and mobile and "email" not in errors:
            errors["preferred_channel"] = [_("Email is the preferred channel but there is no email address.")]
        if channel == Channel.SMS and not mobile and email and "mobile" not in errors:
            errors["preferred_channel"] = [_("SMS is the preferred channel but there is no mobile number.")]
    return Identity(**values), errors


def identity_clean(
    organization,
    *,
    email="",
    mobile="",
    preferred_channel="",
    employee_number="",
    first_name="",
    last_name="",
    contact: bool = False,
    current: Identity | None = None,
) -> Identity:
    """The identity as stored, or IdentityInvalid naming every refused field at once.

    - email: stripped, lower-cased, a valid address; mobile: read with the organisation's region
      (`06 12 34 56 78`, `+33 6 12…`) into E.164; employee number and names: stripped, bounded.
    - a user needs an email address or a mobile number (their login ID), a contact one of them to be
      reached; a user's preferred channel (email by default, SMS for someone with only a mobile)
      needs its address. A contact has no channel and no employee number.
    - `current`: the person as they are, for a partial update (the import's rows): a blank value
      keeps the current one, and the rules that tie fields together apply to the result.
    """
    read = identity_read(
        organization,
        email=email,
        mobile=mobile,
        preferred_channel=preferred_channel,
        employee_number=employee_number,
        first_name=first_name,
        last_name=last_name,
        contact=contact,
    )
    identity, errors = identity_judge(read, contact=contact, current=current)
    if errors:
        raise IdentityInvalid(errors, identity)
    return identity


def identity_form_clean(form, data: dict, organization, **options) -> dict:
    """For a form's clean(): read the form's identity fields with identity_clean, put the stored
    values into `data` and each refusal next to its field. `options` go to identity_clean."""
    names = [name for name in IDENTITY_FIELDS if name in form.fields]
    if any(name not in data for name in names):
        return data  # a field the form itself refused (a NUL byte…) already says what is wrong
    try:
        identity = identity_clean(organization, **{name: data[name] for name in names}, **options)
    except IdentityInvalid as invalid:
        form_error_from_service(form, invalid)
        return data
    data.update({name: getattr(identity, name) for name in names})
    return data
