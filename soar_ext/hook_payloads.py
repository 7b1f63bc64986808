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
    """A button (``kind='action'``) or a panel (``kind='panel'``) a plugin adds to a page."""

    kind: Literal["action", "panel"]
    key: str
    label: str
    enabled: bool = True
    hint: str | None = None
    content: Any = None
    plugin: str | None = None


@dataclass(frozen=True)
class ActionRequest:
    """A click on a contributed action; ``key`` is the contribution's key."""

    key: str
    target: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionResult:
    """The outcome of an action: a message, optional data, optional file to download."""

    ok: bool
    message: str
    data: Any = None
    file_name: str | None = None
    file_bytes: bytes | None = None
    content_type: str | None = None


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
