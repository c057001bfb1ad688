"""Organisation settings pages (administrators only): the organisation's options and the list of user types."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from accounts.models import UserType
from accounts.services import user_type_create, user_type_delete, user_type_rename
from experquiz.errors import DomainError
from experquiz.web import form_error_from_service, message_from_service
from flows.organization import organization_settings_of, organization_settings_update
from rights.mixins import RightRequiredMixin
from rights.names import ADMINISTRATOR

from .people_forms import UserTypeForm
from .settings_forms import OrganizationSettingsForm


class UserTypesMixin(RightRequiredMixin):
    required_right = ADMINISTRATOR

    def user_types(self):
        return UserType.objects.for_org(self.request.organization)

    def render_list(self, form=None, editing=None, edit_form=None):
        from django.db.models import Count

        return render(
            self.request,
            "accounts/user_type_list.html",
            {
                "types": self.user_types().annotate(n=Count("users")),
                "form": form or UserTypeForm(),
                "editing": editing,
                "edit_form": edit_form,
            },
        )


class UserTypeListView(UserTypesMixin, View):
    """GET lists the types; POST adds one."""

    def get(self, request):
        return self.render_list()

    def post(self, request):
        form = UserTypeForm(request.POST)
        if form.is_valid():
            try:
                user_type = user_type_create(
                    organization=request.organization, name=form.cleaned_data["name"], actor=request.user
                )
            except (DomainError, ValidationError) as error:
                form_error_from_service(form, error)
            else:
                messages.success(request, _("The type “%(name)s” was added.") % {"name": user_type})
                return redirect("accounts:user_type_list")
        return self.render_list(form=form)


class UserTypeEditView(UserTypesMixin, View):
    def get(self, request, pk):
        user_type = get_object_or_404(self.user_types(), pk=pk)
        return self.render_list(editing=user_type, edit_form=UserTypeForm(initial={"name": user_type.name}))

    def post(self, request, pk):
        user_type = get_object_or_404(self.user_types(), pk=pk)
        form = UserTypeForm(request.POST)
        if form.is_valid():
            try:
                user_type_rename(user_type=user_type, name=form.cleaned_data["name"], actor=request.user)
            except (DomainError, ValidationError) as error:
                form_error_from_service(form, error)
            else:
                messages.success(request, _("The type was renamed “%(name)s”.") % {"name": user_type})
                return redirect("accounts:user_type_list")
        return self.render_list(editing=user_type, edit_form=form)


class UserTypeDeleteView(UserTypesMixin, View):
    def post(self, request, pk):
        user_type = get_object_or_404(self.user_types(), pk=pk)
        try:
            user_type_delete(user_type=user_type, actor=request.user)
        except DomainError as error:
            message_from_service(request, error)
        else:
            messages.success(request, _("The type “%(name)s” was deleted.") % {"name": user_type.name})
        return redirect("accounts:user_type_list")


class OrganizationSettingsView(RightRequiredMixin, View):
    """GET shows the organisation's settings; POST saves them all (flows.organization)."""

    required_right = ADMINISTRATOR

    def get(self, request):
        current = organization_settings_of(request.organization)
        form = OrganizationSettingsForm(initial=OrganizationSettingsForm.initial_from(current))
        return render(request, "accounts/organization_settings.html", {"form": form})

    def post(self, request):
        form = OrganizationSettingsForm(request.POST)
        if form.is_valid():
            try:
                organization_settings_update(organization=request.organization, actor=request.user, **form.settings())
            except (DomainError, ValidationError) as error:
                form_error_from_service(form, error)
            else:
                messages.success(request, _("The organisation settings were saved."))
                return redirect("accounts:organization_settings")
        return render(request, "accounts/organization_settings.html", {"form": form})
