"""Values SOAR passes to the hooks and values the hooks give back.

Plain frozen dataclasses, so SOAR's side (Java bridge or Python) builds them easily and
plugins cannot change what another plugin sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

# ---------------------------------------------------------------------------
# pre-contract
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractDraft:
    """A lease contract about to be signed.

    ``contract_id`` is the draft row in ``TPG_ZLHT`` (status 待签订) that SOAR has written
    inside its transaction; ``contract_type`` is the ``PZLX`` code (01 新配租, 02 续租,
    03 换房, 04 调房).
    """

    contract_id: str
    contract_type: str
    family_id: str
    application_id: str | None = None
    house_id: str | None = None
    exchange_pairing_id: str | None = None
    deposit: Decimal | None = None
    contract_code: str | None = None


@dataclass(frozen=True)
class PreContractVerdict:
    """One plugin's answer to ``soar_pre_contract``.

    ``allow=False`` blocks signing and ``message`` (Chinese) tells the clerk why.
    ``deposit`` set means "the deposit should be this amount". ``needs_recheck`` marks a
    decision taken on incomplete information.
    """

    allow: bool = True
    message: str | None = None
    deposit: Decimal | None = None
    needs_recheck: bool = False
    subject_key: str | None = None


@dataclass(frozen=True)
class ContractDecision:
    """What the facade tells SOAR after asking every plugin."""

    allowed: bool
    messages: tuple[str, ...] = ()
    deposit: Decimal | None = None
    blocked_by: tuple[str, ...] = ()
    shadow_notes: tuple[str, ...] = ()
    needs_recheck: bool = False


# ---------------------------------------------------------------------------
# query screens
# ---------------------------------------------------------------------------

FieldKind = Literal["filter", "column"]
FieldType = Literal["text", "choice", "date", "datetime", "integer", "id_number"]


@dataclass(frozen=True)
class QueryField:
    """A filter condition or result column a plugin adds to a query screen."""

    key: str
    label: str
    kind: FieldKind
    type: FieldType = "text"
    choices: Mapping[str, str] = field(default_factory=dict)
    plugin: str | None = None


@dataclass(frozen=True)
class QueryBuild:
    """The statement after every plugin amended it, plus warnings for the screen."""

    statement: Any
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# detail views, actions, allocations
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DetailView:
    """A detail page being drawn: ``entity`` is e.g. ``person``; ``key`` its id."""

    entity: str
    key: str
    application_id: str | None = None


@dataclass(frozen=True)
class Contribution:
    """A button (``kind='action'``) or a panel (``kind='panel'``) a plugin adds to a page.

    A panel's ``content`` is a :data:`Block` or a sequence of blocks; an action's ``content``
    is ``None`` or an :class:`ActionForm` (the inputs to ask for). ``plugin`` is filled in by
    the facade; SOAR sends it back in :class:`ActionRequest`. A disabled action says why in ``hint``.
    """

    kind: Literal["action", "panel"]
    key: str
    label: str
    enabled: bool = True
    hint: str | None = None
    content: Any = None
    plugin: str | None = None


@dataclass(frozen=True)
class ActionRequest:
    """A click on a contributed action; ``key`` is the contribution's key.

    ``plugin`` is the ``plugin`` of the :class:`Contribution` (or of the result whose
    :class:`ActionButton` was clicked) as the host filled it in: SOAR sends it back so the
    facade routes the click to the plugin that offered the action.
    """

    key: str
    target: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    plugin: str | None = None


@dataclass(frozen=True)
class ActionResult:
    """The outcome of an action: a message, optional content to show, data, a file to download.

    ``content`` is generic page content (:data:`Block` values) a host renders without knowing
    the feature; ``data`` is for programmatic callers; ``plugin`` is filled in by the facade.
    """

    ok: bool
    message: str
    data: Any = None
    file_name: str | None = None
    file_bytes: bytes | None = None
    content_type: str | None = None
    content: Sequence[Block] = ()
    plugin: str | None = None


@dataclass(frozen=True)
class AllocationSelection:
    """Applicants and houses chosen in 调房划拨 (``kind='01'``) or 选房划拨 (``'02'``)."""

    batch_id: str
    kind: str
    application_ids: Sequence[str] = ()
    house_ids: Sequence[str] = ()


@dataclass(frozen=True)
class ProjectChange:
    """A co-construction project (配建项目) created or changed."""

    project_id: str
    created: bool


@dataclass(frozen=True)
class ReceivedDocument:
    """One document received (收件) for a project."""

    doc_type: str
    file_name: str
    content: bytes


@dataclass(frozen=True)
class DocumentReceipt:
    """Documents received for a co-construction project."""

    project_id: str
    documents: Sequence[ReceivedDocument] = ()


@dataclass(frozen=True)
class JobSpec:
    """A batch job a plugin offers SOAR's scheduler."""

    name: str
    label: str
    run: Any
    required_role: str | None = None
    plugin: str | None = None


# ---------------------------------------------------------------------------
# generic page content: what panels and action results show
# ---------------------------------------------------------------------------
# A host (SOAR's screens, the stand-in console) renders these without knowing which feature
# produced them. All text is display text (Chinese), already formatted (dates 2024-06-30,
# money in 元, codes turned into labels) and already masked where the operator may not see
# the full value.

Tone = Literal["ok", "info", "warn", "error", "muted"]
InputType = Literal["text", "textarea", "choice", "multichoice", "date", "integer", "id_number", "file", "hidden"]


@dataclass(frozen=True)
class Badge:
    """A short status label with a tone, e.g. ``Badge("查询失败", "error")``."""

    text: str
    tone: Tone = "info"


@dataclass(frozen=True)
class Notice:
    """A sentence shown as a notice box (a warning, an explanation, a result)."""

    text: str
    tone: Tone = "info"


@dataclass(frozen=True)
class InputField:
    """One input of an action's form; the value arrives in ``ActionRequest.params[key]``.

    ``file`` inputs arrive as ``(file_name, bytes)``; ``multichoice`` as a list of keys;
    everything else as a string (the plugin validates and converts).
    """

    key: str
    label: str
    type: InputType = "text"
    required: bool = False
    choices: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None
    placeholder: str | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class ActionButton:
    """An action offered inside content (a table row's 解除关联, a 重新同步 link, a download).

    Clicking sends ``ActionRequest(key, target, params + input values, plugin)``, where
    ``plugin`` is that of the contribution or result the button came from. ``confirm`` is a
    question the host asks before sending. ``download`` marks an action whose result is a file.
    """

    key: str
    label: str
    target: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: Sequence[InputField] = ()
    enabled: bool = True
    hint: str | None = None
    confirm: str | None = None
    download: bool = False


@dataclass(frozen=True)
class KeyValues:
    """Labelled values in a fixed order: ``items`` is ``[(label, display value), …]``."""

    items: Sequence[tuple[str, str]]
    title: str | None = None
    badge: Badge | None = None
    note: str | None = None
    actions: Sequence[ActionButton] = ()


@dataclass(frozen=True)
class TableRow:
    """One row: display cells (text or a badge), row actions, an optional tone and selection key."""

    cells: Sequence[str | Badge]
    actions: Sequence[ActionButton] = ()
    tone: Tone | None = None
    key: str | None = None


@dataclass(frozen=True)
class Table:
    """A table of rows under column headers.

    With ``select_action`` set, rows that have a ``key`` get a check box and the button sends
    the chosen keys as ``params["selected"]`` (a list).
    """

    columns: Sequence[str]
    rows: Sequence[TableRow]
    title: str | None = None
    badge: Badge | None = None
    note: str | None = None
    empty_text: str = "无记录"
    select_action: ActionButton | None = None


@dataclass(frozen=True)
class Progress:
    """Progress of a long-running job; ``refresh_seconds`` asks the host to redraw that often while it runs."""

    label: str
    total: int
    done: int
    failed: int = 0
    status: Badge | None = None
    rate_per_second: float | None = None
    eta_seconds: float | None = None
    refresh_seconds: float | None = None


@dataclass(frozen=True)
class Section:
    """A titled group of blocks: a page model is a sequence of sections."""

    title: str
    blocks: Sequence[Block] = ()
    badge: Badge | None = None
    note: str | None = None


Block = Badge | Notice | KeyValues | Table | Progress | ActionButton | Section
"""What ``Contribution.content`` (a block or a sequence of blocks) and ``ActionResult.content`` hold."""


@dataclass(frozen=True)
class ActionForm:
    """The content of an action :class:`Contribution`: the inputs the host asks for before sending it."""

    inputs: Sequence[InputField] = ()
    confirm: str | None = None
    submit_label: str | None = None
