"""The shared quota: shares from the lease table, the asyncio limiter, and workers sharing one rate."""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from soar_ext.clock import FixedClock
from soar_ext.quota import (
    QuotaLimiter,
    QuotaMembership,
    QuotaSettings,
    QuotaShare,
    SharedQuota,
    fair_share,
    pool_members,
)
from tests.soar_env import soar_database

REPO = Path(__file__).resolve().parents[1]
T0 = dt.datetime(2024, 7, 1, 9, 0, 0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'soar.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    eng = soar_database(url)
    yield eng
    eng.dispose()


def settings(**changes: object) -> QuotaSettings:
    values: dict[str, object] = {"pool": "bigdata.test", "rate": 100.0, "concurrency": 10}
    values.update(changes)
    return QuotaSettings(**values)  # type: ignore[arg-type]


def committed_total(engine: Engine, pool: str = "bigdata.test") -> tuple[float, int]:
    members = pool_members(engine, pool)
    return sum(m.rate_share for m in members), sum(m.conc_share for m in members)


# --------------------------------------------------------------------------- the arithmetic


def test_a_lone_worker_gets_the_whole_quota():
    assert fair_share(settings(), "a", [("a", Decimal(0), 0)]) == (Decimal(100), 10)


def test_a_newcomer_gets_only_what_the_others_left_free():
    live = [("a", Decimal(100), 10), ("b", Decimal(0), 0)]
    assert fair_share(settings(), "b", live) == (Decimal(0), 0)
    assert fair_share(settings(), "a", live) == (Decimal(50), 5)
    assert fair_share(settings(), "b", [("a", Decimal(50), 5), ("b", Decimal(0), 0)]) == (Decimal(50), 5)


def test_shares_are_rounded_down_and_concurrency_remainder_goes_to_the_first():
    live = [(w, Decimal(0), 0) for w in "abc"]
    assert fair_share(settings(rate=100.0, concurrency=10), "a", live) == (Decimal("33.333"), 4)
    assert fair_share(settings(rate=100.0, concurrency=10), "c", live) == (Decimal("33.333"), 3)


def test_workers_beyond_the_concurrency_cap_get_nothing_and_the_others_split_the_rate():
    live = [(w, Decimal(0), 0) for w in "abc"]
    assert fair_share(settings(concurrency=2), "a", live) == (Decimal(50), 1)
    assert fair_share(settings(concurrency=2), "c", live) == (Decimal(0), 0)


def test_settings_are_checked_and_read_from_a_config_section():
    s = QuotaSettings.from_mapping("bigdata.hukou", {"quota_per_second": "200", "quota_concurrency": "20"})
    assert (s.pool, s.rate, s.concurrency) == ("bigdata.hukou", 200.0, 20)
    with pytest.raises(ValueError, match="missing setting quota_per_second"):
        QuotaSettings.from_mapping("p", {"quota_concurrency": 2})
    with pytest.raises(ValueError, match="positive number"):
        settings(rate=0)
    with pytest.raises(ValueError, match="ttl_seconds"):
        settings(heartbeat_seconds=5.0, ttl_seconds=10)


# --------------------------------------------------------------------------- membership


def test_two_members_converge_to_half_each_without_the_table_ever_exceeding_the_quota(engine):
    clock = FixedClock(T0)
    s = settings()
    a = QuotaMembership(engine, s, worker_id="a" * 32, clock=clock)
    b = QuotaMembership(engine, s, worker_id="b" * 32, clock=clock)
    assert a.join().rate == 100.0
    assert b.join().rate == 0.0  # a still holds everything
    assert committed_total(engine) == (100.0, 10)
    assert a.heartbeat().rate == 50.0
    assert committed_total(engine) == (50.0, 5)
    share = b.heartbeat()
    assert (share.rate, share.concurrency, share.live_workers) == (50.0, 5, 2)
    assert committed_total(engine) == (100.0, 10)
    for _ in range(3):
        clock.advance(seconds=2)
        assert a.heartbeat().rate == b.heartbeat().rate == 50.0
        assert committed_total(engine) == (100.0, 10)


def test_a_member_that_stops_renewing_is_dead_after_the_ttl_and_its_share_returns(engine):
    clock = FixedClock(T0)
    s = settings(ttl_seconds=10)
    a = QuotaMembership(engine, s, worker_id="a" * 32, clock=clock)
    b = QuotaMembership(engine, s, worker_id="b" * 32, clock=clock)
    a.join()
    b.join()
    a.heartbeat()
    b.heartbeat()
    clock.advance(seconds=10)  # b's lease ends now: still counted
    assert a.heartbeat().rate == 50.0
    clock.advance(seconds=1)
    share = a.heartbeat()
    assert (share.rate, share.concurrency, share.live_workers) == (100.0, 10, 1)
    assert [m.worker_id for m in pool_members(engine, s.pool)] == ["a" * 32]  # the dead row is gone

    back = b.heartbeat()  # b comes back: it rejoins with what is free
    assert back.rate == 0.0 and back.live_workers == 2
    assert committed_total(engine) == (100.0, 10)


def test_leaving_frees_the_share_at_the_next_heartbeat(engine):
    clock = FixedClock(T0)
    a = QuotaMembership(engine, settings(), clock=clock)
    b = QuotaMembership(engine, settings(), clock=clock)
    a.join()
    b.join()
    a.heartbeat()
    b.heartbeat()
    b.leave()
    assert a.heartbeat().rate == 100.0


def test_pools_do_not_share(engine):
    a = QuotaMembership(engine, settings(pool="one"))
    b = QuotaMembership(engine, settings(pool="two"))
    assert a.join().rate == b.join().rate == 100.0


def test_a_lower_share_is_applied_before_it_is_committed_and_a_higher_one_after(engine):
    clock = FixedClock(T0)
    a = QuotaMembership(engine, settings(), worker_id="a" * 32, clock=clock)
    b = QuotaMembership(engine, settings(), worker_id="b" * 32, clock=clock)
    seen: list[tuple[float, float]] = []

    def apply(share: QuotaShare) -> None:
        seen.append((share.rate, committed_total(engine)[0]))

    a.join(apply)
    assert seen == [(100.0, 100.0)]  # raise: after the commit
    b.join()
    seen.clear()
    a.heartbeat(apply)
    assert seen[0] == (50.0, 100.0)  # lower: in force while the table still says 100
    assert seen[1:] == [(50.0, 50.0)]  # then renewed (its validity) once committed


def test_a_share_that_cannot_be_applied_is_not_committed(engine):
    clock = FixedClock(T0)
    a = QuotaMembership(engine, settings(), worker_id="a" * 32, clock=clock)
    b = QuotaMembership(engine, settings(), worker_id="b" * 32, clock=clock)
    a.join()
    b.join()

    def refuse(share: QuotaShare) -> None:
        raise RuntimeError("limiter gone")

    with pytest.raises(RuntimeError):
        a.heartbeat(refuse)
    assert {m.worker_id: m.rate_share for m in pool_members(engine, "bigdata.test")}["a" * 32] == 100.0


def test_share_validity_ends_before_others_may_count_the_member_dead(engine):
    ticks = iter([1000.0])
    a = QuotaMembership(engine, settings(ttl_seconds=10, clock_skew_seconds=1.5), monotonic=lambda: next(ticks))
    assert a.join().valid_until == 1000.0 + 10 - 1.5


# --------------------------------------------------------------------------- the limiter


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_limiter_paces_calls_at_its_rate_and_follows_a_rate_change_at_run_time():
    async def scenario() -> tuple[int, int]:
        limiter = QuotaLimiter(20.0, 5)
        end = time.monotonic() + 1.0
        slow = 0
        while time.monotonic() < end:
            await limiter.acquire()
            slow += 1
        limiter.set_share(80.0, 5)
        end = time.monotonic() + 1.0
        fast = 0
        while time.monotonic() < end:
            await limiter.acquire()
            fast += 1
        return slow, fast

    slow, fast = run(scenario())
    assert 10 <= slow <= 22
    assert 40 <= fast <= 82 and fast > 2 * slow


def test_waiting_calls_move_to_a_new_rate_at_once():
    async def scenario() -> float:
        limiter = QuotaLimiter(0.2, 5)  # one call per 5 s
        await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.1)
        assert not waiter.done()
        started = time.monotonic()
        limiter.set_share(50.0, 5)
        await asyncio.wait_for(waiter, 2)
        return time.monotonic() - started

    assert run(scenario()) < 1.0


def test_a_pause_holds_every_call_of_the_worker():
    async def scenario() -> list[float]:
        limiter = QuotaLimiter(1000.0, 10, burst=10)
        started = time.monotonic()
        limiter.pause(0.5)
        done: list[float] = []

        async def one() -> None:
            await limiter.acquire()
            done.append(time.monotonic() - started)

        await asyncio.gather(*(one() for _ in range(5)))
        assert limiter.paused_for() == 0.0
        return done

    assert all(t >= 0.49 for t in run(scenario()))


def test_concurrency_cap_is_kept_and_can_be_raised_at_run_time():
    async def scenario() -> tuple[int, int]:
        limiter = QuotaLimiter(10_000.0, 3, burst=100)
        peak = {"now": 0, "max": 0}

        async def one() -> None:
            async with limiter.call():
                peak["now"] += 1
                peak["max"] = max(peak["max"], peak["now"])
                await asyncio.sleep(0.02)
                peak["now"] -= 1

        await asyncio.gather(*(one() for _ in range(20)))
        first = peak["max"]
        peak["max"] = 0
        limiter.set_share(10_000.0, 6)
        await asyncio.gather(*(one() for _ in range(30)))
        return first, peak["max"]

    assert run(scenario()) == (3, 6)


def test_a_cancelled_slot_waiter_does_not_leak_a_slot():
    async def scenario() -> int:
        limiter = QuotaLimiter(100.0, 1)
        async with limiter.slot():
            waiter = asyncio.create_task(limiter._take_slot())
            await asyncio.sleep(0.01)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        return limiter.in_flight

    assert run(scenario()) == 0


def test_a_share_whose_validity_lapsed_lets_nothing_through_until_renewed():
    async def scenario() -> float:
        limiter = QuotaLimiter(100.0, 5, valid_until=time.monotonic() + 0.1)
        await limiter.acquire()
        await asyncio.sleep(0.15)
        assert not limiter.valid
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.3)
        assert not waiter.done()
        renewed = time.monotonic()
        limiter.set_share(100.0, 5, valid_until=math.inf)
        await asyncio.wait_for(waiter, 1)
        return time.monotonic() - renewed

    assert run(scenario()) < 0.5


def test_rate_zero_waits_and_negative_values_are_refused():
    async def scenario() -> bool:
        limiter = QuotaLimiter(0.0, 5)
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.1)
        blocked = not waiter.done()
        limiter.set_share(10.0, 5)
        await asyncio.wait_for(waiter, 1)
        return blocked

    assert run(scenario())
    with pytest.raises(ValueError):
        QuotaLimiter(-1.0, 1)


# --------------------------------------------------------------------------- workers sharing one quota


def _run_worker(engine: Engine, s: QuotaSettings, start_after: float, seconds: float, stamps: list[float], t0: float):
    async def main() -> None:
        await asyncio.sleep(start_after)
        async with SharedQuota(engine, s, label="test") as limiter:
            end = time.monotonic() + seconds

            async def caller() -> None:
                while time.monotonic() < end:
                    async with limiter.call():
                        stamps.append(time.monotonic() - t0)
                        await asyncio.sleep(0.01)

            await asyncio.gather(*(caller() for _ in range(6)))

    asyncio.run(main())


def _max_in_window(stamps: list[float], width: float) -> int:
    ordered = sorted(stamps)
    return max((bisect.bisect_left(ordered, t + width) - i for i, t in enumerate(ordered)), default=0)


def test_two_workers_together_stay_under_the_rate_and_each_gets_about_half(engine):
    s = settings(rate=40.0, concurrency=8, heartbeat_seconds=0.5, ttl_seconds=3)
    a_calls: list[float] = []
    b_calls: list[float] = []
    t0 = time.monotonic()
    threads = [
        threading.Thread(target=_run_worker, args=(engine, s, 0.0, 6.0, a_calls, t0)),
        threading.Thread(target=_run_worker, args=(engine, s, 1.5, 4.5, b_calls, t0)),  # joins mid-run
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = a_calls + b_calls
    # in any window of 1 s (joining included): at most rate + one burst per worker
    assert _max_in_window(everything, 1.0) <= 40 + 2 * s.burst
    window = (3.0, 5.5)  # both running, shares settled
    a_in = sum(window[0] <= t < window[1] for t in a_calls)
    b_in = sum(window[0] <= t < window[1] for t in b_calls)
    span = window[1] - window[0]
    assert a_in + b_in <= 40 * span + 2 * s.burst
    assert a_in + b_in >= 0.5 * 40 * span  # loose: the machine may be busy
    assert 0.35 <= a_in / (a_in + b_in) <= 0.65
    assert pool_members(engine, s.pool) == []  # both left


@pytest.mark.postgres
def test_a_worker_killed_with_sigkill_gives_its_share_back_after_its_lease(pg_url):
    engine = soar_database(pg_url)
    s = settings(rate=60.0, concurrency=6, heartbeat_seconds=0.3, ttl_seconds=2)
    mine = QuotaMembership(engine, s)
    mine.join()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.worker_processes", "quota", pg_url, s.pool, "60", "6", "0.3", "2"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout.readline().startswith("joined ")  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        while mine.heartbeat().rate != 30.0 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert mine.share.rate == 30.0 and mine.share.live_workers == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = time.monotonic()
    assert mine.heartbeat().rate == 30.0  # not before the dead worker's lease ends
    while mine.heartbeat().rate != 60.0 and time.monotonic() - killed < 10:
        time.sleep(0.3)
    elapsed = time.monotonic() - killed
    assert mine.share.rate == 60.0 and mine.share.concurrency == 6 and mine.share.live_workers == 1
    assert 1.0 <= elapsed <= s.ttl_seconds + 2.5
    mine.leave()
    engine.dispose()
