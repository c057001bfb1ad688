from django.contrib.auth.backends import ModelBackend

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
