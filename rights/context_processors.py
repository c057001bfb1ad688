from django.utils.functional import SimpleLazyObject

from .names import ADMINISTRATOR, Right
from .selectors import NO_SCOPE, remember_rights


def held_rights(user) -> dict:
    """{right: True} for every right `user` holds, plus `administrator` and `any` (any admin right)."""
    if not user.is_authenticated or user.organization_id is None:
        return {}
    rights = remember_rights(user)
    held = dict.fromkeys(rights, True)
    if user.is_administrator:
        held[ADMINISTRATOR] = True
    held["any"] = bool(held)
    # Contacts belong to no group: only organisation-wide managers see them (contacts_in_scope).
    held["contacts"] = rights.get(Right.MANAGE_USERS, NO_SCOPE).all_users
    held["contact_results"] = rights.get(Right.VIEW_RESULTS, NO_SCOPE).all_users
    return held


def rights(request):
    """`user_rights` in templates: `{% if user_rights.manage_users %}` shows what the user may open.

    Lazy, so pages that never ask cost no query.
    """
    return {"user_rights": SimpleLazyObject(lambda: held_rights(request.user))}
