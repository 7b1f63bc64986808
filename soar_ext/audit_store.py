"""Database-backed audit sink and the plugin-decision log (``sx_audit_log``, ``sx_plugin_decision``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from sqlalchemy import Connection, insert

from soar_ext.audit import DIGEST_KEY_SETTING, AuditEvent, check_digest_key
from soar_ext.clock import beijing_now
from soar_ext.db.extension import audit_log, plugin_decisions
from soar_ext.db.portability import check_lengths, normalise_row
from soar_ext.secret import Secret

log = logging.getLogger(__name__)


def new_id() -> str:
    """A 32-character id for our own rows (fits SOAR's VARCHAR2(32) keys)."""
    return uuid.uuid4().hex


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


class DatabaseAuditSink:
    """Writes audit events into ``sx_audit_log`` through a connection.

    In screen hooks the connection is SOAR's, so the entry commits with SOAR's business
    transaction; batch jobs give it their own connection and commit per chunk.

    ``digest_key`` is the audit digest key (``config.audit.get("digest_secret")``): the subject is
    stored masked and as HMAC-SHA256 under that key (``subject_hash``). Without a key
    ``subject_hash`` stays NULL — auditors then cannot search the log by citizen — and the sink
    logs one warning saying so.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        digest_key: Secret | None = None,
        operator_name: str | None = None,
        clock: Callable[[], object] = beijing_now,
    ) -> None:
        self.connection = connection
        self.digest_key = None if digest_key is None else check_digest_key(digest_key)
        self.operator_name = operator_name
        self.clock = clock
        self._warned_no_key = False

    def _subject_hash(self, event: AuditEvent) -> str | None:
        if self.digest_key is None and event.subject_id and not self._warned_no_key:
            self._warned_no_key = True
            log.warning(
                "no audit digest key configured ([audit] %s / SOAR_EXT_AUDIT_DIGEST_SECRET): "
                "sx_audit_log.subject_hash is left empty, so the audit log cannot be searched by citizen",
                DIGEST_KEY_SETTING,
            )
        return event.subject_hash(self.digest_key)

    def record(self, event: AuditEvent) -> None:
        row = normalise_row(
            {
                "id": new_id(),
                "action": event.action,
                "operator_id": event.operator_id,
                "operator_name": self.operator_name,
                "purpose": _clip(event.purpose, 200),
                "subject_masked": event.subject_masked,
                "subject_hash": self._subject_hash(event),
                "interfaces": _clip(",".join(event.interfaces), 1000),
                "result_status": _clip(event.result_status, 20),
                "detail": event.detail_json(),
                "created_at": event.at or self.clock(),
            }
        )
        check_lengths(audit_log, row)
        self.connection.execute(insert(audit_log).values(**row))


def record_plugin_decision(
    connection: Connection,
    *,
    plugin: str,
    hook: str,
    subject_key: str | None,
    mode: str,
    verdict: str,
    enforced: bool,
    reason: str | None,
    operator_id: str | None,
    at: object,
) -> None:
    """Append one row to ``sx_plugin_decision``."""
    row = normalise_row(
        {
            "id": new_id(),
            "plugin": plugin[:60],
            "hook": hook[:60],
            "subject_key": _clip(subject_key, 100),
            "run_mode": mode,
            "verdict": verdict,
            "enforced": 1 if enforced else 0,
            "reason": _clip(reason, 1000),
            "operator_id": operator_id,
            "created_at": at,
        }
    )
    connection.execute(insert(plugin_decisions).values(**row))
