"""The audit trail: the subject is stored masked and as a keyed digest that cannot be reversed."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, select

from soar_ext.adapters.bigdata.client import QueryRecord
from soar_ext.audit import AuditEvent, subject_digest
from soar_ext.audit_store import AuditStore, DurableAuditSink
from soar_ext.config import load_config
from soar_ext.db.extension import audit_log
from soar_ext.idnumber import check_char
from soar_ext.secret import Secret

KEY = Secret("k3y-for-tests-only-0123456789abcdef")
OTHER_KEY = Secret("another-key-for-tests-0123456789")
AT = dt.datetime(2024, 5, 6, 9, 30)


def _id(first17: str) -> str:
    return first17 + check_char(first17)


SUBJECT = _id("33010619850712301")  # born 1985-07-12


def _event(subject: str | None = SUBJECT) -> AuditEvent:
    return AuditEvent(
        action="bigdata_query", operator_id="u001", purpose="资格审核", subject_id=subject, interfaces=("hj",), at=AT
    )


@pytest.fixture
def store(tmp_path) -> Iterator[AuditStore]:
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    yield store
    store.dispose()


@pytest.fixture
def conn(store: AuditStore) -> Iterator[Connection]:
    """A reading connection on the audit store (the sinks write on their own)."""
    store.ensure_schema()
    with store.connect() as connection:
        yield connection


def test_digest_is_an_hmac_under_the_key() -> None:
    digest = subject_digest(SUBJECT, KEY)
    assert digest == hmac.new(KEY.reveal().encode(), SUBJECT.encode(), hashlib.sha256).hexdigest()
    assert len(digest) == 64
    assert digest == subject_digest(SUBJECT, Secret(KEY.reveal()))  # stable: auditors can search by citizen
    assert digest != subject_digest(SUBJECT, OTHER_KEY)
    assert digest != hashlib.sha256(SUBJECT.encode()).hexdigest()


def test_mask_plus_digest_cannot_be_brute_forced_without_the_key() -> None:
    """Only the 8 birth-date digits are hidden by the mask: every candidate is tried here."""
    event = _event()
    stored_mask, stored_digest = event.subject_masked, event.subject_hash(KEY)
    assert stored_mask == SUBJECT[:6] + "*" * 8 + SUBJECT[14:]
    day, found_unkeyed, found_keyed = dt.date(1900, 1, 1), [], []
    while day.year < 2030:
        first17 = SUBJECT[:6] + day.strftime("%Y%m%d") + SUBJECT[14:17]
        candidate = _id(first17)
        if candidate[14:] == SUBJECT[14:]:
            if hashlib.sha256(candidate.encode()).hexdigest() == stored_digest:
                found_unkeyed.append(candidate)
            if subject_digest(candidate, OTHER_KEY) == stored_digest:
                found_keyed.append(candidate)
        day += dt.timedelta(days=1)
    assert found_unkeyed == [] and found_keyed == []
    # ...while whoever holds the key finds the citizen's entries
    assert subject_digest(SUBJECT, KEY) == stored_digest


def test_lowercase_check_character_gives_the_same_digest() -> None:
    subject = _id("11010519491231002")
    assert subject.endswith("X")
    assert subject_digest(subject.lower(), KEY) == subject_digest(subject, KEY)


@pytest.mark.parametrize("bad", ["", "short"])
def test_short_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="digest_secret"):
        subject_digest(SUBJECT, Secret(bad))
    with pytest.raises(ValueError, match="digest_secret"):
        DurableAuditSink(None, digest_key=Secret(bad))  # type: ignore[arg-type]


def test_a_plain_string_key_is_refused() -> None:
    with pytest.raises(TypeError):
        subject_digest(SUBJECT, "k3y-for-tests-only-0123456789abcdef")  # type: ignore[arg-type]


def test_event_keeps_the_full_id_in_memory_only() -> None:
    event = _event()
    assert event.subject_id == SUBJECT
    assert SUBJECT not in repr(event)
    assert event.subject_hash(KEY) == subject_digest(SUBJECT, KEY)
    assert event.subject_hash(None) is None
    assert _event(None).subject_hash(KEY) is None
    assert _event(None).subject_masked is None


def test_database_sink_stores_mask_and_keyed_digest(conn: Connection, store: AuditStore) -> None:
    DurableAuditSink(store, digest_key=KEY, operator_name="王经办").record(_event())
    row = conn.execute(select(audit_log)).mappings().one()
    assert row["subject_masked"] == SUBJECT[:6] + "********" + SUBJECT[14:]
    assert row["subject_hash"] == subject_digest(SUBJECT, KEY)
    assert row["operator_name"] == "王经办"
    assert SUBJECT not in " ".join(str(v) for v in row.values())
    # an auditor searches by citizen with the key
    wanted = subject_digest(SUBJECT, KEY)
    assert conn.execute(select(audit_log.c.id).where(audit_log.c.subject_hash == wanted)).all()


def test_database_sink_without_key_stores_no_digest_and_warns_once_per_sink(
    conn: Connection, store: AuditStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="soar_ext.audit_store")
    sink = DurableAuditSink(store)
    sink.record(_event(None))
    assert caplog.records == []  # nothing to digest: nothing to warn about
    sink.record(_event())
    sink.record(_event())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "digest" in warnings[0].getMessage() and SUBJECT not in warnings[0].getMessage()
    hashes = conn.execute(select(audit_log.c.subject_hash, audit_log.c.subject_masked)).all()
    assert [h for h, _m in hashes] == [None, None, None]
    assert sum(1 for _h, m in hashes if m) == 2
    DurableAuditSink(store).record(_event())
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_digest_key_comes_from_the_audit_configuration(conn: Connection, store: AuditStore) -> None:
    config = load_config(env={"SOAR_EXT_AUDIT_DIGEST_SECRET": KEY.reveal()})
    sink = DurableAuditSink(store, digest_key=config.audit.get("digest_secret"))
    sink.record(_event())
    assert conn.execute(select(audit_log.c.subject_hash)).scalar_one() == subject_digest(SUBJECT, KEY)


def test_bigdata_query_records_are_audited_with_the_keyed_digest(conn: Connection, store: AuditStore) -> None:
    record = QueryRecord(
        category="户籍",
        interface_id="hj_czrkxx",
        subject_id_number=SUBJECT,
        purpose="资格审核",
        status="found",
        duration_seconds=0.12,
        generation=1,
        record_count=1,
        at=AT,
    )
    event = record.to_audit_event(operator_id="clerk-7")
    assert event.subject_id == SUBJECT and SUBJECT not in repr(event)
    DurableAuditSink(store, digest_key=KEY).record(event)
    row = conn.execute(select(audit_log)).mappings().one()
    assert row["subject_hash"] == subject_digest(SUBJECT, KEY)
    assert row["interfaces"] == "hj_czrkxx" and row["result_status"] == "found"
    assert SUBJECT not in (row["detail"] or "")
