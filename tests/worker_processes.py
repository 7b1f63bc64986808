"""Worker processes the tests start as real subprocesses (and kill with SIGKILL).

``python -m tests.worker_processes claim URL LIMIT LEASE_SECONDS`` claims a batch of ``tq_item``,
prints the claimed ids on one line and then sleeps, holding the lease until killed.

``python -m tests.worker_processes quota URL POOL RATE CONCURRENCY HEARTBEAT TTL`` joins the
quota pool, prints ``joined <worker_id>`` and renews its membership until killed.
"""

from __future__ import annotations

import sys
import time

from soar_ext.db.engine import make_engine
from soar_ext.db.work_queue import QueueSettings, WorkQueue, new_worker_id
from soar_ext.quota import QuotaMembership, QuotaSettings
from tests.queue_fixtures import item_table


def claim_and_hang(url: str, limit: int, lease_seconds: int) -> None:
    engine = make_engine(url)
    queue = WorkQueue(item_table(), QueueSettings(lease_seconds=lease_seconds))
    claimed = queue.claim(engine, new_worker_id(), limit)
    print(" ".join(str(item.key) for item in claimed), flush=True)
    time.sleep(3600)


def quota_member(url: str, pool: str, rate: float, concurrency: int, heartbeat: float, ttl: int) -> None:
    settings = QuotaSettings(
        pool=pool, rate=rate, concurrency=concurrency, heartbeat_seconds=heartbeat, ttl_seconds=ttl
    )
    membership = QuotaMembership(make_engine(url), settings, label="test member")
    membership.join()
    print(f"joined {membership.worker_id}", flush=True)
    while True:
        time.sleep(heartbeat)
        membership.heartbeat()


def main(argv: list[str]) -> None:
    kind, *args = argv
    if kind == "claim":
        claim_and_hang(args[0], int(args[1]), int(args[2]))
    elif kind == "quota":
        quota_member(args[0], args[1], float(args[2]), int(args[3]), float(args[4]), int(args[5]))
    else:
        raise SystemExit(f"unknown worker kind {kind}")


if __name__ == "__main__":
    main(sys.argv[1:])
