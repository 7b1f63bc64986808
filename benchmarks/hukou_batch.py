"""Benchmark: the batch household check (户籍批量核查) against the Big Data simulator, on PostgreSQL.

What is measured, side by side in one run
    The simulator (``soar-ext simulate``, its own process) answers 户籍 queries over loopback HTTP.
    Every check runs the shipped path: ``hukou_check.start`` through ``SoarHost`` (selection,
    list, items) and a :class:`soar_ext.hukou.worker.HukouWorker` (claims, shared quota,
    audited write-ahead, results stored as they arrive), each in a fresh subprocess.

    1. Throughput: simulator at 50–150 ms latency with a quota of 200 calls/s, 20,000 persons,
       one worker with ``quota_per_second`` 198 (the docs' margin: quota − workers × burst):
       achieved persons/s ÷ 200 (goal ≥ 0.97), from the worker's start to its end.
    2. One-at-a-time loop, same simulator and latency: one person after another (query, then one
       UPDATE storing the result), timed on a sample and extrapolated linearly to 20,000 — the
       loop's time per person does not depend on how many follow. Speed-up = extrapolated loop
       time ÷ the batch's time.
    3. Two workers on the same job (two processes) at the same quota: the combined rate, and the
       most persons stored in any one second (from ``checked_at``), both ≤ 200; the simulator's
       quota answers are counted too.
    4. Peak RSS of a fresh process that starts a job of 20,000 and of 100,000 persons and checks
       all of them. To fit the run into minutes these two use the simulator without a quota and
       with 0–2 ms latency (worker quota 1,500 calls/s): memory depends on the number of persons,
       not on the rate. Goal: the 100k figure within 10% of the 20k one.

    Every run ends with a check: every person done exactly once, and the simulator asked nobody
    twice (``/_admin/counts``, ``max_per_subject_interface``).

Data
    A throwaway database ``soar_ext_bench_<hex>`` on ``SOAR_EXT_TEST_PG_URL`` (default
    ``postgresql://postgres@127.0.0.1:5432/postgres``) with 100,000 synthetic persons in 25,000
    four-person families (district 西湖区 for the first 20,000 persons, 滨江区 for the rest), dropped
    at the end unless ``--keep``.

Run: ``.venv/bin/python benchmarks/hukou_batch.py [--persons 20000] [--big 100000] [--sample 150]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import psycopg
from sqlalchemy import func, insert, select, update

from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_ORG
from soar_ext.db.engine import make_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_bench import ADMIN_URL, create_database, drop_database  # beside this script

QUOTA = 200
WORKER_RATE = 198
CONCURRENCY = 40
SMALL_DISTRICT, BIG_DISTRICT = "330106", "330108"
OPERATOR_ID = "bench"
DIGEST = "hukou-benchmark-digest-key-0123456789abcdef"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def id_number(n: int) -> str:
    """The ``n``-th synthetic ID number (unique for n < 20,000,000)."""
    from soar_ext.idnumber import check_char

    born = dt.date(1950, 1, 1) + dt.timedelta(days=n % 20000)
    body = f"330106{born:%Y%m%d}{n // 20000:03d}"
    return body + check_char(body)


def fill(url: str, persons_total: int, small: int) -> None:
    """Legacy schema, migrations and ``persons_total`` persons in four-person families."""
    from soar_ext.db.legacy import applications, families, family_members, legacy_metadata, persons
    from soar_ext.db.migrate import upgrade

    engine = make_engine(url)
    legacy_metadata.create_all(engine)
    upgrade(url)
    chunk = 1000  # families per round of executemany
    with engine.begin() as conn:
        for first in range(0, persons_total // 4, chunk):
            people, links, fams, apps = [], [], [], []
            for f in range(first, min(first + chunk, persons_total // 4)):
                district = SMALL_DISTRICT if f * 4 < small else BIG_DISTRICT
                jtid = f"J{f:07d}"
                for k in range(4):
                    ryid = f"R{f:07d}{k}"
                    people.append({"ryid": ryid, "xm": f"测试{f}{k}", "sfzh": id_number(f * 4 + k)})
                    links.append(
                        {
                            "gxid": f"G{f:07d}{k}",
                            "jtid": jtid,
                            "ryid": ryid,
                            "ysqrgx": f"0{k + 1}",
                            "sfzsqr": 1 if k == 0 else 0,
                            "lkrq": None,
                        }
                    )
                fams.append({"jtid": jtid, "sqrid": f"R{f:07d}0", "jtrs": 4, "qx": district})
                apps.append(
                    {
                        "sqid": f"S{f:07d}",
                        "jtid": jtid,
                        "pzzgzh": f"HZ{f:08d}",
                        "bzlx": "01",
                        "spzt": "09",
                        "qx": district,
                    }
                )
            conn.execute(insert(persons), people)
            conn.execute(insert(families), fams)
            conn.execute(insert(family_members), links)
            conn.execute(insert(applications), apps)
    engine.dispose()


# ------------------------------------------------------------------------------ child processes


def _desk(url: str, sim_url: str, rate: float, concurrency: int):  # type: ignore[no-untyped-def]
    from soar_ext.config import Config
    from soar_ext.context import Operator
    from soar_ext.hooks import hukou_check
    from soar_ext.host import SoarHost
    from soar_ext.secret import Secret

    config = Config(
        database_url=url,
        plugin_settings={
            "hukou_check": {
                "quota_per_second": rate,
                "quota_concurrency": concurrency,
                "claim_batch": 100,
                "queue_lease_seconds": 120,
            }
        },
        adapters={
            "bigdata": {
                "base_url": sim_url,
                "app_key": DEFAULT_APP_KEY,
                "org": DEFAULT_ORG,
                "app_secret": Secret(os.environ["BENCH_BIGDATA_SECRET"]),
                "generation": 1,
                "read_timeout": 5.0,
                "max_connections": concurrency,
            }
        },
        audit={"digest_secret": Secret(DIGEST)},
    )
    host = SoarHost(config, plugins=[("hukou_check", hukou_check)], load_entry_points=False)
    operator = Operator(id=OPERATOR_ID, name="基准测试", roles=frozenset({"batch_checker"}))
    return host, operator


def child(args: argparse.Namespace) -> None:
    """``create`` / ``work`` / ``both``: prints one JSON line with the figures."""
    from soar_ext.hook_payloads import ActionRequest
    from soar_ext.hukou import service

    engine = make_engine(args.url, pool_size=4)
    host, operator = _desk(args.url, args.sim, args.rate, args.concurrency)
    out: dict[str, object] = {}
    job_id = args.job
    if args.mode in ("create", "both"):
        started = time.perf_counter()
        with engine.begin() as conn:
            params = {"districts": args.district} if args.district else {}
            result = host.action(
                host.context(operator, conn), ActionRequest("hukou_check.start", params=params, plugin="hukou_check")
            )
        if not result.ok:
            raise SystemExit(result.message)
        job_id = result.data.job.job_id
        out.update(job=job_id, persons=result.data.job.person_count, create_seconds=time.perf_counter() - started)
    if args.mode in ("work", "both"):
        with engine.connect() as conn:
            ctx = host.context(operator, conn).for_plugin("hukou_check", "on")
        started = time.perf_counter()
        report = service.work(engine, ctx, job_id)
        out.update(
            job=job_id,
            checked=report.checked,
            failed=report.failed,
            quota_answers=report.quota_answers,
            work_seconds=time.perf_counter() - started,
            started=started,
            ended=time.perf_counter(),
        )
    out["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out), flush=True)
    engine.dispose()


def run_child(
    url: str,
    sim: str,
    mode: str,
    *,
    rate: float,
    concurrency: int,
    district: str | None = None,
    job: str | None = None,
    background: bool = False,
):  # type: ignore[no-untyped-def]
    cmd = [
        sys.executable,
        __file__,
        "child",
        "--url",
        url,
        "--sim",
        sim,
        "--mode",
        mode,
        "--rate",
        str(rate),
        "--concurrency",
        str(concurrency),
    ]
    if district:
        cmd += ["--district", district]
    if job:
        cmd += ["--job", job]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if background:
        return proc
    return finish(proc)


def finish(proc: subprocess.Popen) -> dict:  # type: ignore[type-arg]
    stdout, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"child failed ({proc.returncode})")
    return json.loads(stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ the parent


ROOT = Path(__file__).resolve().parents[1]


def admin(sim: str, path: str, body: dict | None = None, method: str = "GET") -> dict:  # type: ignore[type-arg]
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(sim + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else {}


def configure(sim: str, quota: float | None, latency: tuple[int, int]) -> None:
    admin(sim, "/_admin/counts", method="DELETE")
    admin(sim, "/_admin/config", {"quota_per_second": quota, "latency_ms": list(latency), "seed": 1}, "POST")


def sim_check(sim: str) -> tuple[int, int, int]:
    """(persons asked, most asks of one person, quota answers)."""
    counts = admin(sim, "/_admin/counts")
    stats = admin(sim, "/_admin/stats")
    quota = int(stats.get("outcomes", stats).get("quota", 0)) if isinstance(stats, dict) else 0
    return int(counts["subject_count"]), int(counts["max_per_subject_interface"]), quota


def db_check(url: str, job: str) -> tuple[int, int, int]:
    """(done, max attempts, most stored in one second) of a job's items."""
    from soar_ext.db.extension import hukou_items as t

    engine = make_engine(url)
    with engine.connect() as conn:
        done = conn.execute(select(func.count()).where(t.c.job_id == job, t.c.wq_status == "done")).scalar_one()
        attempts = conn.execute(select(func.max(t.c.wq_attempts)).where(t.c.job_id == job)).scalar_one()
        per_second = conn.execute(
            select(func.count())
            .where(t.c.job_id == job)
            .group_by(t.c.checked_at)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return int(done), int(attempts or 0), int(per_second)


def one_at_a_time(url: str, sim: str, sample: int) -> float:
    """Seconds per person of a plain loop: query one person, store the answer, next."""
    import asyncio

    from soar_ext.adapters.bigdata import BigDataClient, BigDataSettings
    from soar_ext.db.legacy import persons
    from soar_ext.secret import Secret

    settings = BigDataSettings.from_config(
        {
            "base_url": sim,
            "app_key": DEFAULT_APP_KEY,
            "org": DEFAULT_ORG,
            "app_secret": Secret(os.environ["BENCH_BIGDATA_SECRET"]),
            "rate_per_second": 10_000,
            "burst": 100,
            "read_timeout": 5.0,
        }
    )
    engine = make_engine(url)
    with engine.connect() as conn:
        people = conn.execute(select(persons.c.ryid, persons.c.sfzh, persons.c.xm).limit(sample)).all()

    async def loop() -> float:
        async with BigDataClient(settings) as client:
            await client.household_registration(people[0].sfzh, people[0].xm, purpose="基准测试预热")
            started = time.perf_counter()
            for person in people:
                result = await client.household_registration(person.sfzh, person.xm, purpose="基准测试")
                with engine.begin() as conn:  # store it, as a loop would
                    label = result.records[0].get("户籍状态") if result.records else "无户籍记录"
                    conn.execute(update(persons).where(persons.c.ryid == person.ryid).values(gzdw=str(label)))
            return (time.perf_counter() - started) / len(people)

    per_person = asyncio.run(loop())
    engine.dispose()
    return per_person


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command")
    c = sub.add_parser("child")
    c.add_argument("--url", required=True)
    c.add_argument("--sim", required=True)
    c.add_argument("--mode", choices=("create", "work", "both"), required=True)
    c.add_argument("--rate", type=float, required=True)
    c.add_argument("--concurrency", type=int, required=True)
    c.add_argument("--district")
    c.add_argument("--job")
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--two-workers", type=int, default=8_000, help="persons of the two-worker run (default 8,000)")
    parser.add_argument("--sample", type=int, default=150, help="persons timed in the one-at-a-time loop")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.command == "child":
        child(args)
        return 0

    from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_SECRET

    os.environ.setdefault("BENCH_BIGDATA_SECRET", DEFAULT_APP_SECRET)
    t0 = time.perf_counter()
    url = create_database(ADMIN_URL)
    port = free_port()
    sim = f"http://127.0.0.1:{port}"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "soar_ext.cli", "simulate", "--only", "bigdata", "--port", f"bigdata={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        fill(url, args.big, args.persons)
        for _ in range(100):
            try:
                admin(sim, "/_admin/config")
                break
            except OSError:
                time.sleep(0.2)
        print(f"household check on PostgreSQL, {os.cpu_count()} CPUs, load {loadavg()}")
        print(f"data: {args.big:,} persons in {args.big // 4:,} families (filled in {time.perf_counter() - t0:.0f} s)")

        # 1. throughput at the quota
        configure(sim, QUOTA, (50, 150))
        main_run = run_child(url, sim, "both", rate=WORKER_RATE, concurrency=CONCURRENCY, district=SMALL_DISTRICT)
        rate = main_run["checked"] / main_run["work_seconds"]
        done, attempts, peak_second = db_check(url, main_run["job"])
        asked, most, quota_answers = sim_check(sim)
        print(f"\n1. one worker, quota {QUOTA}/s, latency 50-150 ms, {main_run['persons']:,} persons")
        print(f"   job created in {main_run['create_seconds']:.1f} s; checked in {main_run['work_seconds']:.1f} s")
        print(f"   achieved {rate:.1f} persons/s = {rate / QUOTA:.3f} of the quota (goal >= 0.97)")
        print(
            f"   check: {done:,} done, max attempts {attempts}, most stored in one second {peak_second}, "
            f"simulator asked {asked:,} persons, at most {most}x each, quota answers {quota_answers}"
        )

        # 2. one-at-a-time loop
        configure(sim, QUOTA, (50, 150))
        per_person = one_at_a_time(url, sim, args.sample)
        loop_seconds = per_person * main_run["persons"]
        print(
            f"\n2. one-at-a-time loop, same latency: {per_person * 1000:.0f} ms per person over a sample of "
            f"{args.sample} (timed), so {main_run['persons']:,} persons would take {loop_seconds / 60:.1f} min "
            f"(extrapolated); speed-up of the batch: {loop_seconds / main_run['work_seconds']:.1f}x"
        )

        # 3. two workers on one job
        configure(sim, QUOTA, (50, 150))
        with psycopg.connect(url) as conn:  # a fresh district for the two-worker job
            conn.execute(
                "UPDATE tpg_gzfsqspb SET qx = '330102' WHERE sqid IN "
                "(SELECT sqid FROM tpg_gzfsqspb WHERE qx = %s ORDER BY sqid LIMIT %s)",
                (BIG_DISTRICT, args.two_workers // 4),
            )
        created = run_child(url, sim, "create", rate=WORKER_RATE, concurrency=CONCURRENCY, district="330102")
        procs = [
            run_child(url, sim, "work", rate=WORKER_RATE, concurrency=CONCURRENCY, job=created["job"], background=True)
            for _ in range(2)
        ]
        results = [finish(p) for p in procs]
        span = max(r["ended"] for r in results) - min(r["started"] for r in results)
        total = sum(r["checked"] for r in results)
        done, attempts, peak_second = db_check(url, created["job"])
        asked, most, quota_answers = sim_check(sim)
        print(f"\n3. two workers, one job of {created['persons']:,} persons, quota {QUOTA}/s shared")
        print(
            f"   checked {', '.join(str(r['checked']) for r in results)} = {total:,} in {span:.1f} s: "
            f"combined {total / span:.1f} persons/s = {total / span / QUOTA:.3f} of the quota (must be <= 1)"
        )
        print(
            f"   most stored in one second {peak_second}; quota answers {quota_answers}; "
            f"check: {done:,} done, max attempts {attempts}, simulator at most {most}x per person"
        )

        # 4. peak RSS, each size in a fresh process
        configure(sim, None, (0, 2))
        small = run_child(url, sim, "both", rate=1500, concurrency=CONCURRENCY, district=SMALL_DISTRICT)
        configure(sim, None, (0, 2))
        big = run_child(url, sim, "both", rate=1500, concurrency=CONCURRENCY)
        print("\n4. peak RSS of a fresh process that starts the job and checks everyone (no quota, 0-2 ms)")
        for r in (small, big):
            print(
                f"   {r['persons']:>7,} persons: {r['max_rss_kib'] / 1024:.1f} MiB "
                f"(created {r['create_seconds']:.0f} s, checked {r['work_seconds']:.0f} s, {r['checked']:,} done)"
            )
        print(f"   ratio {big['max_rss_kib'] / small['max_rss_kib']:.3f} (goal <= 1.10)")
        print(f"\nwhole run {time.perf_counter() - t0:.0f} s; load {loadavg()}")
    finally:
        simulator.terminate()
        simulator.wait(10)
        if args.keep:
            print(f"kept {url}")
        else:
            drop_database(ADMIN_URL, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
