"""The people list's filters. Every choice is offered from a queryset scoped by the actor."""

import copy
from datetime import UTC, datetime

import django_filters
import django_filters.fields
from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce, Concat
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from accounts.models import Contact, User, UserType
from accounts.search import search_terms, word_term
from accounts.selectors import KNOWN_WORDS_VENDORS
from experquiz.keyset import Order
from experquiz.parsing import parse_id
from groups.models import UserGroup
from rights.names import Right
from rights.selectors import PeopleListReads, groups_in_scope

# "Never logged in" as a time before any login, so that the last-login order has no NULL to place
# and is one row comparison like the others (experquiz.keyset); PostgreSQL has an index on exactly
# this expression (accounts migration 0010).
NEVER = datetime(1, 1, 1, tzinfo=UTC)
LAST_LOGIN = Coalesce("last_login", Value(NEVER, output_field=DateTimeField()))
# Each sort of the list is a total order whose keys all go one way, the primary key last; the
# descending sorts are the exact reverse of the ascending ones. Each has an index that gives it
# within an organisation, read forwards or backwards (accounts.models.User.Meta.indexes).
SORT_KEYS = {
    "name": ("last_name", "first_name", "pk"),
    "status": ("status", "last_name", "first_name", "pk"),
    "created": ("created_at", "pk"),
    "last_login": (LAST_LOGIN, "pk"),
}
SORTS = {
    **{name: Order(name, keys) for name, keys in SORT_KEYS.items()},
    **{f"-{name}": Order(f"-{name}", keys, descending=True) for name, keys in SORT_KEYS.items()},
}
# The filters whose list's tab counts are counted (and cached) rather than read from the counts the
# database keeps: UserFilter.is_filtered.
FILTERS_COUNTED = ("q", "group", "type")
# Written so that no index can give them: see UserFilter.sort_small_result.
FENCED = {"last_name", "first_name", "status"}
# The name order of a group's members, read from their memberships: each carries a copy of its
# member's name, which the database keeps equal to the user's (groups migration 0005, on these
# databases), and the index (group, member's name, user) gives the group in that order. The values
# are the user's own keys, so cursors are the same as the list's without a group.
MEMBER_NAME_VENDORS = ("postgresql", "sqlite")
MEMBER_NAME_KEYS = ("memberships__member_last_name", "memberships__member_first_name", "memberships__user__id")
# The name order of the people who have a word, read from their words: each carries a copy of its
# person's name, which the database keeps equal to the user's (accounts migration 0015), and the key
# (organisation, word, name, user) gives them in that order. The values are the user's own keys, so
# cursors are the same as the list's without a search.
WORD_NAME_KEYS = ("search_words__last_name", "search_words__first_name", "search_words__user__id")
SORT_CHOICES = [
    ("name", _("Name (A–Z)")),
    ("-name", _("Name (Z–A)")),
    ("status", _("Status")),
    ("-created", _("Newest first")),
    ("created", _("Oldest first")),
    ("-last_login", _("Last login (recent first)")),
    ("last_login", _("Last login (oldest first)")),
    ("-status", _("Status (reverse)")),
]


class ListedModelChoiceField(django_filters.fields.ModelChoiceField):
    """A choice checked against the (pk, name) rows of its queryset, read once: the page's menu
    lists the same rows (`choices_list`), so the menu and the check cost one query, not two, and
    no model instance per row. The chosen object carries only its pk and name."""

    _rows = None

    def __init__(self, *args, rows=None, **kwargs):
        # `rows`: what reads the (pk, name) rows of the queryset in its order, when the caller has a
        # cheaper way than the queryset (the people list's menus: accounts and rights selectors).
        self.read_rows = rows
        super().__init__(*args, **kwargs)

    def choices_list(self) -> list[tuple[int, str]]:
        """(pk, name) of every choice, in the queryset's order."""
        if self._rows is None:
            self._rows = self.read_rows() if self.read_rows else list(self.queryset.values_list("pk", "name"))
        return self._rows

    def to_python(self, value):
        if value in self.empty_values:
            return None
        pk = parse_id(value)
        for choice, name in self.choices_list():
            if choice == pk:
                return self.queryset.model(pk=pk, name=name)
        raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")


def _own_copy(filter_):
    """A filter of the class, for one FilterSet: its field (built from `extra`, the queryset set in
    `extra` too) and its method (bound to the copy, looked up on the copy's parent) are the copy's."""
    assert not hasattr(filter_, "_field"), "a class's filter never builds its field"
    own = copy.copy(filter_)
    own.extra = dict(filter_.extra)
    if filter_.method is not None:
        own.method = filter_.method
    return own


class ListedModelChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = ListedModelChoiceField


class UserFilter(django_filters.FilterSet):
    """`?status=&group=&type=&q=&sort=`. No status means every status but deleted.

    Built for an `actor`, not a request: the page and the background bulk job (a task, which has no
    request) resolve the same filters over the same scope.
    """

    q = django_filters.CharFilter(
        method="filter_q",
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name, email or mobile")}),
    )
    status = django_filters.ChoiceFilter(
        choices=User.Status.choices, label=_("Status"), empty_label=_("All but deleted"), method="filter_status"
    )
    group = ListedModelChoiceFilter(
        queryset=UserGroup.objects.none(), label=_("Group"), empty_label=_("Any group"), method="filter_group"
    )
    type = ListedModelChoiceFilter(
        queryset=UserType.objects.none(), field_name="user_type", label=_("Type"), empty_label=_("Any type")
    )
    sort = django_filters.ChoiceFilter(choices=SORT_CHOICES, label=_("Sort by"), empty_label=None, method="filter_sort")

    class Meta:
        model = User
        fields = ["q", "status", "group", "type", "sort"]

    def __init__(self, data=None, *, queryset, actor, right=Right.MANAGE_USERS, reads=None, request=None, prefix=None):
        # django_filters.FilterSet.__init__, but for the copy of the class's filters: it deep-copies
        # them for every instance (their querysets, choices and widgets: ~300 objects per page); each
        # filter's own copy and a copy of its field's arguments are what an instance changes.
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: _own_copy(filter_) for name, filter_ in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self
        self.actor = actor
        self.organization = getattr(actor, "organization", None)
        # The one known word of the organisation containing the search's `word_term()`, when the
        # caller looked it up (the people list, with its tab counts): the search then reads that
        # word's people, in name order, instead of every match of the trigram index.
        self.search_word = ""
        # Only the actor's groups (for the `right` the list is read with) and their organisation's
        # types are offered, or accepted: read by `reads` (the page's PeopleListReads, which the page
        # also asks for its counts), or by one of their own.
        reads = reads if reads is not None else PeopleListReads(actor, right)
        self.filters["group"].queryset = groups_in_scope(actor, right).order_by("name")
        self.filters["group"].extra["rows"] = reads.groups
        if self.organization is not None:
            types = UserType.objects.for_org(self.organization)
            self.filters["type"].queryset = types.order_by("name")
            self.filters["type"].extra["rows"] = reads.types

    @classmethod
    def _form_class(cls):
        """The form class of the class's filters, built once per FilterSet class: django-filter builds
        one per instance (a field per filter, then the class), ~0.2 ms of every page of the list. The
        fields are the same for every instance but the menus' querysets and rows, which `form` sets
        on the instance's form (whose fields are its own copies, as any Django form's)."""
        form_class = cls.__dict__.get("_built_form_class")
        if form_class is None:
            # Fields of copies: the class's own filters never build theirs (_own_copy).
            fields = {name: _own_copy(filter_).field for name, filter_ in cls.base_filters.items()}
            form_class = type(f"{cls.__name__}Form", (cls._meta.form,), fields)
            cls._built_form_class = form_class
        return form_class

    def get_form_class(self):
        return self._form_class()

    @property
    def form(self):
        if not hasattr(self, "_form"):
            form = super().form
            for name in ("group", "type"):
                field, filter_ = form.fields[name], self.filters[name]
                field.queryset = filter_.queryset
                field.read_rows = filter_.extra.get("rows")
        return self._form

    def filter_q(self, queryset, name, value):
        word = self.search_word if self.reads_words() else ""
        return queryset.search(value, self.organization.phone_region, word=word, organization=self.organization)

    def word_term(self) -> str:
        """The search's word that its people's words can serve (accounts.search.word_term), or "":
        on a database that keeps them, for a search without a group (a group's members are searched
        in their memberships, filter_group)."""
        data = self.form.cleaned_data
        if connection.vendor not in KNOWN_WORDS_VENDORS or data.get("group") or not data.get("q"):
            return ""
        return word_term(search_terms(data["q"], self.organization.phone_region))

    def reads_words(self) -> bool:
        """Whether the search reads the known word's people (`search_word`): for the name sorts,
        which their key gives. Any other sort reads every match and sorts them, which the trigram
        index does with fewer reads."""
        sort = self.form.cleaned_data.get("sort") or "name"
        return bool(self.search_word) and SORTS[sort].keys == SORT_KEYS["name"] and bool(self.word_term())

    def filter_status(self, queryset, name, value):
        return queryset.filter(status=value)

    def filter_group(self, queryset, name, value):
        if connection.vendor in MEMBER_NAME_VENDORS:
            # A join, not a semi-join: the list's name order is read from the membership
            # (`order`); one group, so one membership per user at most and no duplicates. With a
            # search, each word is also looked for in the membership's copy of the member's search
            # text, which the group's name index holds: the members are checked there, in name
            # order, and only those that match are read from the users table (where the user's own
            # text is checked as before). A type is checked there the same way, on the membership's
            # copy of its member's type (groups migrations 0008–0009), then on the user by the type
            # filter. One filter() call: one join.
            condition = Q(memberships__group=value.pk)
            if q := self.form.cleaned_data.get("q"):
                for term in search_terms(q, self.organization.phone_region):
                    condition &= Q(memberships__member_search_text__contains=term)
            if user_type := self.form.cleaned_data.get("type"):
                condition &= Q(memberships__member_type_id=user_type.pk)
            return queryset.filter(condition)
        return queryset.in_groups([value.pk])

    def filter_sort(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if not data.get("status"):
            queryset = queryset.not_deleted()
        order = self.order()
        return queryset.order_by(*(key.desc() if order.descending else key.asc() for key in order.expressions()))

    def order(self, *, small_result: bool = False) -> Order:
        """The chosen sort as a total order (experquiz.keyset); `small_result`: written for a result
        known to be small (see `sort_small_result`)."""
        order = SORTS.get(self.form.cleaned_data.get("sort") or "name", SORTS["name"])
        group = self.form.cleaned_data.get("group")
        if group and order.keys == SORT_KEYS["name"] and connection.vendor in MEMBER_NAME_VENDORS:
            # A page of the group is a range of its memberships' index: no need to collect the
            # whole group and sort it, whatever its size.
            return Order(order.name, MEMBER_NAME_KEYS, order.descending)
        if order.keys == SORT_KEYS["name"] and self.reads_words():
            # The word's people in name order: a page is a range of the words' key.
            return Order(order.name, WORD_NAME_KEYS, order.descending)
        return self.sort_small_result(order) if small_result else order

    @staticmethod
    def sort_small_result(order: Order) -> Order:
        """The same order, written so that no index can provide it.

        For a small result (a group, a search) PostgreSQL otherwise tends to walk the whole name
        index in order, checking each user against the filter until a page is full: when the
        matches sit far down the index (a searched surname, a group of late joiners) that reads most
        of the organisation (~85 ms at 100k users). `last_name || ''` sorts exactly like
        `last_name` but forces "find the matches through the selective index, then sort them"
        (~3 ms). Only for results known to be small: a large one is best read in index order.
        """
        if order.keys[0] not in FENCED:
            return order
        keys = tuple(Concat(F(key), Value("")) if key in FENCED else key for key in order.keys)
        return Order(order.name, keys, order.descending)

    def without_status(self):
        """The same filters, every status: what the tab counts are computed on."""
        queryset = self.queryset
        data = self.form.cleaned_data
        if data.get("q"):
            queryset = self.filter_q(queryset, "q", data["q"])
        if data.get("group"):
            queryset = self.filter_group(queryset, "group", data["group"])
        if data.get("type"):
            queryset = queryset.filter(user_type=data["type"])
        return queryset

    def is_filtered(self) -> bool:
        data = self.form.cleaned_data
        return any(data.get(key) for key in FILTERS_COUNTED)


class ContactFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q",
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name, email or mobile")}),
    )
    has_email = django_filters.BooleanFilter(method="filter_has_email", label=_("Has an email address"))
    has_mobile = django_filters.BooleanFilter(method="filter_has_mobile", label=_("Has a mobile number"))
    converted = django_filters.BooleanFilter(method="filter_converted", label=_("Converted to a user"))

    class Meta:
        model = Contact
        fields = ["q", "has_email", "has_mobile", "converted"]

    def filter_q(self, queryset, name, value):
        return queryset.search(value, self.request.organization.phone_region)

    def filter_has_email(self, queryset, name, value):
        return queryset.exclude(email="") if value else queryset.filter(email="")

    def filter_has_mobile(self, queryset, name, value):
        return queryset.exclude(mobile="") if value else queryset.filter(mobile="")

    def filter_converted(self, queryset, name, value):
        return queryset.filter(converted_to__isnull=not value)
