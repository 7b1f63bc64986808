"""Household-check workers as real processes: kill -9 and resume, two workers sharing one quota.

Workers are ``soar-ext hukou-check run`` subprocesses configured by a TOML file (secrets from the
environment, as on a SOAR node); the Big Data simulator runs in the test process on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_ORG
from soar_ext.adapters.simulators.config import SimulatorConfig
from soar_ext.db.extension import gateway_secrets, hukou_items
from soar_ext.db.work_queue import DONE, LEASED
from soar_ext.hukou import jobs
from soar_ext.hukou.settings import DEFAULTS
from tests.hukou_env import (  # noqa: F401  (fixtures)
    DIGEST_KEY,
    add_households,
    fresh_sim_fixture,
    make_desk,
    sim_fixture,
)
from tests.soar_env import soar_database

ROOT = Path(__file__).resolve().parents[1]


def write_config(path: Path, url: str, base_url: str, *, rate: float, concurrency: int) -> Path:
    path.write_text(
        f"""
[database]
url = "{url}"

[plugins.hukou_check]
quota_per_second = {rate}
quota_concurrency = {concurrency}
quota_heartbeat_seconds = 0.5
quota_ttl_seconds = 3
queue_lease_seconds = 3
claim_batch = 5

[adapters.bigdata]
base_url = "{base_url}"
app_key = "{DEFAULT_APP_KEY}"
org = "{DEFAULT_ORG}"
generation = 1
read_timeout = 5
""",
        encoding="utf-8",
    )
    return path


def worker(config: Path, job_id: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SOAR_EXT_BIGDATA_APP_SECRET": DEFAULT_APP_SECRET,
        "SOAR_EXT_AUDIT_DIGEST_SECRET": DIGEST_KEY,
        "PYTHONPATH": str(ROOT),
    }
    cmd = [sys.executable, "-m", "soar_ext.cli", "--config", str(config), "hukou-check", "run", job_id]
    cmd += ["--operator-id", "b001", "--no-progress"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def results(engine, job_id: str) -> dict[str, tuple]:
    t = hukou_items
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.job_id == job_id)).mappings().all()
    return {r["sfzh"]: (r["wq_status"], r["result"], r["hjzt"], r["hjzt_label"], r["hjdz"]) for r in rows}


def statuses(engine, job_id: str) -> dict[str, str]:
    return {idn: row[0] for idn, row in results(engine, job_id).items()}


@pytest.mark.slow
def test_worker_killed_mid_run_resumes_with_the_same_results_and_asks_nobody_done_again(tmp_path, sim) -> None:
    url = f"sqlite:///{tmp_path / 'soar.db'}"
    engine = soar_database(url)
    desk = make_desk(engine, sim.base_url)
    add_households(engine, 30)  # 90 persons
    sim.state.configure(SimulatorConfig(latency_ms=(20, 40)))
    config = write_config(tmp_path / "soar-ext.toml", url, sim.base_url, rate=20, concurrency=4)

    reference = desk.start_job(districts="西湖区")  # an uninterrupted run of the same people
    desk.work(reference)
    expected = results(engine, reference)
    sim.reset()  # a gateway that forgot the secret pairs it issued: forget the shared one too
    with engine.begin() as conn:
        conn.execute(delete(gateway_secrets))
    sim.state.configure(SimulatorConfig(latency_ms=(20, 40)))

    job_id = desk.start_job()
    proc = worker(config, job_id)
    try:
        deadline = time.monotonic() + 60
        while list(statuses(engine, job_id).values()).count(DONE) < 25:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr and proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    at_kill = statuses(engine, job_id)
    done_at_kill = {idn for idn, s in at_kill.items() if s == DONE}
    in_flight = {idn for idn, s in at_kill.items() if s == LEASED}
    assert 25 <= len(done_at_kill) < len(at_kill) and desk.job(job_id).status == jobs.RUNNING

    resumed = worker(config, job_id)  # takes over the dead worker's items once their lease expires
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "作业已完成" in out

    final = results(engine, job_id)
    assert final == {idn: expected[idn] for idn in final} and set(final) == set(expected)
    asked = {idn: sim.asked(idn) for idn in final}
    assert all(asked[idn] == 1 for idn in done_at_kill)  # stored before the kill: never asked again
    twice = {idn for idn, n in asked.items() if n > 1}
    # only answers lost with the process (leased, not yet stored at the kill) may be asked again
    assert twice <= in_flight and all(n <= 2 for n in asked.values())
    assert desk.job(job_id).status == jobs.FINISHED
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_on_postgres_check_each_person_once_and_stay_under_the_quota(pg_url, tmp_path, sim) -> None:
    engine = soar_database(pg_url)
    desk = make_desk(engine, sim.base_url)
    add_households(engine, 60)  # 180 persons
    rate = 30
    sim.state.configure(SimulatorConfig(latency_ms=(30, 60), quota_per_second=rate + 2))
    config = write_config(tmp_path / "soar-ext.toml", pg_url, sim.base_url, rate=rate, concurrency=6)
    job_id = desk.start_job()
    procs = [worker(config, job_id), worker(config, job_id)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _out, err in outputs]

    final = results(engine, job_id)
    assert len(final) == 180 and {row[0] for row in final.values()} == {DONE}
    assert all(sim.asked(idn) == 1 for idn in final)  # each person checked once, by one worker
    # (an attempt may fail on the transport and be retried: the answer with data still comes once)
    # both took part, and together never beyond the quota: at most rate + one burst per worker in any
    # second (docs/work-queue.md, the margin quota − workers × burst)
    assert all("本进程核查" in out and "本进程核查 0 人" not in out for out, _err in outputs)
    burst = int(DEFAULTS["quota_burst"])
    assert sim.log.max_in_window(1.0) <= rate + 2 * burst
    assert sim.state.counter("quota") == 0
    engine.dispose()
