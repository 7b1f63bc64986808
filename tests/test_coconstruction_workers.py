"""Delivery workers as real processes (``soar-ext documents deliver``): killed with SIGKILL mid-upload,
and two at once on PostgreSQL. The repository simulator's per-record counts show what was uploaded."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.adapters.simulators.docrepo import DEFAULT_APP_ID, DEFAULT_APP_SECRET
from soar_ext.adapters.simulators.survey import survey_catalog
from soar_ext.db.codes import DocumentType
from tests.coconstruction_env import Bench, Simulators, bench_on, pdf, start_simulators

REPO = Path(__file__).resolve().parents[1]
NUMBER, NAME = survey_catalog(2019)[0]
DELIVERED = re.compile(r"本次上传并校验 (\d+) 份")


@pytest.fixture(scope="module")
def sims() -> Iterator[Simulators]:
    yield from start_simulators()


def worker_env(bench: Bench, url: str, **plugin: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAR_EXT_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "SOAR_EXT_DATABASE_URL": url,
            "SOAR_EXT_DOCREPO_BASE_URL": bench.sims.docrepo.base_url,
            "SOAR_EXT_DOCREPO_APP_ID": DEFAULT_APP_ID,
            "SOAR_EXT_DOCREPO_APP_SECRET": DEFAULT_APP_SECRET,
            "SOAR_EXT_DOCREPO_RATE_PER_SECOND": "1000",
            "SOAR_EXT_DOCREPO_BURST": "100",
            "SOAR_EXT_DOCREPO_RETRY_INITIAL_DELAY": "0.01",
        }
    )
    env.update({f"SOAR_EXT_CO_CONSTRUCTION_{k.upper()}": str(v) for k, v in plugin.items()})
    return env


def start_worker(env: dict[str, str], cwd: Path, *, once: bool) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "soar_ext.cli", "documents", "deliver", *(["--once"] if once else [])]
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def receive_many(bench: Bench, project_id: str, count: int, size: int = 0) -> None:
    codes = list(DocumentType.LABELS)
    for start in range(0, count, 4):
        docs = [(codes[i % 4], f"资料{i:04d}.pdf", pdf(f"doc{i}", size)) for i in range(start, min(count, start + 4))]
        bench.receive(project_id, *docs)


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_worker_killed_mid_upload_loses_nothing_and_uploads_nothing_twice_after_restart(
    tmp_path: Path, sims: Simulators
) -> None:
    url = f"sqlite:///{tmp_path / 'soar.db'}"
    bench = bench_on(url, sims)
    try:
        pid = bench.new_project(NUMBER, NAME)
        receive_many(bench, pid, 6)
        repo = sims.repo_state
        repo.configure(SimulatorConfig(latency_ms=(400, 400)))
        env = worker_env(bench, url, worker_batch=1, worker_concurrency=1, queue_lease_seconds=3)
        proc = start_worker(env, tmp_path, once=False)
        try:
            wait_for(lambda: sum(e.wq_status == "done" for e in bench.entries(pid)) >= 2, 60, "two uploads")
            # mid-upload: the next upload has reached the repository, its verification has not
            wait_for(
                lambda: repo.in_flight > 0 and repo.plan.calls("upload") > repo.plan.calls("metadata"),
                30,
                "an upload in flight",
            )
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        entries = bench.entries(pid)
        before = {e.id: e.repo_doc_id for e in entries if e.wq_status == "done"}
        assert len(entries) == 6, "nothing is lost"
        assert [e.wq_status for e in entries].count("leased") == 1, "the entry being uploaded stays leased"

        time.sleep(3.5)  # its lease expires
        restarted = start_worker(env, tmp_path, once=True)
        out, err = restarted.communicate(timeout=120)
        assert restarted.returncode == 0, err
        entries = bench.entries(pid)
        assert {e.wq_status for e in entries} == {"done"}
        assert repo.count() == 6, "one repository record per document"
        for entry in entries:
            calls = repo.subjects.count(entry.repo_doc_id, "upload")
            if entry.id in before:
                assert calls == 1 and entry.repo_doc_id == before[entry.id], "not uploaded again after restart"
            else:
                assert 1 <= calls <= 2
        assert int(DELIVERED.search(out).group(1)) == 6 - len(before)  # type: ignore[union-attr]
    finally:
        sims.repo_state.configure(SimulatorConfig())
        bench.close()


@pytest.mark.postgres
def test_two_workers_on_postgresql_deliver_each_entry_once(pg_url: str, tmp_path: Path, sims: Simulators) -> None:
    bench = bench_on(pg_url, sims)
    try:
        pid = bench.new_project(NUMBER, NAME)
        receive_many(bench, pid, 40)
        sims.repo_state.configure(SimulatorConfig(latency_ms=(60, 60)))
        env = worker_env(bench, pg_url, worker_batch=2, worker_concurrency=2)
        workers = [start_worker(env, tmp_path, once=True) for _ in range(2)]
        outputs = [w.communicate(timeout=120) for w in workers]
        for w, (_out, err) in zip(workers, outputs, strict=True):
            assert w.returncode == 0, err
        delivered = [int(DELIVERED.search(out).group(1)) for out, _err in outputs]  # type: ignore[union-attr]
        assert sum(delivered) == 40 and min(delivered) > 0, delivered
        entries = bench.entries(pid)
        assert {e.wq_status for e in entries} == {"done"} and sims.repo_state.count() == 40
        assert {sims.repo_state.subjects.count(e.repo_doc_id, "upload") for e in entries} == {1}
    finally:
        sims.repo_state.configure(SimulatorConfig())
        bench.close()


def test_the_deliver_command_refuses_to_run_unless_the_plugin_is_on(tmp_path: Path, sims: Simulators) -> None:
    url = f"sqlite:///{tmp_path / 'soar.db'}"
    bench = bench_on(url, sims)
    try:
        pid = bench.new_project(NUMBER, NAME)
        receive_many(bench, pid, 1)
        env = {**worker_env(bench, url), "SOAR_EXT_PLUGIN_CO_CONSTRUCTION": "shadow"}
        proc = start_worker(env, tmp_path, once=True)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and "mode shadow" in err
        assert [e.wq_status for e in bench.entries(pid)] == ["pending"] and sims.repo_state.count() == 0
    finally:
        bench.close()
