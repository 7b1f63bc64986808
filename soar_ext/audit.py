"""Audit trail for access to personal data (Big Data queries, verifications, exports).

The interface every feature uses is :class:`AuditSink` (``ctx.audit`` in hooks,
:func:`soar_ext.audit_store.build_audit_sink` outside them):

- ``record(event)``: one finished access (an export, a decision), written at once;
- ``entry = begin(event)`` before an upstream query of a citizen's data (the intent is written
  and committed before the call), then ``entry.finish(result_status, detail=None)`` after it;
- ``with query(event) as entry: ...``: the same pair; an exception finishes the entry as
  ``error`` and propagates; leaving the block without ``finish`` finishes it as ``ok``.

Sinks never raise into the caller: a failed write is logged. ``entry.recorded`` tells whether
the intent was written; a caller that must not query unaudited checks it before the call.

An audit entry names its subject twice: masked (``330106********123X``, for reading) and as a
keyed digest, so an auditor can find every entry about one citizen without the table holding
the ID number. The digest is HMAC-SHA256 under a secret key (configuration ``[audit]
digest_secret``): a plain hash would be no protection, because only the 8 birth-date digits
between the mask's ends are unknown and they can be tried exhaustively in well under a second.
Without the key the digests cannot be recomputed, so keep it out of the database and keep it
stable (a new key makes older entries unsearchable by citizen).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Protocol

from soar_ext.idnumber import mask_id_number
from soar_ext.secret import Secret

#: Configuration key (section ``[audit]``) of the digest key; env ``SOAR_EXT_AUDIT_DIGEST_SECRET``.
DIGEST_KEY_SETTING = "digest_secret"
#: Shortest accepted digest key, in characters (e.g. ``python -c "import secrets; print(secrets.token_hex(32))"``).
MIN_DIGEST_KEY_LENGTH = 16


def check_digest_key(key: Secret) -> Secret:
    """``key`` if it can serve as the digest key; ``ValueError`` naming the setting otherwise."""
    if not isinstance(key, Secret):
        raise TypeError(f"the audit digest key must be a Secret, not {type(key).__name__}")
    if len(key.reveal()) < MIN_DIGEST_KEY_LENGTH:
        raise ValueError(
            f"[audit] {DIGEST_KEY_SETTING} is too short: use at least {MIN_DIGEST_KEY_LENGTH} random characters"
        )
    return key


def subject_digest(id_number: str, key: Secret) -> str:
    """HMAC-SHA256 (hex, 64 characters) of an ID number under the audit digest key.

    The same citizen always gives the same digest under one key (a lowercase ``x`` check
    character and surrounding blanks do not matter), so auditors can search by citizen;
    without the key the ID number cannot be recovered from the digest.
    """
    check_digest_key(key)
    message = id_number.strip().upper().encode("ascii", "replace")
    return hmac.new(key.reveal().encode("utf-8"), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditEvent:
    """One audited access.

    ``subject_id`` is the full ID number. It stays in memory (and out of ``repr``); sinks store
    only its mask and its keyed digest (:meth:`subject_hash`).
    """

    action: str
    operator_id: str | None
    purpose: str | None
    subject_id: str | None = field(default=None, repr=False)
    interfaces: Sequence[str] = ()
    result_status: str = "ok"
    detail: dict[str, object] = field(default_factory=dict)
    at: dt.datetime | None = None

    @property
    def subject_masked(self) -> str | None:
        return mask_id_number(self.subject_id) if self.subject_id else None

    def subject_hash(self, key: Secret | None) -> str | None:
        """Keyed digest of the subject (:func:`subject_digest`); ``None`` without a subject or a key."""
        if not self.subject_id or key is None:
            return None
        return subject_digest(self.subject_id, key)

    def detail_json(self) -> str:
        return json.dumps(self.detail, ensure_ascii=False, sort_keys=True, default=str)


#: ``result_status`` of an entry whose intent is written and whose outcome is not yet known.
PENDING_STATUS = "pending"
#: ``result_status`` given to an entry whose ``with query(...)`` block raised.
ERROR_STATUS = "error"


def clip_bytes(text: str | None, limit: int) -> str | None:
    """``text`` cut to at most ``limit`` UTF-8 bytes (never inside a character), ``…`` marking a cut."""
    if text is None:
        return None
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    if limit < 3:
        return data[:limit].decode("utf-8", "ignore")
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


class AuditEntry(Protocol):
    """An audited query in flight: its intent is written, :meth:`finish` writes the outcome."""

    recorded: bool

    def finish(self, result_status: str, detail: Mapping[str, object] | None = None) -> None: ...


class AuditSink(Protocol):
    """Where audit events go: the audit store (:mod:`soar_ext.audit_store`), a list in tests."""

    def record(self, event: AuditEvent) -> None: ...

    def begin(self, event: AuditEvent) -> AuditEntry: ...

    def query(self, event: AuditEvent) -> AbstractContextManager[AuditEntry]: ...

    def begin_all(self, events: Sequence[AuditEvent]) -> list[AuditEntry]: ...

    def finish_all(self, outcomes: Sequence[tuple[AuditEntry, str, Mapping[str, object] | None]]) -> None: ...


class WriteAheadMixin:
    """``query``, ``begin_all`` and ``finish_all`` built on ``begin`` / ``finish`` (shared by every sink).

    ``begin_all`` / ``finish_all`` are for concurrent queries (several members asked at once):
    a sink may write all the intents, then all the outcomes, in one transaction each.
    """

    def begin(self, event: AuditEvent) -> AuditEntry:  # pragma: no cover - provided by the sink
        raise NotImplementedError

    def begin_all(self, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        return [self.begin(event) for event in events]

    def finish_all(self, outcomes: Sequence[tuple[AuditEntry, str, Mapping[str, object] | None]]) -> None:
        for entry, status, detail in outcomes:
            entry.finish(status, detail)

    @contextmanager
    def query(self, event: AuditEvent) -> Iterator[AuditEntry]:
        entry = self.begin(event)
        try:
            yield entry
        except BaseException as exc:
            if not getattr(entry, "finished", False):
                entry.finish(ERROR_STATUS, {"error": type(exc).__name__})
            raise
        if not getattr(entry, "finished", False):
            entry.finish("ok")


class MemoryEntry:
    """An entry of :class:`MemoryAuditSink`."""

    def __init__(self, sink: MemoryAuditSink, index: int) -> None:
        self._sink = sink
        self._index = index
        self.recorded = True
        self.finished = False

    def finish(self, result_status: str, detail: Mapping[str, object] | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        with self._sink._lock:
            event = self._sink.events[self._index]
            merged = {**event.detail, **(detail or {})}
            self._sink.events[self._index] = replace(event, result_status=result_status, detail=merged)


class MemoryAuditSink(WriteAheadMixin):
    """Keeps events in a list (tests); an entry's event shows ``pending`` until it is finished."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> None:
        with self._lock:
            self.events.append(event)

    def begin(self, event: AuditEvent) -> MemoryEntry:
        with self._lock:
            self.events.append(replace(event, result_status=PENDING_STATUS))
            return MemoryEntry(self, len(self.events) - 1)

    def unfinished(self) -> list[AuditEvent]:
        """Events whose outcome was never written."""
        return [e for e in self.events if e.result_status == PENDING_STATUS]
