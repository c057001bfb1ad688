"""The results pages (`/results/`), for holders of view_results, within their scope.

Thin like every page: the rows come from `assessments.results` (people out of the actor's scope are
never read; a questionnaire, user or contact out of it is a 404, like another tenant's), and the
files are written by the people export's writers (formula-safe CSV; Excel with text cells and real date cells).
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from assessments.exports import results_export_record
from assessments.results import (
    FREE,
    RowState,
    assignments_of,
    person_results,
    questionnaire_results,
    result_questionnaires,
    results_summary,
    rows_count,
    with_result_counts,
)
from experquiz.web import page_of, per_page_choice, query_string
from rights.mixins import right_required
from rights.names import Right
from rights.selectors import contacts_in_scope, users_in_scope
from web.people.export import csv_response, xlsx_response

from .results_forms import ResultsFilterForm, ResultsSearchForm, window_label

RIGHT = Right.VIEW_RESULTS
PAGE_SIZES = [50, 100, 200]
LIST_PAGE_SIZE = 50
STATES = dict(RowState.choices)
# The columns of a questionnaire's results: (label, sort key or None, first direction: "" up, "-" down).
COLUMNS = [
    (gettext_lazy("Name"), "name", ""),
    (gettext_lazy("Email or mobile"), None, ""),
    (gettext_lazy("Invitation"), "invited", "-"),
    (gettext_lazy("State"), "state", ""),
    (gettext_lazy("Score"), "score", "-"),
    (gettext_lazy("Last step"), "date", "-"),
]
PERSON_COLUMNS = [
    (gettext_lazy("Questionnaire"), "title", ""),
    (gettext_lazy("Invitation"), "invited", "-"),
    (gettext_lazy("State"), "state", ""),
    (gettext_lazy("Score"), "score", "-"),
    (gettext_lazy("Last step"), "date", "-"),
]


def _columns(request, columns, sort: str) -> list[dict]:
    """Header cells: a click sorts by the column, a second click reverses the order."""
    cells = []
    for label, key, first in columns:
        cell = {"label": label, "query": None, "sorted": None}
        if key:
            default = first + key
            flipped = default[1:] if default.startswith("-") else f"-{default}"
            cell["query"] = query_string(request.GET, "page", sort=flipped if sort == default else default)
            cell["sorted"] = {key: "ascending", f"-{key}": "descending"}.get(sort)
        cells.append(cell)
    return cells


def _shown(rows) -> list[dict]:
    """The rows of a page with what the template shows (state label, window label)."""
    shown = []
    for row in rows:
        row = dict(row)
        row["state_label"] = STATES.get(row["state"], row["state"])
        row["window"] = window_label(row["opens"], row["closes"]) if row["opens"] else ""
        shown.append(row)
    return shown


@right_required(RIGHT)
@require_safe
def results_list(request):
    """The questionnaires whose results the actor may read, with their counts within the actor's scope."""
    questionnaires = with_result_counts(result_questionnaires(request.user), request.user)
    search = ResultsSearchForm(request.GET).search()
    if search:
        questionnaires = questionnaires.filter(title__icontains=search)
    page = page_of(request, questionnaires.order_by("title", "pk"), LIST_PAGE_SIZE)
    return render(
        request,
        "assessments/results_list.html",
        {"page": page, "search": search, "query": query_string(request.GET, "page")},
    )


def _questionnaire_rows(request, questionnaire):
    form = ResultsFilterForm(request.GET or None, assignments=assignments_of(questionnaire))
    if form.is_bound and not form.is_valid():
        messages.warning(request, _("Some filters were not understood and were ignored."))
    chosen = form.chosen()
    sort = request.GET.get("sort") or "name"
    rows = questionnaire_results(request.user, questionnaire, sort=sort, **chosen)
    return form, chosen, sort, rows


@right_required(RIGHT)
@require_safe
def results_questionnaire(request, questionnaire_id):
    """Everyone invited to a questionnaire (through each of its invitations) and every free attempt at it,
    in the actor's scope: how far each got, their score; counts; filters, sorting, pages, export."""
    questionnaire = get_object_or_404(result_questionnaires(request.user), pk=questionnaire_id)
    form, chosen, sort, rows = _questionnaire_rows(request, questionnaire)
    per_page = per_page_choice(request, PAGE_SIZES)
    summary = results_summary(request.user, questionnaire, assignment=chosen["assignment"])
    # The count follows from the summary: no COUNT over the rows.
    page = page_of(request, rows, per_page, count=rows_count(summary, chosen["state"]))
    return render(
        request,
        "assessments/results_questionnaire.html",
        {
            "questionnaire": questionnaire,
            "form": form,
            "page": page,
            "rows": _shown(page.object_list),
            "columns": _columns(request, COLUMNS, sort),
            "summary": summary,
            "page_sizes": PAGE_SIZES,
            "per_page": per_page,
            "query": query_string(request.GET, "page"),
            "export_query": query_string(request.GET, "page", "per_page"),
            "free": FREE,
        },
    )


def export_header() -> list[str]:
    return [
        _("Last name"),
        _("First name"),
        _("Email"),
        _("Mobile"),
        _("Person"),
        _("Invitation opens"),
        _("Invitation closes"),
        _("Invited"),
        _("State"),
        _("Opened"),
        _("Started"),
        _("Submitted"),
        _("Score (%)"),
        _("Right answers"),
        _("Questions"),
    ]


def export_rows(rows):
    """One list of cells per row (texts, and datetimes or None for the dates), read in chunks (constant
    memory); the writers make them safe and write the dates their own way."""
    user, contact = _("User"), _("Contact")
    for row in rows.iterator(chunk_size=2000):
        yield [
            row["last"] or "",
            row["first"] or "",
            row["email"] or "",
            row["mobile"] or "",
            user if row["person_user"] else contact,
            row["opens"] if row["kind"] != FREE else _("Free access"),
            row["closes"],
            row["invited_at"],
            STATES.get(row["state"], row["state"]),
            row["opened"],
            row["started"],
            row["submitted"],
            "" if row["result"] is None else str(row["result"]),
            "" if row["right_answers"] is None else str(row["right_answers"]),
            "" if row["asked"] is None else str(row["asked"]),
        ]


@right_required(RIGHT)
@require_safe
def results_export(request, questionnaire_id, fmt):
    """The results of a questionnaire as filtered and sorted on its page (every page), as CSV or Excel."""
    questionnaire = get_object_or_404(result_questionnaires(request.user), pk=questionnaire_id)
    form, chosen, sort, rows = _questionnaire_rows(request, questionnaire)
    fmt = "xlsx" if fmt == "xlsx" else "csv"
    filters = {key: value for key, value in request.GET.items() if value and key in ("assignment", "state")}
    results_export_record(questionnaire=questionnaire, actor=request.user, fmt=fmt, filters=filters, rows=rows.count())
    filename = f"results-{slugify(questionnaire.title)[:40] or questionnaire.pk}"
    writer = xlsx_response if fmt == "xlsx" else csv_response
    return writer(export_header(), export_rows(rows), filename)


def _person_page(request, *, person, rows_for, kind: str):
    form = ResultsFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        messages.warning(request, _("Some filters were not understood and were ignored."))
    sort = request.GET.get("sort") or "-date"
    rows = rows_for(state=form.chosen()["state"], sort=sort)
    page = page_of(request, rows, LIST_PAGE_SIZE)
    return render(
        request,
        "assessments/results_person.html",
        {
            "person": person,
            "person_kind": kind,
            "form": form,
            "page": page,
            "rows": _shown(page.object_list),
            "columns": _columns(request, PERSON_COLUMNS, sort),
            "query": query_string(request.GET, "page"),
        },
    )


@right_required(RIGHT)
@require_safe
def results_user(request, user_id):
    """A user's assessment invitations and attempts (invited or free)."""
    user = get_object_or_404(users_in_scope(request.user, RIGHT), pk=user_id)
    return _person_page(
        request,
        person=user,
        kind="user",
        rows_for=lambda **options: person_results(request.user, user=user, **options),
    )


@right_required(RIGHT)
@require_safe
def results_contact(request, contact_id):
    """A contact's assessment invitations and attempts."""
    contact = get_object_or_404(contacts_in_scope(request.user, RIGHT), pk=contact_id)
    return _person_page(
        request,
        person=contact,
        kind="contact",
        rows_for=lambda **options: person_results(request.user, contact=contact, **options),
    )
