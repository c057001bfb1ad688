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
        connection = connections[router.db_for_read(User)]
        sql, attnames, converters = _user_by_pk(connection.alias)
        with connection.cursor() as cursor:
            cursor.execute(sql, [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for position, functions, expression in converters:
            for convert in functions:
                values[position] = convert(values[position], expression, connection)
        user = User.from_db(connection.alias, attnames, values)
        return user if self.user_can_authenticate(user) else None


@functools.cache
def _user_by_pk(alias):
    """SELECT every column of one user by primary key, as `User.objects.get(pk=…)` sends it on that
    database; the fields' attribute names, and the conversions the ORM applies to each column's value
    (the backend's, such as SQLite's dates, and the field's own)."""
    fields = User._meta.concrete_fields
    query = User._default_manager.filter(pk=0).order_by().values_list(*(f.attname for f in fields)).query
    compiler = query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    assert params == (0,), params  # the primary key is the one parameter
    selected = [expression for expression, _sql, _alias in compiler.select]
    converters = [
        (position, functions, expression)
        for position, (functions, expression) in compiler.get_converters(selected).items()
    ]
    return sql, [f.attname for f in fields], converters
