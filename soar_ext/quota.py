"""Shared upstream quota: the workers of all SOAR nodes together stay under one app's quota.

An upstream quota (calls per second, calls in flight) belongs to the app, not to a node. Every
worker that calls such an upstream joins a *pool* in ``sx_worker_lease`` (SOAR's database; no
other broker) and takes a share of the pool's rate and concurrency, recomputed at each
heartbeat; a worker that stops renewing its lease is dead after ``ttl_seconds`` and its share
goes back to the others.

Three pieces:

- :class:`QuotaMembership` — the table side (synchronous SQLAlchemy): join, heartbeat, leave.
- :class:`QuotaLimiter` — what a worker's upstream calls wait on (asyncio): pacing at the
  current rate share (an ``aiolimiter`` leaky bucket), a concurrency cap, a pause for quota
  answers, and a validity time after which it lets nothing through until the next heartbeat.
- :class:`SharedQuota` — ``async with SharedQuota(engine, settings) as limiter:`` joins, renews
  the membership in a thread every ``heartbeat_seconds``, feeds the limiter and leaves.

The arithmetic (documented with its limits in docs/work-queue.md):

- A heartbeat locks the pool's rows (``SELECT … ORDER BY worker_id FOR UPDATE``; on SQLite the
  write lock), so heartbeats of one pool are serialised. Live workers are those whose
  ``expires_at`` has not passed; expired rows are deleted.
- With ``n`` live workers and a cap of ``C`` concurrent calls, ``a = min(n, C)`` workers (the
  first by worker id) are active. An active worker's *fair* share is ``R / a`` calls/s and
  ``C // a`` calls in flight (one more for the first ``C % a``); inactive ones get 0.
- A worker takes ``min(fair, R − Σ others' committed shares)`` (same for concurrency), so the
  committed shares never add up to more than the quota: a newcomer starts at what is free
  (often 0) and reaches its fair share once the others have given theirs up at their next
  heartbeat — within two heartbeat intervals.
- A lower share is applied to the limiter *before* it is committed, a higher one after, so
  what the limiters let through never exceeds what the table says.
- A worker uses its share only until ``ttl − clock_skew`` seconds after its last successful
  heartbeat began (monotonic clock); others count it live until its ``expires_at`` (≥ ttl after
  that). A worker cut off from the database therefore stops before its share is handed out.
- Each limiter lets at most ``burst + rate·T`` calls through in any window of ``T`` seconds, so
  the pool makes at most ``n·burst + R·T`` calls in ``T`` seconds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any

from aiolimiter import AsyncLimiter
from sqlalchemy import Engine, delete, insert, select, update

from soar_ext.clock import Clock, beijing_now
from soar_ext.db.extension import worker_leases
from soar_ext.db.portability import clip_utf8
from soar_ext.db.work_queue import new_worker_id

log = logging.getLogger(__name__)

_RATE_STEP = Decimal("0.001")  # rate_share is NUMERIC(12, 3)


# --------------------------------------------------------------------------- settings and shares


@dataclass(frozen=True)
class QuotaSettings:
    """One pool's quota and how its members keep their leases.

    - ``pool``: the quota's name, shared by every worker calling under it (``bigdata.hukou``).
    - ``rate``: calls per second for all workers of all nodes together (set it a little under
      the upstream's quota, see docs/work-queue.md).
    - ``concurrency``: calls in flight for all workers together.
    - ``heartbeat_seconds``: how often a member renews its lease and recomputes its share.
    - ``ttl_seconds``: a member not renewed for this long is dead and its share is reclaimed.
    - ``clock_skew_seconds``: how far node clocks may differ; a member stops using its share
      this long before the others could count it dead.
    - ``burst``: calls a member may make at once after a pause in its traffic (≥ 1).
    """

    pool: str
    rate: float
    concurrency: int
    heartbeat_seconds: float = 2.0
    ttl_seconds: int = 10
    clock_skew_seconds: float = 1.0
    burst: int = 1

    def __post_init__(self) -> None:
        if not self.pool or len(self.pool.encode()) > 60:
            raise ValueError("quota pool name must be 1 to 60 bytes")
        if not (isinstance(self.rate, int | float) and math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"quota rate must be a positive number of calls per second, got {self.rate!r}")
        if not (isinstance(self.concurrency, int) and self.concurrency >= 1):
            raise ValueError(f"quota concurrency must be a whole number ≥ 1, got {self.concurrency!r}")
        if not (isinstance(self.burst, int) and self.burst >= 1):
            raise ValueError(f"quota burst must be a whole number ≥ 1, got {self.burst!r}")
        if not (self.heartbeat_seconds > 0 and self.clock_skew_seconds >= 0):
            raise ValueError("quota heartbeat_seconds must be > 0 and clock_skew_seconds ≥ 0")
        if not (
            isinstance(self.ttl_seconds, int)
            and self.ttl_seconds > 2 * self.heartbeat_seconds + self.clock_skew_seconds
        ):
            raise ValueError(
                "quota ttl_seconds must be a whole number greater than 2 × heartbeat_seconds + clock_skew_seconds "
                "(one late heartbeat must not cost a worker its share)"
            )

    @classmethod
    def from_mapping(cls, pool: str, section: Mapping[str, Any], prefix: str = "quota_") -> QuotaSettings:
        """Settings from a config section: ``quota_per_second`` and ``quota_concurrency`` (required),
        ``quota_heartbeat_seconds``, ``quota_ttl_seconds``, ``quota_clock_skew_seconds``, ``quota_burst``."""
        keys = {
            "rate": ("per_second", float),
            "concurrency": ("concurrency", int),
            "heartbeat_seconds": ("heartbeat_seconds", float),
            "ttl_seconds": ("ttl_seconds", int),
            "clock_skew_seconds": ("clock_skew_seconds", float),
            "burst": ("burst", int),
        }
        values: dict[str, Any] = {}
        for field_name, (key, kind) in keys.items():
            raw = section.get(prefix + key)
            if raw is None:
                if field_name in ("rate", "concurrency"):
                    raise ValueError(f"missing setting {prefix}{key} for quota pool {pool}")
                continue
            try:
                values[field_name] = kind(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{prefix}{key} must be a number, got {raw!r}") from None
        return cls(pool=pool, **values)


@dataclass(frozen=True)
class QuotaShare:
    """A member's share: calls/s, calls in flight, live members seen, and until when it may be used.

    ``valid_until`` is a :func:`time.monotonic` value.
    """

    rate: float
    concurrency: int
    live_workers: int
    valid_until: float

    @property
    def usable(self) -> bool:
        return self.rate > 0 and self.concurrency > 0


@dataclass(frozen=True)
class WorkerLease:
    """One row of ``sx_worker_lease`` (for status displays)."""

    worker_id: str
    pool: str
    node: str | None
    pid: int | None
    label: str | None
    rate_share: float
    conc_share: int
    live_workers: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    expires_at: dt.datetime


def fair_share(settings: QuotaSettings, me: str, live: Sequence[tuple[str, Decimal, int]]) -> tuple[Decimal, int]:
    """The share ``me`` may take now, given the live members ``(worker_id, rate_share, conc_share)``.

    ``live`` includes ``me``. See the module docstring for the rule.
    """
    ids = sorted(worker_id for worker_id, _rate, _conc in live)
    active = min(len(ids), settings.concurrency)
    rank = ids.index(me)
    if rank >= active:
        return Decimal(0), 0
    total_rate = Decimal(str(settings.rate))
    fair_rate = (total_rate / active).quantize(_RATE_STEP, ROUND_DOWN)
    fair_conc = settings.concurrency // active + (1 if rank < settings.concurrency % active else 0)
    others_rate = sum((rate for worker_id, rate, _ in live if worker_id != me), Decimal(0))
    others_conc = sum(conc for worker_id, _, conc in live if worker_id != me)
    rate = max(Decimal(0), min(fair_rate, total_rate - others_rate)).quantize(_RATE_STEP, ROUND_DOWN)
    conc = max(0, min(fair_conc, settings.concurrency - others_conc))
    return rate, conc


# --------------------------------------------------------------------------- the table side


class QuotaMembership:
    """A worker's row in ``sx_worker_lease`` for one pool (synchronous; one short transaction per call).

    ``apply`` (given to :meth:`join` / :meth:`heartbeat`) receives each new share at the right
    moment: a lower share before it is committed, a higher one after. If it raises before the
    commit, the transaction rolls back and the old share stays in force.
    """

    def __init__(
        self,
        engine: Engine,
        settings: QuotaSettings,
        *,
        worker_id: str | None = None,
        label: str | None = None,
        clock: Clock = beijing_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.worker_id = worker_id or new_worker_id()
        self.label = clip_utf8(label, 200)
        self.clock = clock
        self.monotonic = monotonic
        self.share = QuotaShare(0.0, 0, 0, -math.inf)

    def _row(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "pool": self.settings.pool,
            "node": clip_utf8(socket.gethostname(), 100),
            "pid": os.getpid(),
            "label": self.label,
            "rate_share": Decimal(0),
            "conc_share": 0,
            "live_workers": 0,
            "started_at": now,
            "heartbeat_at": now,
            "expires_at": now + dt.timedelta(seconds=self.settings.ttl_seconds),
        }

    def join(self, apply: Callable[[QuotaShare], None] | None = None) -> QuotaShare:
        """Register with no share (committed), then take a share with a first heartbeat."""
        with self.engine.begin() as conn:
            conn.execute(insert(worker_leases).values(**self._row(self.clock())))
        return self.heartbeat(apply)

    def heartbeat(self, apply: Callable[[QuotaShare], None] | None = None) -> QuotaShare:
        """Renew the lease, drop dead members and recompute this worker's share; returns it."""
        t = worker_leases
        s = self.settings
        started = self.monotonic()
        old = self.share
        applied: QuotaShare | None = None
        with self.engine.begin() as conn:
            now = self.clock()
            if conn.dialect.name == "sqlite":
                # take SQLite's write lock with the first statement (a read first could not upgrade)
                conn.execute(update(t).where(t.c.worker_id == self.worker_id).values(heartbeat_at=now))
            rows = conn.execute(
                select(t.c.worker_id, t.c.rate_share, t.c.conc_share, t.c.expires_at)
                .where(t.c.pool == s.pool)
                .order_by(t.c.worker_id)
                .with_for_update()
            ).all()
            if not any(row.worker_id == self.worker_id for row in rows):
                # counted dead and removed by another member (e.g. the database was out of reach): rejoin
                conn.execute(insert(worker_leases).values(**self._row(now)))
                rows.append(_Fresh(self.worker_id))
            live = [row for row in rows if row.worker_id == self.worker_id or row.expires_at >= now]
            live_ids = {row.worker_id for row in live}
            dead = [row.worker_id for row in rows if row.worker_id not in live_ids]
            if dead:
                conn.execute(delete(t).where(t.c.pool == s.pool, t.c.worker_id.in_(dead)))
            rate, conc = fair_share(
                s, self.worker_id, [(row.worker_id, Decimal(row.rate_share), int(row.conc_share)) for row in live]
            )
            conn.execute(
                update(t)
                .where(t.c.worker_id == self.worker_id)
                .values(
                    rate_share=rate,
                    conc_share=conc,
                    live_workers=len(live),
                    heartbeat_at=now,
                    expires_at=now + dt.timedelta(seconds=s.ttl_seconds),
                )
            )
            new = QuotaShare(float(rate), conc, len(live), started + s.ttl_seconds - s.clock_skew_seconds)
            if apply is not None and (new.rate < old.rate or new.concurrency < old.concurrency):
                applied = replace(old, rate=min(old.rate, new.rate), concurrency=min(old.concurrency, new.concurrency))
                apply(applied)
        self.share = new
        if apply is not None and applied != new:
            apply(new)
        return new

    def leave(self) -> None:
        """Remove this worker's row: its share is free for the others at their next heartbeat."""
        with self.engine.begin() as conn:
            conn.execute(delete(worker_leases).where(worker_leases.c.worker_id == self.worker_id))
        self.share = QuotaShare(0.0, 0, 0, -math.inf)

    def members(self) -> list[WorkerLease]:
        """Every row of this pool, live or not yet cleaned up, by worker id."""
        return pool_members(self.engine, self.settings.pool)


def pool_members(engine: Engine, pool: str | None = None) -> list[WorkerLease]:
    """Rows of ``sx_worker_lease`` (one pool, or all), ordered by pool and worker id."""
    t = worker_leases
    stmt = select(t).order_by(t.c.pool, t.c.worker_id)
    if pool is not None:
        stmt = stmt.where(t.c.pool == pool)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        WorkerLease(**{**row, "rate_share": float(row["rate_share"]), "conc_share": int(row["conc_share"])})
        for row in rows
    ]


@dataclass(frozen=True)
class _Fresh:
    """A just re-inserted own row, as the heartbeat's SELECT would have returned it."""

    worker_id: str
    rate_share: Decimal = Decimal(0)
    conc_share: int = 0
    expires_at: dt.datetime = dt.datetime.max


# --------------------------------------------------------------------------- the limiter


def _carry_level(old: AsyncLimiter, new: AsyncLimiter) -> None:
    """Start ``new`` as full as ``old`` is now, so that a rate change is not a fresh burst.

    aiolimiter cannot change a rate in place, and a new bucket starts empty: at every change of
    share (a heartbeat) each worker could otherwise send ``burst`` extra calls. The bucket's level
    is aiolimiter's private state; should a release rename it, the new bucket starts empty as
    before (one burst per change, the worst case docs/work-queue.md allows for).
    """
    with contextlib.suppress(AttributeError, RuntimeError):
        old._leak()  # drain what has leaked out since the last call (needs the running loop)
        new._level = min(float(old._level), float(new.max_rate))
        new._last_check = old._last_check


class QuotaLimiter:
    """What a worker's upstream calls wait on; use it from one event loop.

    - ``await limiter.acquire()`` before each upstream request (also each retry): waits while
      paused or while the share is not valid, then for the pace of the current rate share.
      It fits wherever an adapter takes a limiter with an ``acquire()`` coroutine.
    - ``async with limiter.slot():`` holds one of the worker's concurrent calls.
    - ``async with limiter.call():`` both, for one request.
    - ``limiter.pause(seconds)`` after a quota answer (HTTP 429, code 18, ``Retry-After``):
      every call of this worker waits until the pause is over.

    :meth:`set_share` changes rate and concurrency at run time; calls already waiting follow
    the new values. Pacing is an ``aiolimiter.AsyncLimiter`` of capacity ``burst`` draining at
    ``rate``; since that library cannot change its rate in place, a new one replaces it and
    waiters move over.
    """

    def __init__(
        self,
        rate: float = 0.0,
        concurrency: int = 0,
        *,
        burst: int = 1,
        valid_until: float = math.inf,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.burst = burst
        self._monotonic = monotonic
        self._rate = 0.0
        self._concurrency = 0
        self._pacer: AsyncLimiter | None = None
        self._valid_until = valid_until
        self._paused_until = -math.inf
        self._in_flight = 0
        self._slot_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._changed = asyncio.Event()
        self.set_share(rate, concurrency, valid_until=valid_until)

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def concurrency(self) -> int:
        return self._concurrency

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def set_share(self, rate: float, concurrency: int, *, valid_until: float = math.inf) -> None:
        """Use ``rate`` calls/s and ``concurrency`` calls in flight until ``valid_until`` (monotonic)."""
        if rate < 0 or concurrency < 0:
            raise ValueError("rate and concurrency must not be negative")
        if rate != self._rate:
            self._rate = float(rate)
            pacer = AsyncLimiter(self.burst, self.burst / rate) if rate > 0 else None
            if pacer is not None and self._pacer is not None:
                _carry_level(self._pacer, pacer)
            self._pacer = pacer
        self._concurrency = int(concurrency)
        self._valid_until = valid_until
        self._hand_over_slots()
        self._poke()

    def apply(self, share: QuotaShare) -> None:
        """:meth:`set_share` from a :class:`QuotaShare`."""
        self.set_share(share.rate, share.concurrency, valid_until=share.valid_until)

    def pause(self, seconds: float) -> None:
        """Hold every call of this worker for ``seconds`` from now (a longer pause already set wins)."""
        if math.isfinite(seconds) and seconds > 0:
            self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 if none)."""
        return max(0.0, self._paused_until - self._monotonic())

    @property
    def valid(self) -> bool:
        """Whether the share is still valid (a heartbeat renewed it in time)."""
        return self._monotonic() < self._valid_until

    async def acquire(self) -> None:
        """Wait until this worker may send one upstream request."""
        while True:
            now = self._monotonic()
            if now >= self._valid_until:
                await self._wait_change(0.5)  # until a heartbeat renews the share
                continue
            if now < self._paused_until:
                await self._wait_change(self._paused_until - now)
                continue
            pacer, changed = self._pacer, self._changed
            if pacer is None:
                await self._wait_change(None)
                continue
            if pacer.has_capacity():
                await pacer.acquire()
            elif not await self._unless_changed(pacer.acquire(), changed):
                continue
            now = self._monotonic()
            if pacer is self._pacer and now < self._valid_until and now >= self._paused_until:
                return

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of this worker's concurrent calls for the duration of the block."""
        await self._take_slot()
        try:
            yield
        finally:
            self._in_flight -= 1
            self._hand_over_slots()

    @contextlib.asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """A slot and a paced permit: ``async with limiter.call(): await client.query(...)``."""
        async with self.slot():
            await self.acquire()
            yield

    # ------------------------------------------------------------------ internals

    def _poke(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    @staticmethod
    async def _unless_changed(coro: Any, changed: asyncio.Event) -> bool:
        """Run ``coro``; give up (False) if ``changed`` fires first."""
        task = asyncio.ensure_future(coro)
        waiter = asyncio.ensure_future(changed.wait())
        try:
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()
        return task in done and not task.cancelled() and task.exception() is None

    async def _take_slot(self) -> None:
        if self._in_flight < self._concurrency and not self._slot_waiters:
            self._in_flight += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(future)
        try:
            await future  # the releasing call hands its slot over (in_flight already counted)
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._in_flight -= 1
                self._hand_over_slots()
            else:
                with contextlib.suppress(ValueError):
                    self._slot_waiters.remove(future)
            raise

    def _hand_over_slots(self) -> None:
        while self._slot_waiters and self._in_flight < self._concurrency:
            future = self._slot_waiters.popleft()
            if future.done():
                continue
            self._in_flight += 1
            future.set_result(None)


# --------------------------------------------------------------------------- the glue


class SharedQuota:
    """Membership and limiter together for one asyncio worker.

    ::

        async with SharedQuota(engine, settings, label="户籍核查 job 42") as limiter:
            async with limiter.call():
                await client.query(...)

    Entering joins the pool (in a thread: the database calls are synchronous) and starts a
    task that renews the membership every ``heartbeat_seconds``; a failed heartbeat is logged
    and retried, and the limiter stops letting calls through once the share's validity lapses.
    Leaving stops the limiter, then deletes the row.
    """

    def __init__(
        self,
        engine: Engine,
        settings: QuotaSettings,
        *,
        worker_id: str | None = None,
        label: str | None = None,
        clock: Clock = beijing_now,
    ) -> None:
        self.settings = settings
        self.membership = QuotaMembership(engine, settings, worker_id=worker_id, label=label, clock=clock)
        self.limiter = QuotaLimiter(burst=settings.burst, valid_until=-math.inf)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def worker_id(self) -> str:
        return self.membership.worker_id

    @property
    def share(self) -> QuotaShare:
        return self.membership.share

    async def __aenter__(self) -> QuotaLimiter:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.membership.join, self._apply_from_thread)
        self._task = asyncio.create_task(self._renew(), name=f"quota heartbeat {self.settings.pool}")
        return self.limiter

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.limiter.set_share(0.0, 0, valid_until=-math.inf)
        try:
            await asyncio.to_thread(self.membership.leave)
        except Exception:
            log.warning("共享配额 %s：退出时删除租约失败，将在租约到期后自动失效", self.settings.pool, exc_info=True)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await asyncio.to_thread(self.membership.heartbeat, self._apply_from_thread)
            except Exception:
                log.warning("共享配额 %s：心跳失败，稍后重试", self.settings.pool, exc_info=True)

    def _apply_from_thread(self, share: QuotaShare) -> None:
        """Apply ``share`` in the limiter's loop and wait until it is in force."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._apply(share), self._loop)
        future.result(timeout=self.settings.ttl_seconds)

    async def _apply(self, share: QuotaShare) -> None:
        self.limiter.apply(share)
