"""Adding contacts: one by hand, or many from a CSV or XLSX file (shown row by row, then confirmed)."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View

from accounts.services import contact_create
from experquiz.errors import DomainError
from experquiz.web import confirmed, form_error_from_service
from flows.contact_import import contacts_file_read, contacts_import, contacts_import_check
from flows.importing import MAX_BYTES, ImportFileError
from rights.mixins import RightRequiredMixin
from rights.names import Right
from rights.selectors import actor_has_right, actor_scope

from .people_forms import ContactForm


class ContactFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "CSV (UTF-8, comma or semicolon separated) or Excel .xlsx, with a header row. Columns: "
            "first_name, last_name, email, mobile, language (French headers such as Prénom, Nom, E-mail, "
            "Téléphone mobile, Langue work too); each row needs an email address or a mobile number."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )


class ContactAddMixin(RightRequiredMixin):
    """Contacts belong to no group: only organisation-wide managers add them (as the service says)."""

    required_right = Right.MANAGE_USERS

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        # Without the right, the mixin's refusal (403); with it over some groups only, not found.
        if actor_has_right(user, Right.MANAGE_USERS) and not actor_scope(user, Right.MANAGE_USERS).all_users:
            raise Http404
        return super().dispatch(request, *args, **kwargs)


class ContactCreateView(ContactAddMixin, View):
    def get(self, request):
        form = ContactForm(organization=request.organization, initial={"language": request.organization.language})
        return render(request, "accounts/contact_form.html", {"form": form})

    def post(self, request):
        form = ContactForm(request.POST, organization=request.organization)
        if form.is_valid():
            try:
                contact = contact_create(organization=request.organization, actor=request.user, **form.cleaned_data)
            except (DomainError, ValidationError) as error:
                form_error_from_service(form, error)
            else:
                messages.success(request, _("%(contact)s was added to the contacts.") % {"contact": contact})
                return redirect("accounts:contact_list")
        return render(request, "accounts/contact_form.html", {"form": form})


class ContactImportView(ContactAddMixin, View):
    """GET: the upload form. POST a file: each row as it would be imported. POST confirmed: import."""

    template = "accounts/contact_import.html"

    def get(self, request):
        return render(request, self.template, {"form": ContactFileForm()})

    def post(self, request):
        if confirmed(request):
            return self.import_rows(request)
        form = ContactFileForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template, {"form": form})
        upload = form.cleaned_data["file"]
        try:
            if upload.size > MAX_BYTES:
                raise ImportFileError(_("The file is larger than %(max)s MB.") % {"max": MAX_BYTES // 1024 // 1024})
            rows = contacts_file_read(upload.read())
        except ImportFileError as error:
            form.add_error("file", error.message)
            return render(request, self.template, {"form": form})
        checked = contacts_import_check(organization=request.organization, rows=rows)
        usable = [row for row in checked if row.cleaned]
        return render(
            request,
            self.template,
            {
                "form": ContactFileForm(),
                "checked": checked,
                "usable": len(usable),
                "refused": len(checked) - len(usable),
                "rows_json": json.dumps(rows),
            },
        )

    def import_rows(self, request):
        try:
            rows = json.loads(request.POST.get("rows", ""))
            if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                raise ValueError
        except ValueError:
            messages.error(request, _("The rows to import were not understood: upload the file again."))
            return redirect("accounts:contact_import")
        try:
            created = contacts_import(organization=request.organization, actor=request.user, rows=rows)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("accounts:contact_import")
        n = len(created)
        messages.success(request, ngettext("%(n)s contact imported.", "%(n)s contacts imported.", n) % {"n": n})
        return redirect("accounts:contact_list")
