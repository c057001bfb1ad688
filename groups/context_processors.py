from django.utils.functional import SimpleLazyObject

from accounts.rights import ADMINISTRATOR
from accounts.selectors import remember_rights


def held_rights(user) -> dict:
    """{right: True} for every right `user` holds, plus `administrator` and `any` (any admin right)."""
    if not user.is_authenticated or user.organization_id is None:
        return {}
    held = dict.fromkeys(remember_rights(user), True)
    if user.is_administrator:
        held[ADMINISTRATOR] = True
    held["any"] = bool(held)
    return held


def rights(request):
    """`user_rights` in templates: `{% if user_rights.manage_users %}` shows what the user may open.

    Lazy, so pages that never ask cost no query.
    """
    return {"user_rights": SimpleLazyObject(lambda: held_rights(request.user))}
