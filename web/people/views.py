from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.i18n import set_language

from accounts.models import Contact, Language, User
from accounts.services import user_language_choose
from assessments.selectors import assignment_state, my_assignments, my_questionnaires
from experquiz.web import use_language
from rights.names import Right
from rights.selectors import actor_has_right, users_in_scope

from .forms import LoginForm, OwnPasswordChangeForm


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        return use_language(super().form_valid(form), form.get_user().language)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response


@login_not_required
def language_choose(request):
    """The language menu: Django's own view (the cookie), and a signed-in person's choice is kept
    on their account for their next login and their messages."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.method == "POST" and request.user.is_authenticated and language in Language.values:
        user_language_choose(user=request.user, language=language, actor=request.user)
    return response


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = OwnPasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password has been changed."))
        return response


def home(request):
    """Administrators land on their dashboard, scoped managers on their users, those who may only
    invite on the invitations, those who only manage questionnaires on these; everyone else on their
    own space."""
    if not request.user.is_administrator:
        if actor_has_right(request.user, Right.MANAGE_USERS):
            return redirect("accounts:user_list")
        if actor_has_right(request.user, Right.INVITE):
            return redirect("invitations:list")
        if actor_has_right(request.user, Right.MANAGE_QUESTIONNAIRES):
            return redirect("assessments:list")
        return redirect("accounts:me")
    people = users_in_scope(request.user, Right.MANAGE_USERS)
    counts = dict(people.values_list("status").annotate(n=Count("pk")).order_by())
    statuses = [(status, counts.get(status.value, 0)) for status in User.Status]
    contacts = Contact.objects.for_org(request.organization).count()
    return render(request, "accounts/dashboard.html", {"statuses": statuses, "contact_count": contacts})


def me(request):
    """The signed-in person's own space: what they are invited to (next), and the questionnaires open
    to them freely, with their attempt at each (start, resume, or their score)."""
    assignments = list(my_assignments(request.user))
    for row in assignments:
        row.state = assignment_state(row)
    return render(
        request,
        "accounts/me.html",
        {"questionnaires": my_questionnaires(request.user), "assignments": assignments},
    )
