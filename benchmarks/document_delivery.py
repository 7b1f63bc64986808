"""配建项目 document delivery: throughput with one worker vs two, and the time from SOAR's commit to 已上传.

Run from the repository root (needs PostgreSQL, ``SOAR_EXT_TEST_PG_URL`` or 127.0.0.1:5432)::

    python benchmarks/document_delivery.py [--documents 1000] [--size-mib 1] [--latency-ms 50]

A throwaway database gets the SOAR schema and soar-ext's migrations; the document-repository
simulator is served on loopback with the given latency on every request (an upload and its
verification are two requests). ``--documents`` received documents of ``--size-mib`` each are
written to the outbox through ``SoarHost.documents_received`` (SOAR's transactions, 10 documents
each), then delivered by real ``soar-ext documents deliver --once`` processes — one, then (after
emptying the outbox and the repository) two at once — timed from the first worker's start line to
the last worker's exit. Then a continuous worker runs while single documents are received one at a
time: the time from the commit of the 收件 to the entry's ``done`` (已上传) is sampled, with the
default ``worker_idle_seconds`` (2 s) and with 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import delete, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_stats import Series
from pg_bench import ADMIN_URL, create_database, drop_database, unreachable

from soar_ext.adapters.simulators.common import SimulatorServer
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.adapters.simulators.docrepo import DEFAULT_APP_ID, DEFAULT_APP_SECRET, create_app
from soar_ext.config import Config
from soar_ext.context import Operator
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import document_contents, document_outbox
from soar_ext.db.legacy import coconstruction_projects, legacy_metadata
from soar_ext.db.migrate import upgrade
from soar_ext.hook_payloads import DocumentReceipt, ReceivedDocument
from soar_ext.hooks import co_construction
from soar_ext.host import SoarHost

ROOT = Path(__file__).resolve().parents[1]
CLERK = Operator(id="bench", name="基准测试", roles=frozenset({"clerk"}))
PDF_HEAD = b"%PDF-1.7\n"


def document(size: int, rng: random.Random) -> bytes:
    return PDF_HEAD + rng.randbytes(size - len(PDF_HEAD))


def worker_env(url: str, repo_url: str, **plugin: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAR_EXT_")}
    env.update(
        {
            "SOAR_EXT_DATABASE_URL": url,
            "SOAR_EXT_DOCREPO_BASE_URL": repo_url,
            "SOAR_EXT_DOCREPO_APP_ID": DEFAULT_APP_ID,
            "SOAR_EXT_DOCREPO_APP_SECRET": DEFAULT_APP_SECRET,
            "SOAR_EXT_DOCREPO_RATE_PER_SECOND": "10000",
            "SOAR_EXT_DOCREPO_BURST": "1000",
            "SOAR_EXT_DOCREPO_READ_TIMEOUT": "30",
        }
    )
    env.update({f"SOAR_EXT_CO_CONSTRUCTION_{k.upper()}": str(v) for k, v in plugin.items()})
    return env


def start_worker(env: dict[str, str], *, once: bool) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "soar_ext.cli", "documents", "deliver", *(["--once"] if once else [])]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Setup:
    def __init__(self, url: str, latency_ms: float) -> None:
        self.url = url
        self.engine = make_engine(url)
        legacy_metadata.create_all(self.engine)
        upgrade(url)
        self.repo = SimulatorServer(create_app(config=SimulatorConfig(latency_ms=(latency_ms, latency_ms))))
        self.repo_url = self.repo.start()
        self.host = SoarHost(Config(), plugins=[("co_construction", co_construction)], load_entry_points=False)
        self.project_id = uuid.uuid4().hex.upper()
        with self.engine.begin() as conn:
            conn.execute(
                insert(coconstruction_projects).values(pjxmid=self.project_id, xmbh="BENCH-0001", xmmc="基准测试地块")
            )
        self.rng = random.Random(20241201)

    def receive(self, count: int, size: int) -> float:
        started = time.perf_counter()
        for start in range(0, count, 10):
            docs = [
                ReceivedDocument("0" + str(1 + i % 4), f"资料{i:05d}.pdf", document(size, self.rng))
                for i in range(start, min(count, start + 10))
            ]
            with self.engine.begin() as conn:
                self.host.documents_received(self.host.context(CLERK, conn), DocumentReceipt(self.project_id, docs))
        return time.perf_counter() - started

    def done(self) -> int:
        with self.engine.connect() as conn:
            stmt = select(func.count()).select_from(document_outbox).where(document_outbox.c.wq_status == "done")
            return int(conn.execute(stmt).scalar_one())

    def empty(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(document_contents))
            conn.execute(delete(document_outbox))
        self.repo.state.reset()

    def deliver(self, workers: int) -> float:
        env = worker_env(self.url, self.repo_url)
        procs = [start_worker(env, once=True) for _ in range(workers)]
        starts = []
        for proc in procs:
            proc.stdout.readline()  # type: ignore[union-attr]
            starts.append(time.perf_counter())
        for proc in procs:
            _out, err = proc.communicate(timeout=1800)
            if proc.returncode != 0:
                raise SystemExit(f"worker failed: {err[-2000:]}")
        return time.perf_counter() - min(starts)

    def commit_to_uploaded(self, samples: int, size: int, idle: float) -> Series:
        series = Series(f"worker_idle_seconds = {idle:g}")
        proc = start_worker(worker_env(self.url, self.repo_url, worker_idle_seconds=idle), once=False)
        proc.stdout.readline()  # type: ignore[union-attr]
        try:
            for i in range(samples):
                entry_id = self._receive_one(size, i)
                committed = time.perf_counter()
                while True:
                    with self.engine.connect() as conn:
                        status = conn.execute(
                            select(document_outbox.c.wq_status).where(document_outbox.c.id == entry_id)
                        ).scalar_one()
                    if status == "done":
                        break
                    time.sleep(0.005)
                series.samples_ms.append((time.perf_counter() - committed) * 1000)
                time.sleep(self.rng.uniform(0.05, 0.5))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        return series

    def _receive_one(self, size: int, i: int) -> str:
        doc = ReceivedDocument("01", f"单份{i:04d}.pdf", document(size, self.rng))
        with self.engine.begin() as conn:
            self.host.documents_received(self.host.context(CLERK, conn), DocumentReceipt(self.project_id, [doc]))
            return str(
                conn.execute(
                    select(document_outbox.c.id)
                    .where(document_outbox.c.file_name == doc.file_name)
                    .order_by(document_outbox.c.wq_created_at.desc())
                )
                .scalars()
                .first()
            )

    def close(self) -> None:
        self.repo.stop()
        self.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--size-mib", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--samples", type=int, default=40, help="commit-to-已上传 samples per idle setting")
    args = parser.parse_args()
    reason = unreachable(ADMIN_URL)
    if reason:
        raise SystemExit(f"PostgreSQL is needed: {reason}")
    size = int(args.size_mib * 1024 * 1024)
    url = create_database(ADMIN_URL)
    setup = Setup(url, args.latency_ms)
    try:
        print(
            f"{args.documents} documents of {args.size_mib:g} MiB, repository latency {args.latency_ms:g} ms"
            " per request (upload + verification), worker_batch 8, worker_concurrency 4"
        )
        results = {}
        for workers in (1, 2):
            setup.empty()
            received = setup.receive(args.documents, size)
            elapsed = setup.deliver(workers)
            delivered = setup.done()
            stored = setup.repo.state.count()
            if delivered != args.documents or stored != args.documents:
                raise SystemExit(f"{workers} worker(s): {delivered} done, {stored} stored of {args.documents}")
            results[workers] = elapsed
            print(
                f"  {workers} worker{'s' if workers > 1 else ' '}: {elapsed:7.2f} s,"
                f" {args.documents / elapsed:6.1f} documents/s ({args.documents * args.size_mib / elapsed:5.1f} MiB/s);"
                f" 收件 into the outbox took {received:.1f} s"
            )
        print(f"  two workers / one worker throughput: {results[1] / results[2]:.2f}x")
        setup.empty()
        print("commit of 收件 → 已上传 (one continuous worker, one document of that size at a time):")
        for idle in (2.0, 0.2):
            series = setup.commit_to_uploaded(args.samples, size, idle)
            print(
                f"  {series.label:26}: p50 {series.p50:7.1f} ms, p95 {series.p95:7.1f} ms"
                f" ({len(series.samples_ms)} samples)"
            )
    finally:
        setup.close()
        drop_database(ADMIN_URL, url)
    print("load average:", Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    main()
