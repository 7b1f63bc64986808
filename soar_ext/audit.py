"""Audit trail for access to personal data (Big Data queries, verifications, exports)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from soar_ext.idnumber import mask_id_number


def subject_digest(id_number: str) -> str:
    """Stable digest of an ID number, so auditors can find a citizen's entries without the plain number."""
    return hashlib.sha256(id_number.upper().encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class AuditEvent:
    """One audited access.

    ``subject_id`` is the full ID number; sinks store only its mask and digest.
    """

    action: str
    operator_id: str | None
    purpose: str | None
    subject_id: str | None = None
    interfaces: Sequence[str] = ()
    result_status: str = "ok"
    detail: dict[str, object] = field(default_factory=dict)
    at: dt.datetime | None = None

    @property
    def subject_masked(self) -> str | None:
        return mask_id_number(self.subject_id) if self.subject_id else None

    @property
    def subject_hash(self) -> str | None:
        return subject_digest(self.subject_id) if self.subject_id else None

    def detail_json(self) -> str:
        return json.dumps(self.detail, ensure_ascii=False, sort_keys=True, default=str)


class AuditSink(Protocol):
    """Where audit events go (a database table in production, a list in tests)."""

    def record(self, event: AuditEvent) -> None: ...


class MemoryAuditSink:
    """Keeps events in a list; for tests and for shadow runs that must not write."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)
