"""The audit trail pages (administrators only): the filtered list and its CSV export.

The pages live on the web floor like every app's pages: they use the rights gate and the people
list's CSV writer, while the audit app below them (models, services, selectors) imports no other
project app.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from audit.selectors import events_for, keyset_page
from audit.services import audit_trail_export_record
from experquiz.parsing import parse_id
from experquiz.web import per_page_choice, query_string
from rights.mixins import RightRequiredMixin
from rights.names import ADMINISTRATOR
from web.people.export import csv_response

from . import display
from .filters import AuditFilter

PAGE_SIZES = [50, 100, 200]
EXPORT_CHUNK = 2000


def _filtered(request):
    filterset = AuditFilter(request.GET, queryset=events_for(request.organization), request=request)
    return filterset, (filterset.qs if filterset.is_valid() else None)


def _query(params, *drop) -> str:
    # A page is found by id (`before`/`after`), never by number: links that keep the filters drop them.
    return query_string(params, "before", "after", *drop)


class AuditListView(RightRequiredMixin, View):
    """Who did what, newest first; filters in the URL; pages found by id (constant cost)."""

    required_right = ADMINISTRATOR

    def get(self, request):
        filterset, events = _filtered(request)
        per_page = per_page_choice(request, PAGE_SIZES)
        if events is None:
            messages.warning(request, _("Some filters were not understood: nothing is shown until they are fixed."))
            events = filterset.queryset.none()
        page = keyset_page(
            events,
            per_page=per_page,
            before=parse_id(request.GET.get("before")),
            after=parse_id(request.GET.get("after")),
        )
        person = filterset.form.cleaned_data.get("person") if filterset.is_valid() else None
        return render(
            request,
            "audit/event_list.html",
            {
                "filter": filterset,
                "page": page,
                "person": person,
                "per_page": per_page,
                "page_sizes": PAGE_SIZES,
                "query": _query(request.GET),
                "query_without_size": _query(request.GET, "per_page"),
                "query_without_person": _query(request.GET, "person"),
            },
        )


def event_row(event) -> list:
    return [
        timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M:%S"),
        event.actor or "",
        event.actor.login_id if event.actor else "",
        event.action_label,
        event.action,
        display.target_type_text(event),
        event.target_text,
        event.target_user.login_id if event.target_user else "",
        display.changes_text(event),
        event.client_ip or "",
        event.request_id,
    ]


def event_header() -> list:
    return [
        _("When"),
        _("By"),
        _("Login ID of the actor"),
        _("Action"),
        _("Action code"),
        _("Target type"),
        _("Target"),
        _("Login ID of the person concerned"),
        _("Changes"),
        _("Client address"),
        _("Request ID"),
    ]


class AuditExportView(RightRequiredMixin, View):
    """The filtered trail as CSV (every page), safe to open in a spreadsheet. Taking the trail out is
    itself recorded."""

    required_right = ADMINISTRATOR

    def get(self, request):
        filterset, events = _filtered(request)
        if events is None:
            messages.error(request, _("Some filters were not understood: fix them before exporting."))
            return redirect(reverse("audit:list") + "?" + _query(request.GET))
        recorded = audit_trail_export_record(
            organization=request.organization,
            actor=request.user,
            filters={key: value for key, value in request.GET.items() if value and key in filterset.filters},
            rows=events.count(),
        )
        # The file holds what was counted: the trail up to this very export.
        events = events.filter(id__lt=recorded.pk)
        rows = (event_row(event) for event in events.iterator(chunk_size=EXPORT_CHUNK))
        return csv_response(event_header(), rows, f"audit-{request.organization.slug}")
