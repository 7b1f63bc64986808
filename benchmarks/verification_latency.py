"""Benchmark: wall time of a full 核查 (twelve Big Data categories) against its slowest single category.

What is measured
    A person whose business is completed (业务办结) in a SQLite temp database (legacy schema +
    soar-ext migrations), the Big Data gateway simulator on loopback — in a process of its own, as
    the real gateway is another machine, so that its work does not share this process's
    interpreter lock — with a different latency per category, spread evenly over 50–300 ms (the
    simulator's per-interface latency), and the ``verification`` plugin run through
    ``SoarHost.action`` (``verification.run``: twelve concurrent queries, their twelve write-ahead
    audit entries in the durable audit store (intents committed before the queries, outcomes
    after), the verification and its twelve snapshots written, the changes since the previous
    verification worked out, the page built). Side by side, in the same run and through the same client and
    adapter registry, each round times:

    - the full verification (``SoarHost.action``), what the clerk waits for;
    - one query of the slowest category alone (the floor: nothing can answer sooner);
    - for a few rounds only, the twelve queries one at a time (what a sequential page would cost).

    p50/p95 over 20 verifications after warm-up, and the ratio full ÷ slowest category.

Goal (DESIGN.md §8)
    A verification costs its slowest source, not the sum: full ÷ slowest ≤ 1.2 (p50 ÷ p50 and
    p95 ÷ p95), while one at a time costs ≈ the sum of the twelve latencies.

Run: ``.venv/bin/python benchmarks/verification_latency.py [--runs 20] [--generation 1|2]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from latency_stats import Series
from sqlalchemy import func, insert, select

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.bigdata import CATEGORIES, CATEGORY_CODES, BigDataClient, BigDataSettings
from soar_ext.adapters.common import HttpSettings
from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_ORG, create_app
from soar_ext.adapters.simulators.common import SimulatorServer
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.audit_store import read_entries
from soar_ext.clock import FixedClock
from soar_ext.config import Config
from soar_ext.context import Operator
from soar_ext.db.codes import ApprovalStatus, GuaranteeType, Relation
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import verification_snapshots, verifications
from soar_ext.db.legacy import applications, families, family_members, legacy_metadata, persons
from soar_ext.db.migrate import upgrade
from soar_ext.hook_payloads import ActionRequest
from soar_ext.hooks import verification
from soar_ext.host import SoarHost
from soar_ext.idnumber import check_char
from soar_ext.secret import Secret

PLUGIN = "verification"
PERSON_ID = "RY0000000001"
GOAL = 1.2
VERIFIER = Operator(id="u101", name="赵核查", roles=frozenset({"verifier"}), district="330106")


def serve_simulator(delays_ms: dict[str, int], id_number: str, port_out: Any, stop: Any) -> None:
    """Child process: the simulator with its per-interface latency; sends its URL, serves until ``stop``."""
    config = SimulatorConfig(interface_latency_ms={code: (ms, ms) for code, ms in delays_ms.items()})
    app = create_app(config=config)
    app.state.sim.set_full_profile(id_number)  # every category answers with records
    server = SimulatorServer(app, name="bigdata")
    port_out.send(server.start())
    stop.wait()
    server.stop()


def latencies_ms(low: int, high: int, seed: int) -> dict[str, int]:
    """A different latency per category, evenly spread over [low, high], in a seeded order."""
    steps = [round(low + (high - low) * i / (len(CATEGORY_CODES) - 1)) for i in range(len(CATEGORY_CODES))]
    random.Random(seed).shuffle(steps)
    return dict(zip(CATEGORY_CODES, steps, strict=True))


def build_database(url: str) -> str:
    """Legacy schema + migrations and one completed household; returns the person's ID number."""
    engine = make_engine(url)
    legacy_metadata.create_all(engine)
    upgrade(url)
    body = "33010619860418003"
    id_number = body + check_char(body)
    with engine.begin() as conn:
        conn.execute(insert(persons).values(ryid=PERSON_ID, xm="陈晓明", sfzh=id_number, csrq=dt.date(1986, 4, 18)))
        conn.execute(insert(families).values(jtid="JT0000000001", sqrid=PERSON_ID, jtrs=1, qx="330106"))
        conn.execute(
            insert(family_members).values(
                gxid="GX0000000001", jtid="JT0000000001", ryid=PERSON_ID, ysqrgx=Relation.SELF, sfzsqr=1
            )
        )
        conn.execute(
            insert(applications).values(
                sqid="SQ0000000001",
                jtid="JT0000000001",
                bzlx=GuaranteeType.PUBLIC_RENTAL,
                spzt=ApprovalStatus.COMPLETED,
                bjrq=dt.date(2024, 3, 15),
            )
        )
    engine.dispose()
    return id_number


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="timed verifications")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (secrets, connections)")
    parser.add_argument("--loop-rounds", type=int, default=3, help="rounds that also time the one-at-a-time loop")
    parser.add_argument("--low-ms", type=int, default=50, help="latency of the fastest category")
    parser.add_argument("--high-ms", type=int, default=300, help="latency of the slowest category")
    parser.add_argument("--generation", type=int, choices=(1, 2), default=1, help="gateway generation")
    parser.add_argument("--budget", type=float, default=5.0, help="[plugins.verification] time_budget_seconds")
    parser.add_argument("--seed", type=int, default=9, help="order of the latencies over the categories")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wall = time.perf_counter()
    delays_ms = latencies_ms(args.low_ms, args.high_ms, args.seed)
    slowest = max(delays_ms, key=lambda code: delays_ms[code])
    with tempfile.TemporaryDirectory(prefix="soar-ext-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'soar.db'}"
        id_number = build_database(url)
        engine = make_engine(url)
        processes = multiprocessing.get_context("spawn")
        receive_url, send_url = processes.Pipe(duplex=False)
        stop = processes.Event()
        simulator = processes.Process(target=serve_simulator, args=(delays_ms, id_number, send_url, stop), daemon=True)
        simulator.start()
        if not receive_url.poll(30):
            raise RuntimeError("the simulator process did not start")
        base_url = receive_url.recv()
        http = HttpSettings(
            base_url=base_url,
            connect_timeout=1.0,
            read_timeout=2.0,
            rate_per_second=1000.0,  # the limiter must not be what is measured
            burst=100,
            retry_attempts=1,  # a retry would hide a failure as extra latency
        )
        settings = BigDataSettings(
            http=http,
            app_key=DEFAULT_APP_KEY,
            app_secret=Secret(DEFAULT_APP_SECRET),
            generation=args.generation,
            org=DEFAULT_ORG,
        )
        client = BigDataClient(settings)
        config = Config(
            plugin_modes={PLUGIN: "on"},
            plugin_settings={PLUGIN: {"time_budget_seconds": args.budget}},
            audit={"digest_secret": Secret(secrets.token_hex(16))},
        )
        registry = AdapterRegistry(config, instances={"bigdata": client})
        host = SoarHost(config, plugins=[(PLUGIN, verification)], load_entry_points=False, adapters=registry)
        clock = FixedClock(dt.datetime(2024, 7, 1, 9, 0))
        try:
            print("verification_latency — full 核查 (12 categories) vs its slowest single category")
            print(
                f"simulator {base_url} (own process), gateway generation {args.generation}, latency per category "
                f"{args.low_ms}–{args.high_ms} ms:"
            )
            print(
                "  " + ", ".join(f"{CATEGORIES[c].label} {delays_ms[c]}" for c in sorted(delays_ms, key=delays_ms.get))
            )
            print(f"slowest category: {CATEGORIES[slowest].label} ({delays_ms[slowest]} ms); budget {args.budget:g} s")
            print(
                f"rounds: {args.warmup} warm-up + {args.runs} timed; "
                f"client limiter {http.rate_per_second:g}/s, burst {http.burst}"
            )

            def full() -> tuple[float, float, Any]:
                clock.advance(minutes=10)
                with engine.begin() as conn:
                    ctx = host.context(VERIFIER, conn, clock=clock)
                    request = ActionRequest(verification.ACTION_RUN, PERSON_ID, {"purpose": "基准测试"}, plugin=PLUGIN)
                    t0, c0 = time.perf_counter(), time.process_time()
                    result = host.action(ctx, request)
                    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000, result

            def single() -> float:
                t0 = time.perf_counter()
                registry.run(client.query(slowest, id_number, "陈晓明", purpose="基准测试"), timeout=10)
                return (time.perf_counter() - t0) * 1000

            def one_at_a_time() -> float:
                t0 = time.perf_counter()
                for code in CATEGORY_CODES:
                    registry.run(client.query(code, id_number, "陈晓明", purpose="基准测试"), timeout=10)
                return (time.perf_counter() - t0) * 1000

            fulls, singles, loops, cpus = Series("full"), Series("single"), Series("loop"), Series("cpu")
            problems: list[str] = []
            for n in range(args.warmup + args.runs):
                f_ms, cpu_ms, result = full()
                s_ms = single()
                if not result.ok or result.data.pending:
                    problems.append(f"round {n}: {result.message}")
                if n >= args.warmup:
                    fulls.samples_ms.append(f_ms)
                    cpus.samples_ms.append(cpu_ms)
                    singles.samples_ms.append(s_ms)
                    if n - args.warmup < args.loop_rounds:
                        loops.samples_ms.append(one_at_a_time())
            stats = httpx.get(f"{base_url}/_admin/stats", timeout=5).json()
            calls = int(stats["calls"].get(f"gen{args.generation}:business", 0))
        finally:
            registry.close()
            stop.set()
            simulator.join(10)
        with engine.connect() as conn:
            stored = {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (verifications, verification_snapshots)
            }
        audit = read_entries(host.audit_store(url), action=verification.AUDIT_QUERY, limit=10_000)
        stored["sx_audit_log"] = len(audit)
        unfinished = sum(1 for entry in audit if entry.unfinished)
        engine.dispose()

    rounds = args.warmup + args.runs
    print(f"\n{'series':<44} {'n':>3} {'p50 ms':>9} {'p95 ms':>9} {'min ms':>9} {'max ms':>9}")
    for series, label in (
        (singles, f"slowest category alone ({CATEGORIES[slowest].label})"),
        (fulls, "full verification via SoarHost.action (12)"),
        (loops, "twelve queries one at a time"),
    ):
        s = series.samples_ms
        if s:
            print(f"{label:<44} {len(s):>3} {series.p50:9.1f} {series.p95:9.1f} {min(s):9.1f} {max(s):9.1f}")
    ratio_p50, ratio_p95 = fulls.p50 / singles.p50, fulls.p95 / singles.p95
    ok = ratio_p50 <= GOAL and ratio_p95 <= GOAL and not problems
    print("\n" + "=" * 88)
    print(
        f"SUMMARY — 核查 of 12 categories at {args.low_ms}–{args.high_ms} ms each, "
        f"gateway generation {args.generation}, {args.runs} verifications"
    )
    print(f"slowest category alone   p50 {singles.p50:7.1f} ms  p95 {singles.p95:7.1f} ms")
    print(f"full verification        p50 {fulls.p50:7.1f} ms  p95 {fulls.p95:7.1f} ms")
    if loops.samples_ms:
        print(
            f"one at a time            p50 {loops.p50:7.1f} ms  (sum of latencies {sum(delays_ms.values())} ms, "
            f"{len(loops.samples_ms)} rounds)"
        )
    print(f"ratio full ÷ slowest     p50 {ratio_p50:5.2f}×  p95 {ratio_p95:5.2f}×   (goal ≤ {GOAL}×)")
    print(
        f"CPU of this process per full verification p50 {cpus.p50:.1f} ms (client, audit, store, page; the "
        "simulator runs in its own process): on a busy machine that CPU time stretches the wall time"
    )
    if loops.samples_ms:
        print(f"ratio one-at-a-time ÷ full  p50 {loops.p50 / fulls.p50:5.2f}×")
    expected_calls = rounds * (len(CATEGORY_CODES) + 1) + len(loops.samples_ms) * len(CATEGORY_CODES)
    print(
        f"stored: {stored['sx_verification']} verifications, {stored['sx_verification_snapshot']} snapshots, "
        f"{stored['sx_audit_log']} audit entries, {unfinished} unfinished (expected {rounds}, {rounds * 12}, "
        f"{rounds * 12}, 0); "
        f"simulator business calls {calls} (expected {expected_calls})"
    )
    if problems:
        print("PROBLEMS: " + "; ".join(problems))
    print(f"goal (full verification ≤ {GOAL}× its slowest category): {'met' if ok else 'NOT MET'}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"total wall time {time.perf_counter() - wall:.1f} s; load average at the end {load} ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
