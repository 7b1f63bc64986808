"""The durable audit store (``sx_audit_log``) and the plugin-decision log (``sx_plugin_decision``).

Audit entries are written on the store's **own** engine, each write committed at once, never
on SOAR's connection: SOAR's rollback (or a crash after an upstream call) cannot erase the
record of a query that was really sent.

Where the store lives (:func:`audit_database_url`):

- ``[audit] database_url`` (env ``SOAR_EXT_AUDIT_DATABASE_URL``) when set;
- PostgreSQL / Oracle: the SOAR database itself, through a small pooled engine of its own (an
  autonomous connection; ``sx_audit_log`` comes from the migrations);
- the embedded SQLite default: a separate file beside the main one (``soar_ext.db`` →
  ``soar_ext.audit.db``), because a second writer on the main file would wait on SOAR's write
  lock. It holds only ``sx_audit_log`` and is created (and given the columns of later
  revisions) automatically; ``soar-ext db init`` creates it and ``soar-ext doctor`` checks it.

Outside hooks (batch workers, jobs, the CLI), build a sink with :func:`build_audit_sink` and
read entries with :func:`read_entries` / :func:`unfinished_entries`.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, String, bindparam, insert, inspect, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from soar_ext.audit import (
    DIGEST_KEY_SETTING,
    PENDING_STATUS,
    AuditEvent,
    WriteAheadMixin,
    check_digest_key,
    clip_bytes,
)
from soar_ext.clock import beijing_now
from soar_ext.config import Config, redact_url
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import audit_log, plugin_decisions
from soar_ext.db.portability import none_if_blank, normalise_row
from soar_ext.idnumber import mask_in_text
from soar_ext.log_masking import get_logger
from soar_ext.secret import Secret

log = get_logger(__name__)

#: Configuration key (section ``[audit]``) of the audit store's database URL.
DATABASE_URL_SETTING = "database_url"
INTENT = "intent"
DONE = "done"
#: Largest ``detail`` JSON kept, in characters (the rest is cut, marked ``…``).
MAX_DETAIL_CHARS = 4000
# Revision-0002 columns a separate SQLite audit file gets when it was created before them.
_LATER_COLUMNS = (("state", "VARCHAR(10)"), ("finished_at", "DATETIME"))


def new_id() -> str:
    """A 32-character id for our own rows (fits SOAR's VARCHAR2(32) keys)."""
    return uuid.uuid4().hex


def _clip(text: str | None, limit: int) -> str | None:
    return clip_bytes(text, limit)


def clip_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """An ``sx_audit_log`` row with every string cut to its column's byte length (never rejected)."""
    out: dict[str, Any] = {}
    for key, value in normalise_row(row).items():
        column = audit_log.c[key]
        if isinstance(value, str) and isinstance(column.type, String) and column.type.length:
            value = clip_bytes(value, column.type.length)
        out[key] = value
    return out


def audit_database_url(config: Config, soar_url: str) -> str:
    """The audit store's database URL for SOAR's database ``soar_url`` (see the module docstring)."""
    configured = none_if_blank(config.audit.get(DATABASE_URL_SETTING))
    if configured:
        return str(configured)
    url = make_url(soar_url)
    if url.get_backend_name() != "sqlite":
        return soar_url
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("uri"):
        return "sqlite://"  # an in-memory SOAR database (tests): an in-memory audit store beside it
    path = Path(database)
    return str(url.set(database=str(path.with_name(f"{path.stem}.audit{path.suffix or '.db'}"))))


class AuditStore:
    """``sx_audit_log`` on an engine of its own; every write is one committed transaction.

    Thread-safe: the engine's pool hands each writer its own connection (SQLite writes are
    also serialised by a lock). Build one per database and keep it (a host keeps one per
    SOAR database; :meth:`dispose` at shutdown).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        backend = make_url(url).get_backend_name()
        self.is_sqlite = backend == "sqlite"
        if self.is_sqlite and (make_url(url).database or ":memory:") == ":memory:":
            self.engine: Engine = make_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif self.is_sqlite:
            self.engine = make_engine(url, connect_args={"check_same_thread": False})
        else:
            self.engine = make_engine(url, pool_size=2, max_overflow=4, pool_pre_ping=True, pool_recycle=1800)
        # SQLite has one writer at a time: serialise this process's writers instead of letting
        # them time out on the file lock
        self._lock = threading.RLock() if self.is_sqlite else None
        self._schema_ready = not self.is_sqlite

    def __repr__(self) -> str:
        return f"AuditStore({redact_url(self.url)!r})"

    def ensure_schema(self) -> None:
        """On a SQLite audit store, create ``sx_audit_log`` or add the columns of later revisions.

        On PostgreSQL and Oracle the table comes from soar-ext's migrations and is left alone.
        """
        if self._lock is None:
            return
        with self._lock:
            if self._schema_ready:
                return
            with self.engine.begin() as conn:
                _ensure_sqlite_table(conn)
            self._schema_ready = True

    def _write(self, fn: Callable[[Connection], None]) -> None:
        if not self._schema_ready:
            self.ensure_schema()
        if self._lock is None:
            with self.engine.begin() as conn:
                fn(conn)
            return
        with self._lock, self.engine.begin() as conn:
            fn(conn)

    def insert(self, *rows: Mapping[str, Any]) -> None:
        """Insert rows in one transaction and commit."""
        values = [clip_row(row) for row in rows]
        if values:
            self._write(lambda conn: conn.execute(insert(audit_log), values))

    def finish(self, *outcomes: tuple[str, Mapping[str, Any]]) -> None:
        """Write the outcomes ``(entry id, values)`` in one transaction and commit."""
        # outcomes with the same columns go in one executemany (twelve categories: one statement)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for entry_id, values in outcomes:
            row = clip_row(values)
            groups.setdefault(tuple(sorted(row)), []).append(
                {**{f"v_{k}": v for k, v in row.items()}, "k_id": entry_id}
            )

        def run(conn: Connection) -> None:
            for columns, params in groups.items():
                stmt = (
                    update(audit_log)
                    .where(audit_log.c.id == bindparam("k_id"))
                    .values({c: bindparam(f"v_{c}") for c in columns})
                )
                conn.execute(stmt, params)

        if groups:
            self._write(run)

    def connect(self) -> Connection:
        """A connection for reading (schema ensured first)."""
        if not self._schema_ready:
            self.ensure_schema()
        return self.engine.connect()

    def dispose(self) -> None:
        self.engine.dispose()


def _ensure_sqlite_table(conn: Connection) -> None:
    insp = inspect(conn)
    if not insp.has_table(audit_log.name):
        audit_log.create(conn)
        return
    present = {c["name"] for c in insp.get_columns(audit_log.name)}
    for name, type_ in _LATER_COLUMNS:
        if name not in present:
            conn.execute(text(f"ALTER TABLE {audit_log.name} ADD COLUMN {name} {type_}"))
    indexes = {ix["name"] for ix in insp.get_indexes(audit_log.name)}
    for index in audit_log.indexes:
        if index.name not in indexes:
            index.create(conn)


class StoredEntry:
    """An entry of :class:`DurableAuditSink`; ``recorded`` is false when its intent could not be written."""

    def __init__(self, sink: DurableAuditSink, entry_id: str, event: AuditEvent, recorded: bool) -> None:
        self._sink = sink
        self.id = entry_id
        self.event = event
        self.recorded = recorded
        self.finished = False

    def finish(self, result_status: str, detail: Mapping[str, object] | None = None) -> None:
        """Write the outcome (once; later calls are ignored). Never raises."""
        if self.finished:
            return
        self._sink._finish(self, result_status, detail)


class DurableAuditSink(WriteAheadMixin):
    """The audit sink of hooks and batch workers: writes through an :class:`AuditStore`.

    ``digest_key`` is the audit digest key (``[audit] digest_secret``): the subject is stored
    masked and as HMAC-SHA256 under that key. Without a key ``subject_hash`` stays NULL — the
    log then cannot be searched by citizen — and the sink logs one warning saying so.
    Thread-safe; never raises into the caller (failures are logged, masked).
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        digest_key: Secret | None = None,
        operator_name: str | None = None,
        clock: Callable[[], dt.datetime] = beijing_now,
    ) -> None:
        self.store = store
        self.digest_key = None if digest_key is None else check_digest_key(digest_key)
        self.operator_name = operator_name
        self.clock = clock
        self._warned_no_key = False
        self._lock = threading.Lock()

    def _subject_hash(self, event: AuditEvent) -> str | None:
        if self.digest_key is None and event.subject_id:
            with self._lock:
                warn, self._warned_no_key = not self._warned_no_key, True
            if warn:
                log.warning(
                    "no audit digest key configured ([audit] %s / SOAR_EXT_AUDIT_DIGEST_SECRET): "
                    "sx_audit_log.subject_hash is left empty, so the audit log cannot be searched by citizen",
                    DIGEST_KEY_SETTING,
                )
        return event.subject_hash(self.digest_key)

    def _row(self, event: AuditEvent, entry_id: str, status: str, state: str) -> dict[str, Any]:
        at = event.at or self.clock()
        return {
            "id": entry_id,
            "action": event.action,
            "operator_id": event.operator_id,
            "operator_name": self.operator_name,
            "purpose": None if event.purpose is None else mask_in_text(event.purpose),
            "subject_masked": event.subject_masked,
            "subject_hash": self._subject_hash(event),
            "interfaces": mask_in_text(",".join(str(i) for i in event.interfaces)),
            "result_status": status,
            "detail": _detail_json(event.detail),
            "created_at": at,
            "state": state,
            "finished_at": at if state == DONE else None,
        }

    def record(self, event: AuditEvent) -> None:
        """Write one finished access and commit. Never raises."""
        try:
            self.store.insert(self._row(event, new_id(), event.result_status or "ok", DONE))
        except Exception as exc:
            log.error("audit entry %s could not be written to %r: %s", event.action, self.store, _reason(exc))

    def begin(self, event: AuditEvent) -> StoredEntry:
        """Write and commit the intent of a query; returns the entry to :meth:`StoredEntry.finish`."""
        return self.begin_all([event])[0]

    def begin_all(self, events: Sequence[AuditEvent]) -> list[StoredEntry]:
        """Write and commit the intents of several queries in one transaction (never raises)."""
        ids = [new_id() for _ in events]
        try:
            self.store.insert(*(self._row(e, i, PENDING_STATUS, INTENT) for e, i in zip(events, ids, strict=True)))
            recorded = True
        except Exception as exc:
            actions = ",".join(sorted({e.action for e in events}))
            log.error("audit intent %s could not be written to %r: %s", actions, self.store, _reason(exc))
            recorded = False
        return [StoredEntry(self, i, e, recorded) for e, i in zip(events, ids, strict=True)]

    def _outcome(self, entry: StoredEntry, status: str, detail: Mapping[str, object] | None) -> dict[str, Any]:
        values: dict[str, Any] = {"result_status": status or "ok", "state": DONE, "finished_at": self.clock()}
        if detail:
            values["detail"] = _detail_json({**entry.event.detail, **detail})
        return values

    def _finish(self, entry: StoredEntry, status: str, detail: Mapping[str, object] | None) -> None:
        self.finish_all([(entry, status, detail)])

    def finish_all(self, outcomes: Sequence[tuple[Any, str, Mapping[str, object] | None]]) -> None:
        """Write the outcomes of several entries in one transaction (never raises)."""
        written = []
        lost = []
        for entry, status, detail in outcomes:
            if not isinstance(entry, StoredEntry) or entry._sink is not self:
                entry.finish(status, detail)
                continue
            entry.finished = True
            values = self._outcome(entry, status, detail)
            if entry.recorded:
                written.append((entry.id, values))
            else:  # the intent was lost: keep at least the outcome
                lost.append({**self._row(entry.event, entry.id, values["result_status"], DONE), **values})
        try:
            self.store.finish(*written)
            self.store.insert(*lost)
        except Exception as exc:
            ids = ",".join(i for i, _v in written)[:200]
            log.error("audit outcome(s) of entries %s could not be written to %r: %s", ids, self.store, _reason(exc))

    def close(self) -> None:
        """Dispose of the store's engine (sinks from :func:`build_audit_sink` own their store)."""
        self.store.dispose()


def _detail_json(detail: Mapping[str, object]) -> str:
    text_ = json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str)
    text_ = mask_in_text(text_)
    return text_ if len(text_) <= MAX_DETAIL_CHARS else text_[: MAX_DETAIL_CHARS - 1] + "…"


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def open_audit_store(config: Config, soar_url: str | None = None) -> AuditStore:
    """The audit store for SOAR's database ``soar_url`` (default: the configured database URL)."""
    return AuditStore(audit_database_url(config, soar_url or config.database_url))


def build_audit_sink(
    config: Config,
    *,
    operator_name: str | None = None,
    soar_url: str | None = None,
    store: AuditStore | None = None,
    clock: Callable[[], dt.datetime] = beijing_now,
) -> DurableAuditSink:
    """A durable audit sink for code outside hooks (batch workers, jobs, the CLI).

    Build one per worker process and share it between its threads; ``sink.close()`` when done.
    The store is the one hooks use for the same database (:func:`audit_database_url`).
    """
    return DurableAuditSink(
        store or open_audit_store(config, soar_url),
        digest_key=config.audit.get(DIGEST_KEY_SETTING),
        operator_name=operator_name,
        clock=clock,
    )


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class AuditRow:
    """One ``sx_audit_log`` entry as readers see it (the subject only masked)."""

    id: str
    action: str
    operator_id: str | None
    operator_name: str | None
    purpose: str | None
    subject_masked: str | None
    interfaces: tuple[str, ...]
    result_status: str
    state: str | None
    detail: Mapping[str, Any]
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def unfinished(self) -> bool:
        return self.state == INTENT


def _to_row(r: Mapping[str, Any]) -> AuditRow:
    try:
        detail = json.loads(r["detail"]) if r["detail"] else {}
    except ValueError:
        detail = {"text": r["detail"]}
    return AuditRow(
        id=r["id"],
        action=r["action"],
        operator_id=r["operator_id"],
        operator_name=r["operator_name"],
        purpose=r["purpose"],
        subject_masked=r["subject_masked"],
        interfaces=tuple(i for i in (r["interfaces"] or "").split(",") if i),
        result_status=r["result_status"],
        state=r["state"],
        detail=detail if isinstance(detail, dict) else {"value": detail},
        created_at=r["created_at"],
        finished_at=r["finished_at"],
    )


def read_entries(
    store: AuditStore,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    action: str | None = None,
    operator_id: str | None = None,
    subject_hash: str | None = None,
    unfinished_only: bool = False,
    limit: int = 500,
) -> list[AuditRow]:
    """Audit entries, newest first: the one function every reader (console, CLI, doctor) uses.

    ``subject_hash`` is :func:`soar_ext.audit.subject_digest` of a citizen's ID number under the
    digest key; ``unfinished_only`` keeps intents without an outcome. ``limit`` is capped at 10,000.
    """
    a = audit_log
    stmt = select(a).order_by(a.c.created_at.desc(), a.c.id.desc()).limit(max(1, min(int(limit), 10_000)))
    if since is not None:
        stmt = stmt.where(a.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(a.c.created_at < until)
    if action:
        stmt = stmt.where(a.c.action == action)
    if operator_id:
        stmt = stmt.where(a.c.operator_id == operator_id)
    if subject_hash:
        stmt = stmt.where(a.c.subject_hash == subject_hash)
    if unfinished_only:
        stmt = stmt.where(a.c.state == INTENT)
    with store.connect() as conn:
        return [_to_row(r) for r in conn.execute(stmt).mappings()]


def unfinished_entries(
    store: AuditStore, *, older_than: dt.timedelta = dt.timedelta(0), now: dt.datetime | None = None
) -> list[AuditRow]:
    """Intents without an outcome that started at least ``older_than`` ago (a crash, or still in flight)."""
    until = (now or beijing_now()) - older_than if older_than > dt.timedelta(0) else None
    return read_entries(store, until=until, unfinished_only=True, limit=10_000)


# ----------------------------------------------------------------------------- plugin decisions


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
    """Append one row to ``sx_plugin_decision`` (in SOAR's transaction: the decision goes with the business)."""
    row = normalise_row(
        {
            "id": new_id(),
            "plugin": _clip(plugin, 60),
            "hook": _clip(hook, 60),
            "subject_key": _clip(subject_key, 100),
            "run_mode": mode,
            "verdict": verdict,
            "enforced": 1 if enforced else 0,
            "reason": _clip(reason, 1000),
            "operator_id": _clip(operator_id, 32),
            "created_at": at,
        }
    )
    connection.execute(insert(plugin_decisions).values(**row))
