"""Pages of a long list read from their sort key ("keyset" pagination) instead of OFFSET.

OFFSET makes the database read, then throw away, every row before the page: page 200 of a 25-row
list reads 5,000 rows, page 4,000 reads 100,000. Here the links to the next and previous pages, and
to the pages near the current one, carry where the current page ends or starts (the sort key of its
last or first row, in an opaque `cursor`), and the page is read from there along the index that
gives the order: a deep page costs what the first one costs.

The order must be total and go one way: its last key is unique (the primary key), and every key is
ascending or every key is descending. Then "after this row" is one row comparison,
`(k1, k2, …) > (v1, v2, …)`, which PostgreSQL reads as a range of an index on (…, k1, k2, …), and
the same index read backwards gives the reverse order (the previous pages, the end of the list).

What an administrator expects stays: numbered pages, "page N of M" (from a count the caller already
has), the first and last pages, the pages near the current one (read from the cursor, at most a few
pages away), and any page number typed in the address (read with OFFSET from whichever end of the
list is nearer: the one case that still skips rows). A link is a bookmark: it shows the rows after
(or before) the row it remembers, as they are when it is opened. A cursor only says where to start
reading the caller's own query: a forged one shows nothing the query would not.
"""

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import BooleanField, F, Func, Value

from .parsing import parse_id
from .web import query_string

# Pages linked by number on each side of the current one; each is read from the current page's
# cursor, skipping at most this many pages minus one.
NEAR = 2
# From this many rows skipped, a page read with OFFSET skips them in a subquery that selects only
# their primary keys, and reads the whole rows of the page alone: the database can then skip along
# an index without reading each skipped row from the table (page 200 of a 200-row list: 75 → 9 ms
# at 100,000 users).
DEFERRED_OFFSET = 1000


class RowComparison(Func):
    """`(k1, k2, …) <operator> (v1, v2, …)` as one condition (PostgreSQL and SQLite both read row
    values; PostgreSQL turns the comparison into the bounds of an index range)."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, keys, operator: str, values):
        if operator not in (">", ">=", "<", "<="):
            raise ValueError(operator)
        self.operator = operator
        self.size = len(keys)
        super().__init__(*keys, *(Value(value) for value in values))

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = [], []
        for expression in self.get_source_expressions():
            sql, more = compiler.compile(expression)
            parts.append(sql)
            params.extend(more)
        left, right = ", ".join(parts[: self.size]), ", ".join(parts[self.size :])
        return f"({left}) {self.operator} ({right})", params


@dataclass(frozen=True)
class Order:
    """A total order of a list: `keys` (field names or expressions, the last one unique), all
    ascending or all descending. `name` tells cursors of different orders apart."""

    name: str
    keys: tuple
    descending: bool = False

    def expressions(self):
        return [F(key) if isinstance(key, str) else key for key in self.keys]


def _encode_value(value):
    if isinstance(value, datetime):
        return {"d": value.isoformat()}
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"A cursor holds text, whole numbers and times, not {type(value).__name__}")
    return value


def _decode_value(value):
    if isinstance(value, dict) and set(value) == {"d"} and isinstance(value["d"], str):
        return datetime.fromisoformat(value["d"])
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(value)
    return value


def _fits(value, field) -> bool:
    """Whether a cursor's `value` can be compared with a key whose output is `field` without the
    database refusing it (a wrong type, NUL, a number or time out of range: a 500, not a page)."""
    if isinstance(field, models.DateTimeField):
        return isinstance(value, datetime) and value.tzinfo is not None
    if isinstance(field, models.IntegerField):
        return isinstance(value, int) and -(2**63) <= value < 2**63
    if isinstance(field, models.CharField | models.TextField):
        return isinstance(value, str) and "\x00" not in value and len(value) <= 1000
    return False


@dataclass(frozen=True)
class Cursor:
    """A boundary between page `page` and page `page + 1` of one order and page size: just after the
    row whose keys are `values` (`after`), or just before it (`not after`: it opens page `page + 1`)."""

    order: str
    per_page: int
    page: int
    after: bool
    values: tuple

    def token(self) -> str:
        data = [self.order, self.per_page, self.page, int(self.after), [_encode_value(v) for v in self.values]]
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, token: str, *, order: Order, per_page: int) -> "Cursor | None":
        """The cursor in `token` if it is one of this order and page size, else None (a cursor of
        another order or size, or a damaged one, is ignored: the page number alone is used)."""
        if not token or len(token) > 2000:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            name, size, page, after, values = json.loads(raw)
            values = tuple(_decode_value(value) for value in values)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            return None
        if name != order.name or size != per_page or len(values) != len(order.keys):
            return None
        if isinstance(page, bool) or not isinstance(page, int) or page < 0 or after not in (0, 1):
            return None
        return cls(order=name, per_page=size, page=page, after=bool(after), values=values)


@dataclass
class KeysetPage:
    """One page of a list, and what its links need. `object_list` holds the rows without their keys."""

    object_list: list
    number: int
    num_pages: int
    count: int
    per_page: int
    order: Order
    first_key: tuple | None
    last_key: tuple | None

    def __len__(self):
        return len(self.object_list)

    def __iter__(self):
        return iter(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    def cursor_to(self, number: int) -> str:
        """The cursor that reads page `number` from this page ("" when none is needed or possible)."""
        if self.first_key is None or number == self.number:
            return ""
        if number > self.number:
            boundary = Cursor(self.order.name, self.per_page, self.number, True, self.last_key)
        else:
            boundary = Cursor(self.order.name, self.per_page, self.number - 1, False, self.first_key)
        return boundary.token()

    def links(self, params) -> dict:
        """The pagination's links, each a query string made of `params` (the request's GET):
        `previous` and `next` ("" where there is none) and `pages`, the first, the last and the
        numbered pages around this one as (number, query string, "" for this page), None for a gap."""

        def link(number, *, by_number=False):
            if number == self.number:
                return ""
            cursor = "" if by_number else self.cursor_to(number)
            return query_string(params, "page", "cursor", page=number if number > 1 else "", cursor=cursor)

        def numbered(number):
            # The first and last pages are as cheap by number (read from their end of the list), and
            # make plainer bookmarks.
            return link(number, by_number=number in (1, self.num_pages))

        near = range(max(1, self.number - NEAR), min(self.num_pages, self.number + NEAR) + 1)
        pages = []
        if near.start > 1:
            pages.append((1, numbered(1)))
            if near.start > 2:
                pages.append(None)
        pages += [(number, numbered(number)) for number in near]
        if near.stop - 1 < self.num_pages:
            if near.stop < self.num_pages:
                pages.append(None)
            pages.append((self.num_pages, numbered(self.num_pages)))
        return {
            "previous": link(self.number - 1) if self.has_previous else "",
            "next": link(self.number + 1) if self.has_next else "",
            "pages": pages,
        }


def _with_keys(queryset, order: Order):
    """`queryset` with the order's keys as annotations, and their names."""
    names = [f"keyset_{n}" for n in range(len(order.keys))]
    return queryset.annotate(**dict(zip(names, order.expressions(), strict=True))), names


def _read(
    rows, names, order: Order, columns, *, backwards: bool, boundary=None, operator="", offset=0, limit=0, costly=()
):
    """`limit` rows of `rows` (annotated with the keys `names`) as `columns`, then `costly`, then the
    keys, reading the order forwards, or backwards, from `boundary` (keys compared with `operator`)
    when given, after `offset` rows; returned in the order's direction. The `costly` columns are read
    only when no row is skipped (each costs a look-up per row read, skipped rows included); otherwise
    they are None."""
    if boundary is not None:
        rows = rows.filter(RowComparison([F(name) for name in names], operator, boundary))
    descending = order.descending != backwards
    rows = rows.order_by(*(f"-{name}" if descending else name for name in names))
    if offset >= DEFERRED_OFFSET:
        # Skip the rows by their keys alone (an index that holds the filters' columns skips them
        # without reading the table: accounts migration 0016), then read the page's rows.
        rows = rows.filter(pk__in=rows.values("pk")[offset : offset + limit])
        offset = 0
    if offset:
        found = list(rows.values_list(*columns, *names)[offset : offset + limit])
        skipped = (None,) * len(costly)
        found = [row[: len(columns)] + skipped + row[len(columns) :] for row in found] if costly else found
    else:
        found = list(rows.values_list(*columns, *costly, *names)[:limit])
    return found[::-1] if backwards else found


def read_page(
    queryset, *, order: Order, columns, per_page: int, count: int, number, cursor: str = "", costly_columns=()
) -> KeysetPage:
    """Page `number` (any value: a page past the end is the last one, anything else the first) of
    `queryset` in `order`, as tuples of `columns` then `costly_columns`, knowing that the list holds
    `count` rows. A costly column (a subquery per row) is read with the page when the query skips no
    row, the usual case; otherwise its values are None, for the caller to read apart.

    With a `cursor` from a page's links, the page is read from that page's first or last row; without
    one, it is read with OFFSET from the nearer end (a number typed in the address, the first and
    last pages). One query, and a second only when a stale cursor points past the rows left.
    """
    num_pages = max(1, math.ceil(count / per_page))
    number = parse_id(number) or 1
    number = min(max(number, 1), num_pages)
    rows, names = _with_keys(queryset, order)
    boundary = Cursor.parse(cursor, order=order, per_page=per_page)
    fields = [rows.query.annotations[name].output_field for name in names]
    if boundary is not None and not all(map(_fits, boundary.values, fields)):
        boundary = None
    page = None
    if boundary is not None:
        later, earlier = ("<", ">") if order.descending else (">", "<")
        if number > boundary.page:
            # The boundary row itself is on this side when it opens page `page + 1`.
            operator = later if boundary.after else f"{later}="
            offset = (number - boundary.page - 1) * per_page
        else:
            operator = f"{earlier}=" if boundary.after else earlier
            offset = (boundary.page - number) * per_page
        page = _read(
            rows,
            names,
            order,
            columns,
            backwards=number <= boundary.page,
            boundary=boundary.values,
            operator=operator,
            offset=offset,
            limit=per_page,
            costly=costly_columns,
        )
        # None left on that side of the bookmark (people deleted since): go by the page number.
        page = page or None
    if page is None:
        before, after = (number - 1) * per_page, max(count - number * per_page, 0)
        if after < before:
            # Nearer the end: read the reverse order, skipping the rows after this page.
            limit = min(per_page, count - before)
            page = _read(rows, names, order, columns, backwards=True, offset=after, limit=limit, costly=costly_columns)
        else:
            page = _read(
                rows, names, order, columns, backwards=False, offset=before, limit=per_page, costly=costly_columns
            )
    size = len(order.keys)
    return KeysetPage(
        object_list=[row[:-size] for row in page],
        number=number,
        num_pages=num_pages,
        count=count,
        per_page=per_page,
        order=order,
        first_key=tuple(page[0][-size:]) if page else None,
        last_key=tuple(page[-1][-size:]) if page else None,
    )
