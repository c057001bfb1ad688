from django.shortcuts import redirect
from django.urls import reverse


class PasswordChangeRequiredMiddleware:
    """A user given a temporary password must choose their own before going anywhere else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.must_change_password and request.organization is not None:
            allowed = {reverse("accounts:password_change"), reverse("accounts:logout"), reverse("set_language")}
            if request.path not in allowed:
                return redirect("accounts:password_change")
        return self.get_response(request)
