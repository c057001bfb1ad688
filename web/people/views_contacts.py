"""The contacts pages: list with filters, edit, delete, and converting contacts into users."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from accounts.models import User
from accounts.services import contact_delete, contact_update
from experquiz.errors import DomainError
from experquiz.parsing import parse_ids
from experquiz.web import (
    confirmation,
    confirmed,
    form_error_from_service,
    message_from_service,
    page_of,
    query_string,
)
from flows.contacts import contacts_convert
from flows.filters import ContactFilter
from rights.mixins import RightRequiredMixin
from rights.names import Right
from rights.selectors import actor_has_right, actor_scope, contacts_in_scope

from .people_forms import ContactForm, ConvertForm
from .views_users import user_link, visible_login_id_holder

PAGE_SIZE = 50


class ContactsMixin(RightRequiredMixin):
    required_right = Right.MANAGE_USERS

    def scoped_contacts(self):
        return contacts_in_scope(self.request.user, self.required_right)

    def get_contact(self, pk):
        return get_object_or_404(self.scoped_contacts(), pk=pk)


class ContactListView(ContactsMixin, View):
    def get(self, request):
        filterset = ContactFilter(
            request.GET, queryset=self.scoped_contacts().select_related("converted_to"), request=request
        )
        page = page_of(request, filterset.qs, PAGE_SIZE)
        return render(
            request,
            "accounts/contact_list.html",
            {
                "filter": filterset,
                "page": page,
                "contacts": page.object_list,
                "convert_form": ConvertForm(can_invite=actor_has_right(request.user, Right.INVITE)),
                # Contacts belong to no group: only organisation-wide managers add them.
                "can_add": actor_scope(request.user, Right.MANAGE_USERS).all_users,
                "query_without_page": query_string(request.GET, "page"),
            },
        )


class ContactEditView(ContactsMixin, View):
    def get(self, request, pk):
        contact = self.get_contact(pk)
        form = ContactForm(instance=contact, organization=request.organization)
        return render(request, "accounts/contact_form.html", {"form": form, "contact": contact})

    def post(self, request, pk):
        contact = self.get_contact(pk)
        form = ContactForm(request.POST, instance=self.get_contact(pk), organization=request.organization)
        if form.is_valid():
            data = form.cleaned_data
            try:
                contact_update(contact=contact, actor=request.user, **data)
            except (DomainError, ValidationError) as error:
                form_error_from_service(form, error)
            else:
                messages.success(request, _("%(contact)s was saved.") % {"contact": contact})
                return redirect("accounts:contact_list")
        return render(request, "accounts/contact_form.html", {"form": form, "contact": contact})


class ContactDeleteView(ContactsMixin, View):
    """GET asks for confirmation, POST deletes."""

    def get(self, request, pk):
        return render(request, "accounts/contact_delete.html", {"contact": self.get_contact(pk)})

    def post(self, request, pk):
        contact = self.get_contact(pk)
        try:
            contact_delete(contact=contact, actor=request.user)
        except DomainError as error:
            message_from_service(request, error)
        else:
            messages.success(request, _("%(contact)s was deleted.") % {"contact": contact})
        return redirect("accounts:contact_list")


class ContactConvertView(ContactsMixin, View):
    """Convert the checked contacts into users, each fully or not at all, and report clashes."""

    def post(self, request):
        back = reverse("accounts:contact_list") + "?" + request.POST.get("filters", "")
        form = ConvertForm(request.POST)
        ids = parse_ids(request.POST.getlist("ids"))
        contacts = list(self.scoped_contacts().filter(pk__in=ids).order_by("last_name", "first_name", "pk"))
        if not contacts:
            messages.error(request, _("Select at least one contact."))
            return redirect(back)
        if not form.is_valid():
            messages.error(request, _("Choose what the new users become."))
            return redirect(back)
        to = form.cleaned_data["to"]
        if to == User.Status.INVITED and not actor_has_right(request.user, Right.INVITE):
            # Converting to "invited" sends invitations: refused as a whole, before anything changes.
            messages.error(
                request,
                _(
                    "You do not hold the right to invite, so no contact was converted: convert them as "
                    "“Created”, or ask someone who may invite them."
                ),
            )
            return redirect(back)
        if not confirmed(request):
            return self.confirm(request, contacts, to, back)
        converted, refused = contacts_convert(contacts=contacts, to=to, actor=request.user)
        if converted:
            n = len(converted)
            if to == User.Status.INVITED:
                done = ngettext(
                    "%(n)s contact converted to a user; the invitation is on its way.",
                    "%(n)s contacts converted to users; their invitations are on their way.",
                    n,
                )
            elif to == User.Status.ACTIVE:
                done = ngettext(
                    "%(n)s contact converted to an active user; a temporary password is on its way.",
                    "%(n)s contacts converted to active users; temporary passwords are on their way.",
                    n,
                )
            else:
                done = ngettext("%(n)s contact converted to a user.", "%(n)s contacts converted to users.", n)
            messages.success(request, done % {"n": n})
        for contact, reason, holder in refused:
            # Whose address it is only for a viewer who may see that user (never an administrator's
            # name to a manager): the service's reason names nobody.
            holder = visible_login_id_holder(request.user, holder)
            if holder is not None:
                reason = format_html(_("{reason} It belongs to {user}."), reason=reason, user=user_link(holder))
            messages.error(
                request,
                format_html(_("{contact} was not converted: {reason}"), contact=contact, reason=reason),
            )
        return redirect(back)

    def confirm(self, request, contacts, to, back):
        n = len(contacts)
        if to == User.Status.INVITED:
            what = ngettext(
                "Convert %(n)s contact into a user and send them an account invitation.",
                "Convert %(n)s contacts into users and send each an account invitation.",
                n,
            )
        elif to == User.Status.ACTIVE:
            what = ngettext(
                "Convert %(n)s contact into an active user and send them a temporary password.",
                "Convert %(n)s contacts into active users and send each a temporary password.",
                n,
            )
        else:
            what = ngettext(
                "Convert %(n)s contact into a user (no message sent).",
                "Convert %(n)s contacts into users (no message sent).",
                n,
            )
        return confirmation(
            request,
            title=_("Convert contacts"),
            lines=[what % {"n": n}, _("A contact converted cannot be turned back into a contact.")],
            button=ngettext("Convert %(n)s contact", "Convert %(n)s contacts", n) % {"n": n},
            back=back,
            people=[f"{contact} — {contact.email or contact.mobile}" for contact in contacts[:10]],
            count=n,
        )
