"""The one gate every admin-area view goes through: tenant known, right held, data scoped."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .names import ADMINISTRATOR
from .selectors import actor_has_right, groups_in_scope, remember_rights, users_in_scope


def check_right(request, right: str) -> None:
    """404 off-tenant, 403 for a logged-in user without `right` (anonymous users never get here)."""
    if getattr(request, "organization", None) is None:
        raise Http404
    # Every scoped read of this request asks for the same rights: compute them once.
    remember_rights(request.user)
    if right == ADMINISTRATOR:
        if not request.user.is_administrator:
            raise PermissionDenied
    elif not actor_has_right(request.user, right):
        raise PermissionDenied


class RightRequiredMixin:
    """Class-based admin views: set `required_right`; read people only through `scoped_users()`."""

    required_right: str = ADMINISTRATOR

    def dispatch(self, request, *args, **kwargs):
        check_right(request, self.required_right)
        return super().dispatch(request, *args, **kwargs)

    def scoped_users(self):
        return users_in_scope(self.request.user, self.required_right)

    def scoped_groups(self):
        """The groups this actor may pick or act on for `required_right` (forms, filters, pages)."""
        return groups_in_scope(self.request.user, self.required_right)


def right_required(right: str):
    """Function-based admin views: `@right_required(Right.MANAGE_USERS)`."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            check_right(request, right)
            return view(request, *args, **kwargs)

        wrapped.required_right = right
        return wrapped

    return decorator


def groups_in_scope_of(right: str):
    """A `queryset=` callable for django-filter: the groups the requesting actor holds `right` over.

    Every FilterSet uses it so a group filter never lists (or accepts) a group out of scope:
    `group = ModelChoiceFilter(queryset=groups_in_scope_of(Right.INVITE), method=...)`.
    """

    def groups(request):
        return groups_in_scope(getattr(request, "user", None), right).order_by("name")

    return groups
