"""Reads that depend on who asks or on how people type things."""

from . import phones
from .models import User


def user_by_login_id(organization, login_id: str) -> User | None:
    """The user of `organization` whose email or mobile is `login_id`, typed any usual way.

    `organization` None means platform staff (the bare domain). Emails are stored lower-cased, so
    the lookup is exact and uses the unique index.
    """
    login_id = (login_id or "").strip()
    if not login_id:
        return None
    users = User.objects.filter(organization=organization)
    if "@" in login_id:
        return users.filter(email=login_id.lower()).first()
    if organization is None or not phones.looks_like_phone(login_id):
        return None
    try:
        mobile = phones.to_e164(login_id, organization.phone_region)
    except phones.InvalidPhoneNumber:
        return None
    return users.filter(mobile=mobile).first()


def actor_has_right(actor: User, right: str) -> bool:
    """Whether `actor` holds `right` over at least some users (drives navigation and 403s)."""
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return False
    return bool(actor.is_administrator)


def users_in_scope(actor: User, right: str = "manage_users"):
    """The users `actor` may exercise `right` on. Every list, detail and bulk action starts here.

    For now administrators hold every right over their whole organisation and nobody else holds
    any; group-scoped grants extend this one function.
    """
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return User.objects.none()
    if actor.is_administrator:
        return User.objects.filter(organization_id=actor.organization_id)
    return User.objects.none()
