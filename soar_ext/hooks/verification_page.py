"""The verification page model: what the 核查 action result shows, as typed dataclasses.

:class:`VerificationPage` holds one :class:`CategoryView` per Big Data category (fixed order) and
the changes since the previous successful snapshot of each category (:class:`Change`).
:meth:`VerificationPage.blocks` renders it into the generic page content of
:mod:`soar_ext.hook_payloads` (``Section``, ``KeyValues``, ``Table``, ``Badge``, ``Notice``,
``ActionButton``), so a host draws it without knowing the categories. Every string is display
text: Chinese labels, dates as ``2024-06-30``, money in 元, codes as labels, ID numbers masked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from soar_ext.adapters.bigdata.categories import CATEGORIES
from soar_ext.hook_payloads import ActionButton, Badge, Block, KeyValues, Notice, Section, Table, TableRow, Tone
from soar_ext.idnumber import mask_id_number, mask_in_text

ACTION_RERUN = "verification.rerun"

STATE_FOUND = "found"
STATE_NO_RECORD = "no_record"
STATE_ERROR = "error"
STATE_TIMEOUT = "timeout"
STATES = (STATE_FOUND, STATE_NO_RECORD, STATE_ERROR, STATE_TIMEOUT)
#: States that compare with nothing and may be queried again.
PENDING_STATES = (STATE_ERROR, STATE_TIMEOUT)
STATE_LABELS: Mapping[str, str] = {
    STATE_FOUND: "正常返回",
    STATE_NO_RECORD: "无记录",
    STATE_ERROR: "查询失败",
    STATE_TIMEOUT: "超时",
}
STATE_TONES: Mapping[str, Tone] = {
    STATE_FOUND: "ok",
    STATE_NO_RECORD: "muted",
    STATE_ERROR: "error",
    STATE_TIMEOUT: "warn",
}

EMPTY = "—"
NO_RECORD = "无记录"
MAX_DISPLAY_CHARS = 300
#: Records shown per category; the rest are stored and compared but not drawn.
MAX_DISPLAY_ROWS = 100

# The subject's own name and ID number repeat in every record: the summary shows them once.
_SUBJECT_LABELS = frozenset({"姓名", "所有人", "身份证号"})
_ID_LABELS = frozenset({"身份证号", "配偶身份证号"})
_YUAN_LABELS = frozenset({"缴存基数", "月缴存额"})
_MONTH_COUNT_LABELS = frozenset({"累计缴费月数"})
_PLATE_LABEL = "号牌号码"
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}")


def display_value(label: str, value: object, *, full_ids: bool = False) -> str:
    """The display text of one upstream value under its Chinese label.

    ID numbers are masked unless ``full_ids`` (the operator holds ``roles.FULL_ID``).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return EMPTY
    if label in _ID_LABELS:
        text = str(value).strip()
        if full_ids and len(text) <= 18:
            return text
        return mask_id_number(text) if len(text) == 18 else "*" * min(len(text), 18)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if label in _YUAN_LABELS:
        try:
            return f"{Decimal(text):,.2f}元"
        except InvalidOperation:
            pass
    elif label in _MONTH_COUNT_LABELS and text.isdigit():
        return f"{int(text)}个月"
    elif label == _PLATE_LABEL and len(text) > 2 and "·" not in text:
        text = f"{text[:2]}·{text[2:]}"
    elif match := _ISO_DATE.match(text):
        text = match.group(1)
    if len(text) > MAX_DISPLAY_CHARS:
        text = text[: MAX_DISPLAY_CHARS - 1] + "…"
    return mask_in_text(text)


def display_columns(category: str) -> tuple[str, ...]:
    """The labels shown for a category's records: its fields without the subject and raw codes."""
    return tuple(f.label for f in CATEGORIES[category].fields if f.label not in _SUBJECT_LABELS)


def display_rows(
    category: str, records: Sequence[Mapping[str, object]], *, full_ids: bool = False
) -> tuple[tuple[str, ...], ...]:
    """Display rows of a category's normalised records (the first :data:`MAX_DISPLAY_ROWS`), in column order."""
    columns = display_columns(category)
    return tuple(
        tuple(display_value(label, record.get(label), full_ids=full_ids) for label in columns)
        for record in records[:MAX_DISPLAY_ROWS]
    )


def display_time(moment: dt.datetime | None) -> str:
    return EMPTY if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


@dataclass(frozen=True)
class Change:
    """One difference since the previous successful snapshot of a category.

    ``text`` is the line a clerk reads (``新增车辆 浙A·B1234``, ``婚姻状况 未婚→已婚``,
    ``户籍 迁出``); ``before``/``after`` are the display values compared (``None`` for an added or
    removed record); ``detail`` gives context (brand, registration date, reason of a change).
    """

    category: str
    kind: Literal["added", "removed", "changed"]
    text: str
    before: str | None = None
    after: str | None = None
    detail: str = ""

    @property
    def category_label(self) -> str:
        return CATEGORIES[self.category].label


@dataclass(frozen=True)
class CategoryView:
    """One category of a verification as shown: state, fetch time, records, changes.

    ``changes`` is ``None`` when the category was not compared — it failed this time
    (``state`` in :data:`PENDING_STATES`) or no earlier successful snapshot exists
    (``baseline_at`` is ``None``); otherwise the (possibly empty) list of changes since the
    snapshot fetched at ``baseline_at``.
    """

    code: str
    state: str
    fetched_at: dt.datetime
    attempt: int = 1
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    record_count: int = 0
    reason: str | None = None
    baseline_at: dt.datetime | None = None
    changes: tuple[Change, ...] | None = None

    @property
    def label(self) -> str:
        return CATEGORIES[self.code].label

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES

    @property
    def comparison_note(self) -> str:
        if self.pending:
            return f"本次{self.state_label}，未与上次核查结果比较"
        if self.baseline_at is None:
            return "首次取得该类别数据，无可比较的上次结果"
        if not self.changes:
            return f"与上次核查（{display_time(self.baseline_at)}）相比无变化"
        return f"与上次核查（{display_time(self.baseline_at)}）相比有{len(self.changes)}项变化"

    def section(self, verification_id: str) -> Section:
        """This category as a :class:`Section` (records, failure reason with a re-run button, changes)."""
        blocks: list[Block] = []
        if self.pending:
            blocks.append(Notice(self.reason or self.state_label, "error" if self.state == STATE_ERROR else "warn"))
            blocks.append(
                ActionButton(
                    ACTION_RERUN,
                    f"重新查询{self.label}",
                    target=verification_id,
                    params={"categories": [self.code]},
                )
            )
        elif not self.rows:
            blocks.append(Notice("大数据局未返回该类别的记录", "muted"))
        elif len(self.rows) == 1:
            blocks.append(KeyValues(items=tuple(zip(self.columns, self.rows[0], strict=True))))
        else:
            shown = len(self.rows)
            note = f"共{self.record_count}条，显示前{shown}条" if self.record_count > shown else None
            blocks.append(Table(columns=self.columns, rows=tuple(TableRow(cells=row) for row in self.rows), note=note))
        if self.changes:
            blocks.append(
                Table(
                    columns=("变化", "说明"),
                    rows=tuple(TableRow(cells=(c.text, c.detail or EMPTY), tone="warn") for c in self.changes),
                    title="与上次核查相比",
                )
            )
        attempt = f"；第{self.attempt}次查询" if self.attempt > 1 else ""
        return Section(
            title=self.label,
            blocks=tuple(blocks),
            badge=Badge(self.state_label, STATE_TONES[self.state]),
            note=f"获取时间 {display_time(self.fetched_at)}{attempt}；{self.comparison_note}",
        )


@dataclass(frozen=True)
class VerificationPage:
    """A whole verification as shown to the clerk (the ``data`` of the 核查 action result)."""

    verification_id: str
    person_name: str
    subject_id: str  # the ID number as shown: masked, or in full for an operator holding roles.FULL_ID
    purpose: str
    operator_name: str
    started_at: dt.datetime
    finished_at: dt.datetime
    budget_seconds: float
    categories: tuple[CategoryView, ...]
    shadow: bool = False

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for view in self.categories for c in view.changes or ())

    @property
    def pending(self) -> tuple[str, ...]:
        """Codes of the categories that failed or timed out (to re-run)."""
        return tuple(view.code for view in self.categories if view.pending)

    def view(self, code: str) -> CategoryView:
        return next(v for v in self.categories if v.code == code)

    def counts_text(self) -> str:
        """``12类中：正常返回9类，无记录2类，查询失败1类``."""
        parts = []
        for state in STATES:
            n = sum(1 for v in self.categories if v.state == state)
            if n:
                parts.append(f"{STATE_LABELS[state]}{n}类")
        return f"{len(self.categories)}类中：" + "，".join(parts)

    def message(self) -> str:
        """The one-line result shown with the page."""
        changes = self.changes
        if changes:
            change_text = f"与上次核查相比有{len(changes)}项变化"
        elif any(v.changes is not None for v in self.categories):
            change_text = "与上次核查相比未发现变化"
        else:
            change_text = "无上次核查结果可比较"
        retry = "，未返回的类别可重新查询" if self.pending else ""
        return f"核查完成，{self.counts_text()}；{change_text}{retry}。"

    def blocks(self) -> tuple[Section, ...]:
        """The page as generic content: summary, change list, one section per category."""
        return (self._summary(), self._change_list(), *(v.section(self.verification_id) for v in self.categories))

    def _summary(self) -> Section:
        items = (
            ("核查对象", f"{self.person_name}（{self.subject_id}）"),
            ("查询事由", self.purpose),
            ("经办人", self.operator_name or EMPTY),
            ("开始时间", display_time(self.started_at)),
            ("完成时间", display_time(self.finished_at)),
            ("核查时限", f"{self.budget_seconds:g}秒"),
            ("结果", self.counts_text()),
        )
        blocks: list[Block] = [KeyValues(items=items)]
        if self.shadow:
            blocks.append(Notice("[试运行] 大数据核查处于试运行，结果仅供核对，请勿作为办理依据。", "warn"))
        pending = self.pending
        if pending:
            labels = "、".join(CATEGORIES[c].label for c in pending)
            blocks.append(Notice(f"以下类别本次未返回：{labels}。可重新查询这些类别，其他类别不再重复查询。", "warn"))
            blocks.append(
                ActionButton(
                    ACTION_RERUN,
                    "重新查询未返回的类别",
                    target=self.verification_id,
                    params={"categories": list(pending)},
                    confirm=f"重新查询：{labels}？",
                )
            )
        badge = Badge(f"{len(pending)}类未返回", "warn") if pending else Badge("全部返回", "ok")
        return Section(title="核查概况", blocks=tuple(blocks), badge=badge)

    def _change_list(self) -> Section:
        changes = self.changes
        failed = [v.label for v in self.categories if v.pending]
        first = [v.label for v in self.categories if v.changes is None and not v.pending]
        note = "对比基准：各类别上一次成功核查的结果。"
        if failed:
            note += "本次未返回、未作比较：" + "、".join(failed) + "。"
        if first:
            note += "首次取得、无上次结果可比较：" + "、".join(first) + "。"
        compared = any(v.changes is not None for v in self.categories)
        table = Table(
            columns=("类别", "变化", "说明"),
            rows=tuple(TableRow(cells=(c.category_label, c.text, c.detail or EMPTY), tone="warn") for c in changes),
            empty_text="与上次核查相比未发现变化" if compared else "无上次核查结果可比较",
        )
        if changes:
            badge = Badge(f"{len(changes)}项变化", "warn")
        else:
            badge = Badge("无变化", "ok") if compared else Badge("无可比较", "muted")
        return Section(title="与上次核查相比的变化", blocks=(table,), badge=badge, note=note)
