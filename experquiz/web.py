"""Small helpers for the views of any area (they know no app)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import render
from django.utils import translation
from django.utils.functional import cached_property

from .errors import DomainError, InvalidFields
from .parsing import parse_id


def use_language(response, language: str):
    """Show the product in the user's own language from now on (after logging in)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.HTTPS,
    )
    return response


def confirmed(request) -> bool:
    """Whether a POST comes from a confirmation page (`confirmation`), or must show one first."""
    return request.POST.get("confirmed") == "1"


def confirmation(request, *, title, lines, button, back, people=(), count=0, danger=False):
    """The one confirmation step for what sends messages, acts on several people or cannot be
    undone: says what will happen (`lines`, and who when `people`), and posts the same form again,
    confirmed. `count`: how many people in all when `people` is a sample."""
    fields = [
        (name, value)
        for name in request.POST
        if name not in ("csrfmiddlewaretoken", "confirmed")
        for value in request.POST.getlist(name)
    ]
    people = list(people)
    return render(
        request,
        "confirm.html",
        {
            "title": title,
            "lines": lines,
            "button": button,
            "back": back,
            "fields": fields,
            "people": people,
            "more": max(count - len(people), 0),
            "danger": danger,
        },
    )


def speak_recipients_language(request, language: str) -> None:
    """A page opened from a message speaks the message's language (the recipient's), whatever the
    browser says, unless the visitor picked a language in the menu."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return
    translation.activate(language)
    request.LANGUAGE_CODE = language


def form_error_from_service(form, error) -> None:
    """Show a service's refusal on the form it came from: each field's messages next to that field
    (at the top when the form has no such field), any other refusal at the top of the form.

    `error` is a DomainError (InvalidFields names its fields) or a ValidationError."""
    if isinstance(error, InvalidFields):
        by_field = error.errors
    elif isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        by_field = error.message_dict
    else:
        form.add_error(None, error.message if isinstance(error, DomainError) else error.messages)
        return
    for field, said in by_field.items():
        form.add_error(field if field in form.fields else None, said)


def message_from_service(request, error) -> None:
    """Show a service's refusal (a DomainError or a ValidationError) as an error message, for a
    page that redirects rather than showing a form again."""
    messages.error(request, error.message if isinstance(error, DomainError) else " ".join(error.messages))


def query_string(params: QueryDict, *drop: str, **changes) -> str:
    """`params` (a request's GET) as a query string without the keys in `drop` and with `changes`
    applied, an empty value removing its key: the links of a list that keep its filters."""
    # What `params.copy()`, popping and `urlencode()` give (the kept keys in their order, then the
    # changes), without copying the QueryDict: a list page builds some twenty of these.
    left_out = {*drop, *changes}
    pairs = [(key, value) for key, values in params.lists() if key not in left_out for value in values]
    pairs += [(key, str(value)) for key, value in changes.items() if value not in (None, "")]
    return urlencode(pairs)


class KnownCountPaginator(Paginator):
    """A paginator told its count (e.g. from cached counts) instead of running COUNT(*)."""

    def __init__(self, object_list, per_page, *, count, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self._known_count = count

    @cached_property
    def count(self):
        return self._known_count


def page_of(request, queryset, per_page: int, *, count: int | None = None):
    """The page of `queryset` asked for by `?page=` (the last one past the end, the first one for
    anything that is not a number); `count`, when known, spares the COUNT(*)."""
    paginator = Paginator(queryset, per_page) if count is None else KnownCountPaginator(queryset, per_page, count=count)
    return paginator.get_page(request.GET.get("page"))


def per_page_choice(request, sizes: list[int]) -> int:
    """The page size asked for by `?per_page=` if it is one of `sizes`, else the first of them."""
    asked = parse_id(request.GET.get("per_page"))
    return asked if asked in sizes else sizes[0]


def posted(request):
    """The data to bind a form to: the POST on a POST, even an empty one (every box unticked is still
    a submission, which `request.POST or None` would not bind), None on a GET."""
    return request.POST if request.method == "POST" else None
