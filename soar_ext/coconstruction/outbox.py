"""The document outbox: received documents wait in ``sx_doc_outbox`` until the repository confirms them.

:func:`enqueue` runs inside SOAR's transaction (``soar_documents_received``): the entry and its
bytes (``sx_doc_content``) commit or roll back with SOAR's own save, so a rolled-back 收件 leaves
nothing behind and a committed one is never lost (its bytes stay until the repository confirmed
them). Refused documents go to ``sx_doc_reject``
with their reason and are never queued. :func:`type_statuses` gives the project page the state
of each of the four document types.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from soar_ext.coconstruction.documents import CheckedDocument
from soar_ext.coconstruction.settings import CoConstructionSettings
from soar_ext.context import Operator
from soar_ext.db.codes import DocumentType
from soar_ext.db.extension import document_contents, document_outbox, document_rejections
from soar_ext.db.portability import clip_utf8
from soar_ext.db.work_queue import DONE, FAILED, LEASED, PENDING, WorkQueue

REASON_BYTES = 600
o = document_outbox


def outbox_queue(settings: CoConstructionSettings, **kwargs: Any) -> WorkQueue:
    """The work queue over ``sx_doc_outbox`` with the plugin's queue settings."""
    return WorkQueue(document_outbox, settings.queue, **kwargs)


def enqueue(
    conn: Connection,
    queue: WorkQueue,
    project: Any,
    documents: Sequence[CheckedDocument],
    operator: Operator,
    at: dt.datetime,
) -> list[str]:
    """Queue ``documents`` of ``project`` (a ``tpg_pjxm`` row) in the caller's transaction; their ids."""
    ids = [uuid.uuid4().hex for _ in documents]
    queue.enqueue(
        conn,
        (
            {
                "id": entry_id,
                "pjxmid": project.pjxmid,
                "xmbh": project.xmbh,
                "doc_type": doc.doc_type,
                "file_name": doc.file_name,
                "file_size": doc.size,
                "sha256": doc.sha256,
                "operator_id": operator.id,
                "operator_name": clip_utf8(operator.name, 60),
                "received_at": at,
            }
            for entry_id, doc in zip(ids, documents, strict=True)
        ),
        due_at=at,
    )
    for entry_id, doc in zip(ids, documents, strict=True):
        conn.execute(insert(document_contents).values(outbox_id=entry_id, content=doc.content))
    return ids


def record_rejection(
    conn: Connection,
    project_id: str,
    doc_type: object,
    file_name: str,
    size: int | None,
    reason: str,
    operator: Operator,
    at: dt.datetime,
) -> None:
    """Remember a refused document (shown on the project page); nothing is queued for it."""
    conn.execute(
        insert(document_rejections).values(
            id=uuid.uuid4().hex,
            pjxmid=project_id,
            doc_type=clip_utf8(str(doc_type or ""), 10) or None,
            file_name=clip_utf8(file_name, 200) or None,
            file_size=size,
            reason=clip_utf8(reason, REASON_BYTES),
            operator_id=operator.id,
            received_at=at,
        )
    )


def content_of(conn: Connection, entry_id: str) -> bytes | None:
    """The bytes queued with an entry (``None`` if they are missing)."""
    value = conn.execute(
        select(document_contents.c.content).where(document_contents.c.outbox_id == entry_id)
    ).scalar_one_or_none()
    return None if value is None else bytes(value)


# ------------------------------------------------------------------------------ the page's view

UPLOADED, WAITING, UPLOADING, RETRYING, FAILED_FOR_GOOD, NOT_RECEIVED = (
    "已上传",
    "待上传",
    "上传中",
    "上传失败",
    "上传失败",
    "未收件",
)


@dataclass(frozen=True)
class TypeStatus:
    """What the page says about one document type: the newest entry's state, and the newest refusal."""

    doc_type: str
    state: str
    tone: str
    file_name: str | None = None
    file_size: int | None = None
    received_at: dt.datetime | None = None
    detail: str | None = None
    repo_doc_id: str | None = None
    earlier: int = 0
    refusal: str | None = None

    @property
    def label(self) -> str:
        return DocumentType.LABELS[self.doc_type]


def _entry_status(row: Any) -> tuple[str, str, str | None]:
    status = row.wq_status
    if status == DONE:
        return UPLOADED, "ok", f"资料库记录 {row.repo_doc_id}，确认于 {row.uploaded_at:%Y-%m-%d %H:%M}"
    if status == LEASED:
        return UPLOADING, "info", f"第 {row.wq_attempts} 次上传进行中"
    if status == PENDING and row.wq_error:
        return RETRYING, "warn", f"{row.wq_error}；将自动重试（{row.wq_due_at:%Y-%m-%d %H:%M:%S} 后）"
    if status == PENDING:
        return WAITING, "info", "已收件，等待上传到统一资料库"
    if status == FAILED:
        return FAILED_FOR_GOOD, "error", f"{row.wq_error or '上传失败'}；已停止自动重试，请联系系统管理员"
    return "已取消", "muted", row.wq_error


def type_statuses(conn: Connection, project_id: str) -> list[TypeStatus]:
    """One status per document type of the project, in the order of :class:`DocumentType`."""
    rows = conn.execute(
        select(
            o.c.doc_type,
            o.c.file_name,
            o.c.file_size,
            o.c.received_at,
            o.c.repo_doc_id,
            o.c.uploaded_at,
            o.c.wq_status,
            o.c.wq_attempts,
            o.c.wq_error,
            o.c.wq_due_at,
        )
        .where(o.c.pjxmid == project_id)
        .order_by(o.c.received_at.desc(), o.c.wq_created_at.desc())
    ).all()
    r = document_rejections
    refusals = conn.execute(
        select(r.c.doc_type, r.c.reason, r.c.received_at)
        .where(r.c.pjxmid == project_id)
        .order_by(r.c.received_at.desc())
    ).all()
    out = []
    for code in DocumentType.LABELS:
        mine = [row for row in rows if row.doc_type == code]
        refused = next((x for x in refusals if x.doc_type == code), None)
        refusal = None
        if refused is not None and (not mine or refused.received_at >= mine[0].received_at):
            refusal = f"{refused.received_at:%Y-%m-%d %H:%M} 收件未接受：{refused.reason}"
        if not mine:
            out.append(TypeStatus(code, NOT_RECEIVED, "muted", refusal=refusal))
            continue
        newest = mine[0]
        state, tone, detail = _entry_status(newest)
        out.append(
            TypeStatus(
                code,
                state,
                tone,
                file_name=newest.file_name,
                file_size=newest.file_size,
                received_at=newest.received_at,
                detail=detail,
                repo_doc_id=newest.repo_doc_id,
                earlier=len(mine) - 1,
                refusal=refusal,
            )
        )
    return out


def other_refusals(conn: Connection, project_id: str, limit: int = 5) -> list[Any]:
    """Refusals whose type code is not one of the four (unknown types), newest first."""
    r = document_rejections
    return list(
        conn.execute(
            select(r.c.doc_type, r.c.file_name, r.c.reason, r.c.received_at)
            .where(r.c.pjxmid == project_id, r.c.doc_type.is_(None) | r.c.doc_type.not_in(list(DocumentType.LABELS)))
            .order_by(r.c.received_at.desc())
            .limit(limit)
        ).all()
    )
