"""The rows of the people list, read and made ready to show in constant work per row.

A page of 200 people used to cost far more in its template than in the database: a model instance
per person, a `{% url %}`, a localised number for every id, the status label, the phone number
parsed again, the groups through a prefetch. Here one query reads plain values of the users table
alone (the local dates come from the database), the groups come from one membership query, groups
and types are named through the page's own menus, and every value shown is a string computed once,
so the template only prints.
"""

import functools
from dataclasses import dataclass
from html import escape

from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import BigIntegerField, DateField
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from markupsafe import Markup
from markupsafe import escape as markup_escape

from accounts.models import User
from experquiz import phones
from groups.selectors import group_ids_by_user, group_ids_column_sql

COLUMNS = (
    "pk",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "is_administrator",
    "status",
    "user_type_id",
    "last_login_date",
    "created_date",
)


@dataclass(slots=True)
class PersonRow:
    """One person as the list shows them: only strings (and a flag), ready to print."""

    pk: int
    first_name: str
    last_name: str
    email: str
    mobile: str
    is_administrator: bool
    status: str
    name: str
    url: str
    edit_url: str
    login_id: str
    mobile_display: str
    status_label: str
    type_name: str
    groups: list[str]
    last_login: str
    created: str


# The page query's own SQL for what TruncDate and ArraySubquery write, on PostgreSQL: the same text,
# without resolving two expressions and a subquery's queryset at every page (0.2 ms of ORM work).
# The users table is the query's base table: its alias is its name.
_LOCAL_DATE = f'("{User._meta.db_table}"."{{column}}" AT TIME ZONE %s)::date'
_GROUP_IDS = group_ids_column_sql(User._meta.db_table)


def costly_columns() -> tuple[str, ...]:
    """The columns read after `COLUMNS` when the page skips no row (experquiz.keyset.read_page): on
    PostgreSQL each person's group ids, an array read from the membership index within the page
    query, one round trip fewer than reading them apart (`group_ids_by_user`)."""
    return ("group_ids",) if connection.vendor == "postgresql" else ()


def with_row_values(queryset):
    """`queryset` (users) with what the rows show and the columns do not hold: read it as `COLUMNS`,
    then `costly_columns()` (`values_list`), to get the tuples `person_rows` reads. On PostgreSQL the
    local dates and the group ids are written as SQL (`_LOCAL_DATE`, `_GROUP_IDS`)."""
    if connection.vendor != "postgresql":
        return queryset.annotate(last_login_date=TruncDate("last_login"), created_date=TruncDate("created_at"))
    # Fixed texts made of the models' names (above); the time zone is a parameter.
    zone = [timezone.get_current_timezone_name()]
    return queryset.annotate(
        last_login_date=RawSQL(_LOCAL_DATE.format(column="last_login"), zone, output_field=DateField()),  # noqa: S611
        created_date=RawSQL(_LOCAL_DATE.format(column="created_at"), zone, output_field=DateField()),  # noqa: S611
        group_ids=RawSQL(_GROUP_IDS, (), output_field=ArrayField(BigIntegerField())),  # noqa: S611
    )


@functools.lru_cache(maxsize=4096)
def _short_date(day, language):
    """A day as `|date:"SHORT_DATE_FORMAT"` shows it in `language` (the active one, which it reads)."""
    return date_format(day, "SHORT_DATE_FORMAT")


def url_maker(name="accounts:user_detail"):
    """pk → the page `name` of a person (their page by default), from one `reverse()` instead of one per row."""
    marker = 987654321
    pattern = reverse(name, args=[marker])
    before, after = pattern.split(str(marker))
    return lambda pk: f"{before}{pk}{after}"


def person_rows(values, *, group_names: dict[int, str], type_names: dict[int, str]) -> list[PersonRow]:
    """`values` (tuples of `COLUMNS` and `costly_columns()`, of `with_row_values`, one page; the group
    ids None or absent when not read with them) as rows. `group_names` holds the
    groups the viewer may see ({pk: name}, in the order to show them: the menu's, by name in the
    database's collation); memberships of any other group are not shown. `type_names`: {pk: name} of
    the organisation's user types (the type menu's), so that the page query reads one table."""
    values = list(values)
    rank = {pk: n for n, pk in enumerate(group_names)}
    width = len(COLUMNS)
    if values and len(values[0]) > width and values[0][width] is not None:
        memberships = {value[0]: value[width] for value in values}
    else:
        memberships = group_ids_by_user([value[0] for value in values])
    labels = {status: str(label) for status, label in User.Status.choices}
    url, edit_url = url_maker(), url_maker("accounts:user_edit")
    language = get_language()

    def short_date(day):
        return "—" if day is None else _short_date(day, language)

    rows = []
    for pk, first, last, email, mobile, is_admin, status, type_id, last_login, created, *_costly in values:
        shown_mobile = phones.display(mobile)
        groups = [group_names[g] for g in sorted((g for g in memberships.get(pk, ()) if g in rank), key=rank.get)]
        rows.append(
            PersonRow(
                pk=pk,
                first_name=first,
                last_name=last,
                email=email,
                mobile=mobile,
                is_administrator=is_admin,
                status=status,
                # As User.__str__: the full name, else the login ID.
                name=f"{first} {last}".strip() or email or shown_mobile,
                url=url(pk),
                edit_url=edit_url(pk),
                # As User.login_id: the email, else the mobile number.
                login_id=email or shown_mobile,
                mobile_display=shown_mobile,
                status_label=labels.get(status, status),
                type_name=type_names.get(type_id, ""),
                groups=groups,
                last_login=short_date(last_login),
                created=short_date(created),
            )
        )
    return rows


def esc(text: str) -> str:
    """`text` escaped as Jinja2 escapes it (markupsafe's `escape`: the same five entities), as a plain
    string: without the Markup object and the wrapper around it, half the cost, for the dozen values
    of each row. Anything but a plain `str` (markup, a lazy translation) is left to markupsafe."""
    if text.__class__ is not str:
        return str(markup_escape(text))
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
    )


def rows_markup(rows: list[PersonRow], labels: dict[str, str]) -> Markup:
    """The `<tr>`s of the list's table for `rows`, every value escaped; `labels` the row texts,
    translated ("select" with a `%(name)s`, "admin", "edit", "empty").

    Written here rather than in a template, like `menu_options`: the row template cost 22 µs a row
    (twenty values each escaped and wrapped by Jinja2, a filter, three conditions, a loop), 4.3 ms of a
    193-row page; this is one string per row. Below the md breakpoint the table stacks
    (.table-stack): each row a card with the checkbox, the name and login ID, the status in its
    corner, the groups and the Edit button; the other columns are for wider screens."""
    if not rows:
        empty = esc(labels["empty"])
        return Markup(f'\n      <tr><td colspan="10" class="text-center text-body-secondary py-4">{empty}</td></tr>')  # noqa: S704
    select, admin, edit = labels["select"], esc(labels["admin"]), esc(labels["edit"])
    badge = f' <span class="badge text-bg-info">{admin}</span>'
    # The values many rows share (group badges, types, statuses, dates), each escaped once per page.
    shared = {}

    def esc_shared(text: str) -> str:
        escaped = shared.get(text)
        if escaped is None:
            escaped = shared[text] = esc(text)
        return escaped

    parts = []
    for row in rows:
        name = esc(row.name)
        subtitle = ""
        differs = row.login_id != row.name
        if differs or row.type_name:
            login_id = esc(row.login_id) if differs else ""
            between = " · " if differs and row.type_name else ""
            subtitle = (
                '<div class="d-md-none small fw-normal text-body-secondary stack-wide">'
                f"{login_id}{between}{esc_shared(row.type_name)}</div>"
            )
        groups = "".join(
            f'<span class="badge text-bg-light border me-1">{esc_shared(group)}</span>' for group in row.groups
        )
        parts.append(
            "\n      <tr>\n"
            f'        <td class="stack-check"><input class="form-check-input row-check" type="checkbox" name="ids" '
            f'value="{row.pk}" id="select-{row.pk}" aria-label="{esc(select % {"name": row.name})}"></td>\n'
            f'        <td class="stack-title text-nowrap"><a href="{esc(row.url)}">{name}</a>'
            f"{badge if row.is_administrator else ''}{subtitle}</td>\n"
            f'        <td class="d-none d-md-table-cell">{esc(row.email)}</td>\n'
            f'        <td class="d-none d-md-table-cell text-nowrap">{esc(row.mobile_display)}</td>\n'
            f'        <td class="d-none d-md-table-cell">{esc_shared(row.type_name)}</td>\n'
            f'        <td class="stack-corner"><span class="badge status-{esc_shared(row.status)}">'
            f"{esc_shared(row.status_label)}</span></td>\n"
            f"        <td>{groups}</td>\n"
            f'        <td class="d-none d-md-table-cell text-nowrap">{esc_shared(row.last_login)}</td>\n'
            f'        <td class="d-none d-md-table-cell text-nowrap">{esc_shared(row.created)}</td>\n'
            f'        <td class="stack-action text-md-end"><a class="btn btn-sm btn-outline-primary" '
            f'href="{esc(row.edit_url)}">{edit}<span class="visually-hidden"> {name}</span></a></td>\n'
            "      </tr>"
        )
    # Every value above is escaped: safe markup.
    return Markup("".join(parts))  # noqa: S704


def menu_options(choices):
    """The <option>s of a long menu (the list's two menus of every group in scope: 250 at 100,000
    people), one string join with the labels escaped: a template loop, even Jinja2's, cost more than
    the page's rows. `choices`: (id, label) pairs."""
    # Values are integers and labels escaped: safe markup.
    return mark_safe("".join([f'<option value="{int(value)}">{escape(label)}</option>' for value, label in choices]))  # noqa: S308


def with_selected(options, selected):
    """`options` (of `menu_options`) with the one of id `selected` chosen (None: none)."""
    if selected is None:
        return options
    chosen = f'<option value="{int(selected)}">'
    return mark_safe(options.replace(chosen, f'<option value="{int(selected)}" selected>', 1))  # noqa: S308
