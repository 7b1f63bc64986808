"""A SOAR query screen: SOAR's base select, its own filters and columns, plus what the plugins contribute.

A screen module describes its side in a :class:`QuerySpec`; :func:`run_query` does what SOAR
does for every query screen: ask ``query_fields`` for contributed filters and columns, apply
SOAR's own filters, let ``query_build`` amend the statement, count with a cap
(``count_statement(cap=1000)`` → "1000+") and read one page. Contributed columns are shown by
their :class:`~soar_ext.hook_payloads.QueryField` type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select

from soar_ext.console import formatting as fmt
from soar_ext.context import SoarContext
from soar_ext.db.codes import DISTRICTS
from soar_ext.db.paging import count_statement, shown_total
from soar_ext.errors import InvalidInput
from soar_ext.hook_payloads import Badge, QueryField
from soar_ext.host import SoarHost

TOTAL_CAP = 1000
MAX_FILTER_CHARS = 100


@dataclass(frozen=True)
class OwnFilter:
    """One of SOAR's own filter conditions; ``apply`` adds it to the statement (raising :class:`InvalidInput`)."""

    key: str
    label: str
    apply: Callable[[Select, str], Select]
    type: str = "text"
    choices: Mapping[str, str] = field(default_factory=dict)
    placeholder: str | None = None


Condition = Callable[[Select, str], Select]


def contains(column: Any) -> Condition:
    """``column`` contains the text (``%`` and ``_`` taken literally)."""
    return lambda stmt, value: stmt.where(column.contains(value, autoescape=True))


def prefix(column: Any, *, upper: bool = False) -> Condition:
    """``column`` starts with the text (codes are compared upper-cased with ``upper``)."""
    return lambda stmt, value: stmt.where(column.startswith(value.upper() if upper else value, autoescape=True))


def one_of(column: Any, labels: Mapping[str, str], label: str) -> Condition:
    """``column`` equals a code of ``labels``; any other value is refused."""

    def apply(stmt: Select, value: str) -> Select:
        if value not in labels:
            raise InvalidInput(f"查询条件「{label}」的取值不正确，请在列表中选择。")
        return stmt.where(column == value)

    return apply


def choice_filter(key: str, label: str, column: Any, labels: Mapping[str, str]) -> OwnFilter:
    return OwnFilter(key, label, one_of(column, labels, label), type="choice", choices=labels)


def district_filter(column: Any) -> OwnFilter:
    """区县 (``qx``) as a choice of :data:`~soar_ext.db.codes.DISTRICTS`."""
    return choice_filter("qx", "区县", column, DISTRICTS)


@dataclass(frozen=True)
class OwnColumn:
    """One of SOAR's own result columns: the value labelled ``key`` as text, or ``show(row, full_ids)``."""

    label: str
    key: str | None = None
    show: Callable[[Mapping[str, Any], bool], str | Badge] | None = None

    def cell(self, row: Mapping[str, Any], full_ids: bool) -> str | Badge:
        if self.show is not None:
            return self.show(row, full_ids)
        return fmt.text(row.get(self.key) if self.key else None)


@dataclass(frozen=True)
class QuerySpec:
    """SOAR's side of a query screen.

    ``screen`` is the hook screen id (``exchange.business`` …); ``None`` for SOAR's own lists that
    plugins do not extend. ``prefix`` keeps form names apart when one page shows several lists.
    """

    base: Callable[[], Select]
    columns: Sequence[OwnColumn]
    order_by: Callable[[], Sequence[Any]]
    key: str
    filters: Sequence[OwnFilter] = ()
    screen: str | None = None
    prefix: str = ""


@dataclass(frozen=True)
class FilterField:
    """A filter as the form draws it (SOAR's own or contributed by ``plugin``)."""

    name: str
    label: str
    type: str
    choices: Mapping[str, str]
    value: str
    placeholder: str | None = None
    plugin: str | None = None


@dataclass
class ResultRow:
    """One result row: its key, its cells, the raw values, and the screen's controls for it."""

    key: str
    cells: list[str | Badge]
    raw: Mapping[str, Any]
    controls: list[object] = field(default_factory=list)


@dataclass
class QueryPage:
    """What the template draws for a query screen."""

    prefix: str
    filters: list[FilterField]
    headers: list[str]
    rows: list[ResultRow]
    total: str | None
    page: int
    page_size: int
    has_next: bool
    args: Mapping[str, str]
    error: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def page_param(self) -> str:
        return f"{self.prefix}page"

    def page_link(self, page: int) -> str:
        values = {k: v for k, v in self.args.items() if v and k != self.page_param}
        if page > 1:
            values[self.page_param] = str(page)
        return "?" + urlencode(values)

    def other_args(self) -> list[tuple[str, str]]:
        """Query parameters of the page that belong to other lists (kept when this list's form is sent)."""
        own = self.prefix
        return [(k, v) for k, v in self.args.items() if v and not (k.startswith(own) if own else _is_list_arg(k))]


def _is_list_arg(name: str) -> bool:
    return name.startswith(("q.", "x.")) or name == "page"


def _page_number(args: Mapping[str, str], name: str) -> int:
    raw = args.get(name, "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def _value(args: Mapping[str, str], name: str) -> str:
    return (args.get(name) or "").strip()[:MAX_FILTER_CHARS]


def contributed_cell(f: QueryField, row: Mapping[str, Any], full_ids: bool) -> str:
    return fmt.field_value(row.get(f.key), f.type, f.choices, full_ids=full_ids)


def run_query(
    ctx: SoarContext,
    host: SoarHost,
    spec: QuerySpec,
    args: Mapping[str, str],
    *,
    page_size: int,
    full_ids: bool,
) -> QueryPage:
    """Run one page of a query screen inside the caller's SOAR transaction."""
    fields = host.query_fields(ctx, spec.screen) if spec.screen else []
    extra_filters = [f for f in fields if f.kind == "filter"]
    extra_columns = [f for f in fields if f.kind == "column"]
    prefix = spec.prefix
    own_values = {f.key: _value(args, f"{prefix}q.{f.key}") for f in spec.filters}
    extra_values = {f.key: _value(args, f"{prefix}x.{f.key}") for f in extra_filters}
    page = _page_number(args, f"{prefix}page")
    filters = [
        FilterField(f"{prefix}q.{f.key}", f.label, f.type, f.choices, own_values[f.key], f.placeholder)
        for f in spec.filters
    ] + [
        FilterField(f"{prefix}x.{f.key}", f.label, f.type, f.choices, extra_values[f.key], None, f.plugin)
        for f in extra_filters
    ]
    headers = [c.label for c in spec.columns] + [f.label for f in extra_columns]
    result = QueryPage(prefix, filters, headers, [], None, page, page_size, False, args)
    stmt = spec.base()
    try:
        for own in spec.filters:
            if own_values[own.key]:
                stmt = own.apply(stmt, own_values[own.key])
        if spec.screen:
            built = host.query_build(ctx, spec.screen, stmt, {k: v for k, v in extra_values.items() if v})
            stmt, result.warnings = built.statement, tuple(built.warnings)
        counted = ctx.connection.execute(count_statement(stmt, cap=TOTAL_CAP)).scalar_one()
        listing = stmt.order_by(*spec.order_by()).limit(page_size + 1).offset((page - 1) * page_size)
        rows = ctx.connection.execute(listing).mappings().all()
    except InvalidInput as exc:
        result.error = str(exc)
        return result
    result.total = shown_total(int(counted), TOTAL_CAP)
    result.has_next = len(rows) > page_size
    for row in rows[:page_size]:
        cells: list[str | Badge] = [c.cell(row, full_ids) for c in spec.columns]
        cells += [contributed_cell(f, row, full_ids) for f in extra_columns]
        result.rows.append(ResultRow(str(row.get(spec.key)), cells, row))
    return result
