import functools

from django.contrib.auth.backends import ModelBackend
from django.db import connections, router

from .models import User
from .selectors import user_by_login_id


class LoginIdBackend(ModelBackend):
    """Authenticate by email or mobile within the organisation of the request's host.

    On the bare domain (no organisation) only platform staff can log in, for Django's admin.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or username is None or password is None:
            return None
        organization = getattr(request, "organization", None)
        user = user_by_login_id(organization, username)
        if user is None:
            # Hash anyway so an unknown login ID takes as long as a wrong password (no enumeration).
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            if organization is None and not user.is_staff:
                return None
            return user
        return None

    def get_user(self, user_id):
        """The signed-in person of a request, read fresh at every request (a deactivated or
        deleted person is refused at their next one): Django's `get(pk=…)`, with its SQL written
        once per process instead of built by the ORM at every request."""
        sql, attnames, converters = _user_by_pk()
        connection = connections[router.db_for_read(User)]
        with connection.cursor() as cursor:
            cursor.execute(sql, [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        values = [
            convert(value, None, connection) if convert else value
            for convert, value in zip(converters, row, strict=True)
        ]
        user = User.from_db(connection.alias, attnames, values)
        return user if self.user_can_authenticate(user) else None


@functools.cache
def _user_by_pk():
    """SELECT every column of one user by primary key, as `User.objects.get(pk=…)` sends it; the
    fields' attribute names, and each field's conversion of its database value (or None)."""
    fields = User._meta.concrete_fields
    query = User._default_manager.filter(pk=0).order_by().values_list(*(f.attname for f in fields)).query
    sql, params = query.sql_with_params()
    assert params == (0,), params  # the primary key is the one parameter
    return sql, [f.attname for f in fields], [getattr(f, "from_db_value", None) for f in fields]
