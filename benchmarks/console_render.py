"""Server-side render time of every console screen at 20,000 households, beside a 2,000-household run.

Builds two embedded SQLite databases in a temporary folder (``init_embedded``, seed 20190601),
serves the console on each (with the simulators on loopback, as ``make demo`` does) and asks
every screen ``--runs`` times over HTTP. The figure is the server's own time for the answer
(``Server-Timing: app;dur=…``: routing, SOAR's transaction with every hook call, the queries,
the template and the ID-masking guard), not the client's. Prints p50 / p95 / max per screen at
both sizes and the ratio of the p50s (pages and capped totals should not grow with the data).

    .venv/bin/python benchmarks/console_render.py                  # 20,000 vs 2,000 households
    .venv/bin/python benchmarks/console_render.py --households 5000 --runs 10
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from soar_ext.console.tour import (
    batch_with_houses,
    demo_console,
    first_project,
    person_with_family,
)
from soar_ext.db.codes import AllocationKind
from soar_ext.db.embedded import init_embedded
from soar_ext.db.legacy import contracts

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMING = re.compile(r"app;dur=([0-9.]+)")

Screen = tuple[str, str, str]  # (label, operator, path)


def screens(lookup: Callable[[Callable[[Any], Any]], Any]) -> list[Screen]:
    person_id, _ = lookup(person_with_family)
    contract = lookup(lambda c: c.execute(select(func.min(contracts.c.htid))).scalar_one())
    project = lookup(first_project)
    adjustment = lookup(lambda c: batch_with_houses(c, AllocationKind.ADJUSTMENT))
    selection = lookup(lambda c: batch_with_houses(c, AllocationKind.SELECTION))
    clerk, admin = "demo-clerk", "demo-admin"
    return [
        ("首页", clerk, "/"),
        ("合同签订（待签订列表）", clerk, "/contracts"),
        ("合同详情", clerk, f"/contracts/{contract}"),
        ("换房平台·验房列表", clerk, "/exchange"),
        ("换房业务查询", clerk, "/exchange/business"),
        ("换房业务查询·验房状态=待验房", clerk, "/exchange/business?x.inspection_status=00"),
        ("换房业务查询·是否已签合同=否", clerk, "/exchange/business?x.contract_signed=0"),
        ("人员信息查询·姓名=王", clerk, "/persons?q.xm=%E7%8E%8B"),
        ("人员详情", clerk, f"/persons/{person_id}"),
        ("配建项目", clerk, "/projects"),
        ("配建项目详情", clerk, f"/projects/{project}"),
        ("调房划拨·批次列表", clerk, "/allocation/adjustment"),
        ("调房划拨·批次页面", clerk, f"/allocation/adjustment/{adjustment}"),
        ("选房划拨·批次页面", clerk, f"/allocation/selection/{selection}"),
        ("房源查询", clerk, "/housing"),
        ("房源查询·空置", clerk, "/housing?q.fyzt=01"),
        ("批量作业", clerk, "/jobs"),
        ("插件状态", admin, "/plugins"),
        ("审计日志", admin, "/audit"),
    ]


def login(client: httpx.Client, operator: str) -> None:
    token = CSRF.search(client.get("/").text)
    assert token, "no CSRF token on the home page"
    answer = client.post("/operator", data={"csrf_token": token.group(1), "operator": operator, "return_to": "/"})
    assert answer.status_code == 303, answer.status_code


def measure(households: int, workdir: Path, runs: int, warmup: int) -> dict[str, list[float]]:
    url = f"sqlite:///{workdir / f'console_{households}.db'}"
    started = time.perf_counter()
    init_embedded(url, households=households, seed=20190601)
    print(f"  {households:,} households built in {time.perf_counter() - started:.1f} s", flush=True)
    times: dict[str, list[float]] = {}
    with demo_console(url) as (base_url, runtime):

        def lookup(finder: Callable[[Any], Any]) -> Any:
            with runtime.engine.connect() as conn:
                return finder(conn)

        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            current = None
            for label, operator, path in screens(lookup):
                if operator != current:
                    login(client, operator)
                    current = operator
                samples = []
                for i in range(warmup + runs):
                    answer = client.get(path)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{label} {path}: HTTP {answer.status_code}")
                    match = TIMING.search(answer.headers.get("server-timing", ""))
                    if match is None:
                        raise RuntimeError(f"{label}: no Server-Timing header")
                    if i >= warmup:
                        samples.append(float(match.group(1)))
                times[label] = samples
    return times


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--compare", type=int, default=2_000, help="the smaller database measured beside it")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="console-bench-"))
    try:
        print(f"console page render (server-side), {args.runs} runs per screen after {args.warmup} warm-up")
        big = measure(args.households, workdir, args.runs, args.warmup)
        small = measure(args.compare, workdir, args.runs, args.warmup)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    head = f"{args.households:,} 户"
    print()
    print(f"{'screen':<30} {head + ' p50':>12} {'p95':>8} {'max':>8} {f'{args.compare:,} 户 p50':>12} {'ratio':>7}")
    for label, samples in big.items():
        p50, p95 = pct(samples, 50), pct(samples, 95)
        small_p50 = pct(small[label], 50)
        ratio = p50 / small_p50 if small_p50 else float("nan")
        print(f"{label:<30} {p50:>10.1f}ms {p95:>6.1f}ms {max(samples):>6.1f}ms {small_p50:>10.1f}ms {ratio:>6.2f}x")
    worst = max(big, key=lambda k: pct(big[k], 95))
    print(f"\nslowest p95 at {args.households:,} households: {worst} {pct(big[worst], 95):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
