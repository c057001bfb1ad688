"""The questionnaire pages (`/questionnaires/`), for holders of manage_questionnaires.

Thin, like every page: questionnaires are read through `questionnaires_in_scope` (out-of-scope and
other tenants' questionnaires are a 404, alike), written through the assessments services, and a
service's refusal becomes a message on the form or the page. Group names are shown only for the
actor's own groups, and authors only when the actor may see them.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from assessments import interchange, services
from assessments.assignment_selectors import assignments_in_scope, with_people_counts
from assessments.errors import Gone, InterchangeError
from assessments.interchange import MAX_FILE_BYTES, export_bytes, read_questionnaire
from assessments.models import Question, Questionnaire
from assessments.selectors import (
    has_attempts,
    questionnaires_in_scope,
    questionnaires_invitable_by,
    questions_of,
    with_counts,
)
from experquiz.errors import DomainError
from experquiz.web import form_error_from_service, page_of, posted, query_string
from rights.mixins import right_required
from rights.names import Right
from rights.selectors import actor_has_right, actor_scope, groups_in_scope, users_in_scope
from web.groups.filters import filtered

from .filters import QuestionnaireFilter
from .forms import ImportForm, QuestionForm, QuestionnaireForm

RIGHT = Right.MANAGE_QUESTIONNAIRES

PAGE_SIZE = 50
# The latest assessment invitations listed on a questionnaire's page.
ASSIGNMENTS_SHOWN = 20


def _questionnaire(request, questionnaire_id) -> Questionnaire:
    return get_object_or_404(questionnaires_in_scope(request.user), pk=questionnaire_id)


def _question(questionnaire, question_id) -> Question:
    questions = Question.objects.filter(organization_id=questionnaire.organization_id, questionnaire=questionnaire)
    return get_object_or_404(questions, pk=question_id)


def _scope_group_ids(request) -> set:
    return set(groups_in_scope(request.user, RIGHT).values_list("pk", flat=True))


def _with_authors(request, questionnaires):
    """`author_visible`: whether the actor may see who made each questionnaire (a person outside their
    scope is never named)."""
    visible = users_in_scope(request.user, RIGHT).filter(pk=OuterRef("created_by_id"))
    return questionnaires.select_related("created_by").annotate(author_visible=Exists(visible))


def _shown_groups(questionnaires, scope_ids) -> None:
    """Set `shown_groups` (the actor's own groups among those it is shown to) and `other_groups` (how
    many others) on each questionnaire."""
    for questionnaire in questionnaires:
        groups = list(questionnaire.groups.all())
        questionnaire.shown_groups = [group for group in groups if group.pk in scope_ids]
        questionnaire.other_groups = len(groups) - len(questionnaire.shown_groups)


def _settings_form(request, data=None, questionnaire=None) -> QuestionnaireForm:
    initial = {}
    if questionnaire is not None:
        initial = {
            "title": questionnaire.title,
            "kind": questionnaire.kind,
            "instructions": questionnaire.instructions,
            "time_limit_minutes": questionnaire.time_limit_minutes,
            "visibility": questionnaire.visibility,
            "groups": list(questionnaire.groups.values_list("pk", flat=True)),
        }
    return QuestionnaireForm(
        data,
        initial=initial,
        groups=groups_in_scope(request.user, RIGHT),
        may_show_to_all=actor_scope(request.user, RIGHT).all_users,
    )


# Questionnaires ----------------------------------------------------------------------------------


@right_required(RIGHT)
def questionnaire_list(request):
    """The questionnaires in the actor's scope, filtered, with the import form."""
    questionnaires = with_counts(_with_authors(request, questionnaires_in_scope(request.user)))
    filterset = QuestionnaireFilter(request.GET or None, queryset=questionnaires, request=request)
    page = page_of(request, filtered(filterset).prefetch_related("groups").order_by("-updated_at", "-pk"), PAGE_SIZE)
    _shown_groups(page, _scope_group_ids(request))
    return render(
        request,
        "assessments/questionnaire_list.html",
        {"filter": filterset, "page": page, "query": query_string(request.GET, "page"), "import_form": ImportForm()},
    )


@right_required(RIGHT)
def questionnaire_create(request):
    form = _settings_form(request, posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            questionnaire = services.questionnaire_create(
                organization=request.organization, actor=request.user, **form.cleaned_data
            )
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(
                request, _("Questionnaire “%(title)s” created: add its questions.") % {"title": questionnaire.title}
            )
            return redirect("assessments:detail", questionnaire_id=questionnaire.pk)
    return render(request, "assessments/questionnaire_form.html", {"form": form})


@right_required(RIGHT)
def questionnaire_detail(request, questionnaire_id):
    """A questionnaire's settings and its questions with their choices, and what can be done to it."""
    questionnaire = _questionnaire(request, questionnaire_id)
    counted = with_counts(_with_authors(request, Questionnaire.objects.filter(pk=questionnaire.pk)))
    counted = counted.prefetch_related("groups").get()
    _shown_groups([counted], _scope_group_ids(request))
    may_invite = questionnaires_invitable_by(request.user).filter(pk=questionnaire.pk).exists()
    assignments = with_people_counts(assignments_in_scope(request.user).filter(questionnaire=questionnaire))
    return render(
        request,
        "assessments/questionnaire_detail.html",
        {
            "questionnaire": counted,
            "questions": questions_of(questionnaire),
            "locked": has_attempts(questionnaire),
            "may_invite": may_invite,
            "may_follow_invitations": actor_has_right(request.user, Right.INVITE),
            "assignments": assignments.order_by("-opens_at", "-pk")[:ASSIGNMENTS_SHOWN],
        },
    )


@right_required(RIGHT)
def questionnaire_update(request, questionnaire_id):
    questionnaire = _questionnaire(request, questionnaire_id)
    form = _settings_form(request, posted(request), questionnaire)
    if request.method == "POST" and form.is_valid():
        try:
            services.questionnaire_update(questionnaire=questionnaire, actor=request.user, **form.cleaned_data)
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Questionnaire “%(title)s” saved.") % {"title": form.cleaned_data["title"]})
            return redirect("assessments:detail", questionnaire_id=questionnaire.pk)
    return render(request, "assessments/questionnaire_form.html", {"form": form, "questionnaire": questionnaire})


@right_required(RIGHT)
def questionnaire_delete(request, questionnaire_id):
    questionnaire = _questionnaire(request, questionnaire_id)
    if request.method == "POST":
        try:
            services.questionnaire_delete(questionnaire=questionnaire, actor=request.user)
        except Gone as error:
            messages.info(request, error.message)
            return redirect("assessments:list")
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("assessments:detail", questionnaire_id=questionnaire.pk)
        messages.success(request, _("Questionnaire “%(title)s” deleted.") % {"title": questionnaire.title})
        return redirect("assessments:list")
    counted = with_counts(Questionnaire.objects.filter(pk=questionnaire.pk)).get()
    return render(request, "assessments/questionnaire_confirm_delete.html", {"questionnaire": counted})


def _set_published(request, questionnaire_id, publish: bool):
    questionnaire = _questionnaire(request, questionnaire_id)
    service = services.questionnaire_publish if publish else services.questionnaire_unpublish
    try:
        service(questionnaire=questionnaire, actor=request.user)
    except Gone as error:
        messages.info(request, error.message)
        return redirect("assessments:list")
    except (DomainError, ValidationError) as error:
        messages.error(request, error.message if isinstance(error, DomainError) else " ".join(error.messages))
    else:
        if publish:
            messages.success(request, _("“%(title)s” is published.") % {"title": questionnaire.title})
        else:
            messages.success(
                request,
                _("“%(title)s” is no longer published: nobody can start it.") % {"title": questionnaire.title},
            )
    return redirect("assessments:detail", questionnaire_id=questionnaire.pk)


@right_required(RIGHT)
@require_POST
def questionnaire_publish(request, questionnaire_id):
    return _set_published(request, questionnaire_id, True)


@right_required(RIGHT)
@require_POST
def questionnaire_unpublish(request, questionnaire_id):
    return _set_published(request, questionnaire_id, False)


@right_required(RIGHT)
def questionnaire_export(request, questionnaire_id):
    """The questionnaire as a JSON file (the groups out of the actor's scope are left out)."""
    questionnaire = _questionnaire(request, questionnaire_id)
    data = interchange.questionnaire_export(questionnaire, group_ids=_scope_group_ids(request))
    response = HttpResponse(export_bytes(data), content_type="application/json; charset=utf-8")
    name = slugify(questionnaire.title)[:60] or "questionnaire"
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


@right_required(RIGHT)
def questionnaire_import(request):
    """Upload a JSON file: checked completely, then imported whole, or its problems listed."""
    form = ImportForm(posted(request), request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            read = read_questionnaire(
                upload.read(MAX_FILE_BYTES + 1), organization=request.organization, actor=request.user
            )
            questionnaire = services.questionnaire_import(
                organization=request.organization,
                actor=request.user,
                publish=form.cleaned_data["publish"],
                source=upload.name[:100],
                **read.as_kwargs(),
            )
        except InterchangeError as error:
            problems = error.errors
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(
                request,
                _("Questionnaire “%(title)s” imported with %(count)s questions.")
                % {"title": questionnaire.title, "count": len(read.questions)},
            )
            return redirect("assessments:detail", questionnaire_id=questionnaire.pk)
    return render(
        request,
        "assessments/questionnaire_import.html",
        {"form": form, "problems": problems, "max_mb": MAX_FILE_BYTES // (1024 * 1024)},
    )


# Questions ---------------------------------------------------------------------------------------


def _question_page(request, questionnaire, form, question=None):
    return render(
        request,
        "assessments/question_form.html",
        {"questionnaire": questionnaire, "form": form, "question": question},
    )


@right_required(RIGHT)
def question_create(request, questionnaire_id):
    questionnaire = _questionnaire(request, questionnaire_id)
    form = QuestionForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.question_create(
                questionnaire=questionnaire,
                actor=request.user,
                text=form.cleaned_data["text"],
                choices=form.cleaned_data["choices"],
            )
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Question added."))
            if "another" in request.POST:
                return redirect("assessments:question_create", questionnaire_id=questionnaire.pk)
            return redirect("assessments:detail", questionnaire_id=questionnaire.pk)
    return _question_page(request, questionnaire, form)


@right_required(RIGHT)
def question_update(request, questionnaire_id, question_id):
    questionnaire = _questionnaire(request, questionnaire_id)
    question = _question(questionnaire, question_id)
    form = QuestionForm(posted(request), question=question)
    if request.method == "POST" and form.is_valid():
        try:
            services.question_update(
                question=question,
                actor=request.user,
                text=form.cleaned_data["text"],
                choices=form.cleaned_data["choices"],
            )
        except (DomainError, ValidationError) as error:
            form_error_from_service(form, error)
        else:
            messages.success(request, _("Question saved."))
            return redirect("assessments:detail", questionnaire_id=questionnaire.pk)
    return _question_page(request, questionnaire, form, question)


@right_required(RIGHT)
def question_delete(request, questionnaire_id, question_id):
    questionnaire = _questionnaire(request, questionnaire_id)
    question = _question(questionnaire, question_id)
    if request.method == "POST":
        try:
            services.question_delete(question=question, actor=request.user)
        except (DomainError, ValidationError) as error:
            messages.error(request, error.message if isinstance(error, DomainError) else " ".join(error.messages))
        else:
            messages.success(request, _("Question removed."))
        return redirect("assessments:detail", questionnaire_id=questionnaire.pk)
    return render(
        request, "assessments/question_confirm_delete.html", {"questionnaire": questionnaire, "question": question}
    )


@right_required(RIGHT)
@require_POST
def question_move(request, questionnaire_id, question_id):
    """Move a question one place up or down (`direction`); anything else moves nothing."""
    questionnaire = _questionnaire(request, questionnaire_id)
    question = _question(questionnaire, question_id)
    direction = request.POST.get("direction")
    if direction in ("up", "down"):
        try:
            services.question_move(question=question, actor=request.user, up=direction == "up")
        except DomainError as error:
            messages.error(request, error.message)
    return redirect(f"{_detail_url(questionnaire)}#question-{question.pk}")


def _detail_url(questionnaire) -> str:
    return reverse("assessments:detail", kwargs={"questionnaire_id": questionnaire.pk})
