"""Audit trail for access to personal data (Big Data queries, verifications, exports).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
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


class AuditSink(Protocol):
    """Where audit events go (a database table in production, a list in tests)."""

    def record(self, event: AuditEvent) -> None: ...


class MemoryAuditSink:
    """Keeps events in a list; for tests and for shadow runs that must not write."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)
