"""Benchmark: wall time of the deposit-waiver pre-contract check against a slow Qianjiang service.

What is measured
    A household of 4 adult members, the Qianjiang score simulator on loopback with 100 ms of
    injected latency per call, and SOAR's pre-contract step run through ``SoarHost.pre_contract``
    with the ``deposit_waiver`` plugin (SQLite temp database: legacy schema + soar-ext migrations).
    Side by side, in the same run and through the same client and runner, each round times:

    - the waiver: ``SoarHost.pre_contract`` on a fresh draft contract (reads the household, asks
      the 4 scores concurrently, decides, writes the contract and the decision rows);
    - the same waiver with the audit written the way it was before the durable audit: one row per
      member inserted through SOAR's own connection, inside SOAR's transaction (lost on rollback);
    - a single score call (the floor: one round trip to the slow service);
    - a one-at-a-time loop of the same 4 score calls (what a naive implementation would cost).

    The two waivers alternate which goes first in each round. The durable waiver writes, per
    member, an intent committed before the call and the outcome committed after it, in the
    separate SQLite audit file beside SOAR's (``soar.audit.db``) — 8 committed writes per waiver.

    p50/p95 over ~20 rounds after warm-up, and the ratios waiver ÷ single, loop ÷ single and
    durable ÷ in-transaction audit.

Goal (DESIGN.md §8, "calls run concurrently")
    The waiver costs about one call, not four: waiver ≈ 1.1–1.5 × a single call (checked on p50 ÷ p50
    and p95 ÷ p95), while the one-at-a-time loop is ≈ 4 ×. The durable audit is reported as its
    cost over the in-transaction audit (ratio and milliseconds).

Run: ``.venv/bin/python benchmarks/deposit_waiver_latency.py [--runs 20] [--latency-ms 100]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import secrets
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, select

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.common import HttpSettings
from soar_ext.adapters.qianjiang import QianjiangClient, QianjiangSettings
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_ID, DEFAULT_APP_SECRET
from soar_ext.adapters.simulators.serve_all import serve
from soar_ext.audit import AuditEvent, WriteAheadMixin
from soar_ext.audit_store import clip_row, new_id, read_entries
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.db.codes import ContractStatus, ContractType, HouseStatus, Relation
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import audit_log, deposit_decisions
from soar_ext.db.legacy import (
    contracts,
    families,
    family_members,
    houses,
    housing_projects,
    legacy_metadata,
    persons,
)
from soar_ext.db.migrate import upgrade
from soar_ext.hook_payloads import ContractDecision, ContractDraft
from soar_ext.hooks import deposit_waiver
from soar_ext.host import SoarHost
from soar_ext.idnumber import check_char
from soar_ext.secret import Secret

PLUGIN = "deposit_waiver"
FAMILY_ID = "JT0000000001"
NOW = dt.datetime(2024, 7, 1, 10, 0)
CLERK = Operator(id="u001", name="王经办", roles=frozenset({"clerk"}), district="330106")
GOAL_LOW, GOAL_HIGH = 1.1, 1.5
# (name, relation, birth date, score set in the simulator); all adults, none above 700, so that
# every member's answer matters to the decision
HOUSEHOLD: tuple[tuple[str, str, dt.date, int], ...] = (
    ("张伟", Relation.SELF, dt.date(1985, 3, 12), 640),
    ("李娜", Relation.SPOUSE, dt.date(1987, 8, 9), 655),
    ("张建国", Relation.PARENT, dt.date(1958, 2, 2), 610),
    ("王秀英", Relation.PARENT, dt.date(1960, 11, 23), 690),
)


def id_number(birth: dt.date, serial: int) -> str:
    body = f"330106{birth:%Y%m%d}{serial:03d}"
    return body + check_char(body)


@dataclass(frozen=True)
class Member:
    person_id: str
    name: str
    id_number: str


def build_database(url: str, rounds: int) -> tuple[Engine, list[Member], list[str], dict[str, int]]:
    """Legacy schema + migrations, the household, and one draft new-rental contract per round."""
    engine = make_engine(url)
    legacy_metadata.create_all(engine)
    upgrade(url)
    members: list[Member] = []
    contract_ids: list[str] = []
    with engine.begin() as conn:
        for n, (name, _relation, birth, _score) in enumerate(HOUSEHOLD, start=1):
            member = Member(f"RY{n:010d}", name, id_number(birth, 100 + n))
            members.append(member)
            conn.execute(insert(persons).values(ryid=member.person_id, xm=name, sfzh=member.id_number, csrq=birth))
        conn.execute(insert(families).values(jtid=FAMILY_ID, sqrid=members[0].person_id, jtrs=len(members)))
        for n, (member, (_name, relation, _birth, _score)) in enumerate(zip(members, HOUSEHOLD, strict=True), 1):
            conn.execute(
                insert(family_members).values(
                    gxid=f"GX{n:010d}",
                    jtid=FAMILY_ID,
                    ryid=member.person_id,
                    ysqrgx=relation,
                    sfzsqr=1 if relation == Relation.SELF else 0,
                )
            )
        conn.execute(insert(housing_projects).values(xmid="XM000001", xmbh="FYXM000001", xmmc="基准测试公租房项目"))
        for n in range(1, rounds + 1):
            fyid, htid = f"FY{n:010d}", f"HT{n:010d}"
            conn.execute(
                insert(houses).values(
                    fyid=fyid, xmid="XM000001", fh=str(100 + n), fyzt=HouseStatus.VACANT, yzj=Decimal("1200.00")
                )
            )
            conn.execute(
                insert(contracts).values(
                    htid=htid,
                    htcode=f"HZHT-{n:010d}",
                    jtid=FAMILY_ID,
                    fyid=fyid,
                    pzlx=ContractType.NEW,
                    htzt=ContractStatus.DRAFT,
                    yj=Decimal("2400.00"),
                    yjjmbz=0,
                )
            )
            contract_ids.append(htid)
    with engine.connect() as conn:
        counts = {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (persons, families, family_members, houses, contracts)
        }
    return engine, members, contract_ids, counts


class InTransactionAuditSink(WriteAheadMixin):
    """The audit as it was written before the durable store (kept here only, for the comparison).

    One row per query, inserted after the call through SOAR's own connection, inside SOAR's
    transaction: fast, but SOAR's rollback erases it.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def record(self, event: AuditEvent) -> None:
        row = {
            "id": new_id(),
            "action": event.action,
            "operator_id": event.operator_id,
            "purpose": event.purpose,
            "subject_masked": event.subject_masked,
            "interfaces": ",".join(event.interfaces),
            "result_status": event.result_status,
            "detail": event.detail_json(),
            "created_at": event.at or NOW,
        }
        self.connection.execute(insert(audit_log).values(**clip_row(row)))

    def begin(self, event: AuditEvent) -> _AfterCallEntry:
        return _AfterCallEntry(self, event)


class _AfterCallEntry:
    recorded = True

    def __init__(self, sink: InTransactionAuditSink, event: AuditEvent) -> None:
        self.sink, self.event, self.finished = sink, event, False

    def finish(self, result_status: str, detail: object = None) -> None:
        self.finished = True
        self.sink.record(replace(self.event, result_status=result_status))


def make_client(base_url: str, read_timeout: float) -> QianjiangClient:
    http = HttpSettings(
        base_url=base_url,
        connect_timeout=1.0,
        read_timeout=read_timeout,
        rate_per_second=1000.0,  # the limiter must not be what is measured
        burst=100,
        retry_attempts=1,  # a retry would hide a failure as extra latency
    )
    return QianjiangClient(QianjiangSettings(http=http, app_id=DEFAULT_APP_ID, app_secret=Secret(DEFAULT_APP_SECRET)))


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Series:
    label: str
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 0.95)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (connection set-up)")
    parser.add_argument("--latency-ms", type=int, default=100, help="latency injected into every score call")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rounds = args.warmup + args.runs
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soar-ext-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'soar.db'}"
        started = time.perf_counter()
        engine, members, contract_ids, counts = build_database(url, 2 * rounds)
        build_s = time.perf_counter() - started

        latency = float(args.latency_ms)
        server = serve("qianjiang", SimulatorConfig(latency_ms=(latency, latency)))
        sim = server.state
        client = make_client(server.base_url, read_timeout=max(2.0, args.latency_ms / 1000 * 5))
        config = Config(
            plugin_modes={PLUGIN: "on"},
            plugin_settings={PLUGIN: {"time_budget_seconds": 5}},
            audit={"digest_secret": Secret(secrets.token_hex(16))},  # as in production: subjects digested
        )
        adapters = AdapterRegistry(config, instances={"qianjiang": client})
        try:
            for member, (_n, _r, _b, score) in zip(members, HOUSEHOLD, strict=True):
                sim.set_score(member.id_number, score)
            host = SoarHost(config, plugins=[(PLUGIN, deposit_waiver)], load_entry_points=False)
            auth_ref = f"SOAR-{FAMILY_ID}"

            print("deposit_waiver_latency — deposit-waiver pre-contract check vs a slow score service")
            print(
                f"database: SQLite temp file (legacy schema + upgrade), built in {build_s * 1000:.0f} ms: "
                + ", ".join(f"{name} {n}" for name, n in counts.items())
            )
            print(
                f"household {FAMILY_ID}: {len(members)} adult members; simulator {server.base_url} "
                f"with {args.latency_ms} ms injected latency per call"
            )
            print(
                f"rounds: {args.warmup} warm-up + {args.runs} timed; each round = waiver with durable audit, "
                "waiver with in-transaction audit (order alternating), single call, 4-call loop"
            )

            def waiver(contract_id: str, durable: bool = True) -> tuple[float, ContractDecision]:
                with engine.begin() as conn:
                    if durable:  # what SOAR gets today: the host's context and its durable audit sink
                        ctx = replace(host.context(CLERK, conn, clock=lambda: NOW), adapters=adapters)
                    else:
                        ctx = SoarContext(
                            operator=CLERK,
                            connection=conn,
                            config=config,
                            adapters=adapters,
                            audit=InTransactionAuditSink(conn),
                            clock=lambda: NOW,
                        )
                    draft = ContractDraft(
                        contract_id=contract_id,
                        contract_type=ContractType.NEW,
                        family_id=FAMILY_ID,
                        deposit=Decimal("2400.00"),
                    )
                    t0 = time.perf_counter()
                    decision = host.pre_contract(ctx, draft)
                    return (time.perf_counter() - t0) * 1000, decision

            def single() -> float:
                t0 = time.perf_counter()
                adapters.run(client.score(members[0].id_number, members[0].name, auth_ref), timeout=10)
                return (time.perf_counter() - t0) * 1000

            def loop() -> float:
                t0 = time.perf_counter()
                for member in members:
                    adapters.run(client.score(member.id_number, member.name, auth_ref), timeout=10)
                return (time.perf_counter() - t0) * 1000

            waivers, singles, loops = Series("waiver", []), Series("single", []), Series("loop", [])
            before = Series("in-transaction audit", [])
            problems: list[str] = []
            for n in range(rounds):
                durable_id, old_id = contract_ids[2 * n], contract_ids[2 * n + 1]
                if n % 2:
                    o_ms, old_decision = waiver(old_id, durable=False)
                    w_ms, decision = waiver(durable_id)
                else:
                    w_ms, decision = waiver(durable_id)
                    o_ms, old_decision = waiver(old_id, durable=False)
                s_ms, l_ms = single(), loop()
                for d in (decision, old_decision):
                    if d.needs_recheck or not d.allowed:
                        problems.append(f"round {n}: {d.messages}")
                if n >= args.warmup:
                    waivers.samples_ms.append(w_ms)
                    before.samples_ms.append(o_ms)
                    singles.samples_ms.append(s_ms)
                    loops.samples_ms.append(l_ms)
            calls = sim.plan.calls("score")
            audit_entries = read_entries(host.audit_store(url), limit=10_000)
        finally:
            adapters.close()
            server.stop()

        with engine.connect() as conn:
            stored = conn.execute(select(deposit_decisions.c.members, deposit_decisions.c.max_score)).all()
            in_transaction_rows = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        host.shutdown(host.context(CLERK, engine.connect()))
        engine.dispose()

    scored_everywhere = all(row.members.count('"status": "scored"') == len(members) for row in stored)
    print(f"\n{'series':<36} {'n':>3} {'p50 ms':>9} {'p95 ms':>9} {'min ms':>9} {'max ms':>9}")
    for series, label in (
        (singles, "single score call (1 call)"),
        (waivers, "waiver, durable audit (4)"),
        (before, "waiver, in-transaction audit (4)"),
        (loops, "one-at-a-time loop (4 calls)"),
    ):
        s = series.samples_ms
        print(f"{label:<36} {len(s):>3} {series.p50:9.1f} {series.p95:9.1f} {min(s):9.1f} {max(s):9.1f}")

    waiver_p50, waiver_p95 = waivers.p50 / singles.p50, waivers.p95 / singles.p95
    loop_p50, loop_p95 = loops.p50 / singles.p50, loops.p95 / singles.p95
    ok = waiver_p50 <= GOAL_HIGH and waiver_p95 <= GOAL_HIGH
    print("\n" + "=" * 88)
    print(f"SUMMARY — deposit-waiver pre-contract wall time, 4 adult members, {args.latency_ms} ms per upstream call")
    print(f"single call             p50 {singles.p50:7.1f} ms  p95 {singles.p95:7.1f} ms")
    print(f"waiver (concurrent)     p50 {waivers.p50:7.1f} ms  p95 {waivers.p95:7.1f} ms")
    print(f"one-at-a-time loop      p50 {loops.p50:7.1f} ms  p95 {loops.p95:7.1f} ms")
    print(f"ratio waiver ÷ single   p50 {waiver_p50:5.2f}×  p95 {waiver_p95:5.2f}×   (goal ≈ {GOAL_LOW}–{GOAL_HIGH}×)")
    print(f"ratio loop ÷ single     p50 {loop_p50:5.2f}×  p95 {loop_p95:5.2f}×   (expected ≈ 4×)")
    print(f"ratio loop ÷ waiver     p50 {loops.p50 / waivers.p50:5.2f}×")
    print(
        f"durable audit cost      p50 {waivers.p50 / before.p50:5.3f}×  p95 {waivers.p95 / before.p95:5.3f}×  "
        f"(durable ÷ in-transaction; +{waivers.p50 - before.p50:.1f} ms at p50, "
        f"+{waivers.p95 - before.p95:.1f} ms at p95)"
    )
    durable_done = sum(1 for e in audit_entries if e.state == "done")
    print(
        f"audit rows: durable store {len(audit_entries)} ({durable_done} with outcome, expected "
        f"{rounds * len(members)}); in SOAR's transaction {in_transaction_rows} (expected {rounds * len(members)})"
    )
    print(
        f"every decision had all {len(members)} members scored: {'yes' if scored_everywhere else 'NO'}; "
        f"decisions stored: {len(stored)}; simulator score calls: {calls} (expected {rounds * (3 * len(members) + 1)})"
    )
    if problems:
        print("PROBLEMS: " + "; ".join(problems))
    print(f"goal (waiver ≤ {GOAL_HIGH}× a single call): {'met' if ok and not problems else 'NOT MET'}")
    print(f"total wall time {time.perf_counter() - wall:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
