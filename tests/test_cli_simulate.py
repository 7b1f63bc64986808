"""``soar-ext simulate``: quota, latency and faults from the command line or a TOML file; per-subject counts."""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from soar_ext.cli import main
from soar_ext.idnumber import check_char

CLI = [sys.executable, "-m", "soar_ext.cli"]


def _id(serial: int) -> str:
    first17 = f"33010619900101{serial:03d}"
    return first17 + check_char(first17)


def test_help_shows_quota_latency_and_faults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["simulate", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for option in ("--quota", "--latency-ms", "--interface-latency-ms", "--fault", "--file", "--seed", "--port"):
        assert option in out
    assert "/_admin/counts" in out


def test_bad_options_are_reported_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--latency-ms", "150-50"]) == 2
    assert "延迟范围" in capsys.readouterr().err
    assert main(["simulate", "--fault", "bigdata:meteor=0.5"]) == 2
    assert "未知的故障类型" in capsys.readouterr().err
    assert main(["simulate", "--port", "bigdata"]) == 2
    assert "NAME=PORT" in capsys.readouterr().err


def _read_urls(process: subprocess.Popen[str], names: set[str], timeout: float = 60.0) -> dict[str, str]:
    """The ``name  url`` lines the command prints once the simulators listen."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    urls: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while set(urls) != names:
        try:
            words = lines.get(timeout=max(0.1, deadline - time.monotonic())).split()
        except queue.Empty:
            raise AssertionError(f"simulate did not start: {urls}, exit {process.poll()}") from None
        if len(words) >= 2 and words[0] in names:
            urls[words[0]] = words[1]
    return urls


def test_simulate_started_with_options_and_a_file_serves_per_subject_counts(tmp_path: Path) -> None:
    settings = tmp_path / "simulation.toml"
    settings.write_text("[bigdata]\nquota_per_second = 200\n[bigdata.faults]\nstatus_5xx = 0.3\n", encoding="utf-8")
    command = [
        *CLI,
        "simulate",
        "--only",
        "bigdata",
        "--only",
        "qianjiang",
        "--port",
        "bigdata=0",
        "--port",
        "qianjiang=0",
        "--file",
        str(settings),
        "--latency-ms",
        "5-10",
        "--interface-latency-ms",
        "household_registration=20-30",
        "--quota",
        "qianjiang=50",
        "--seed",
        "3",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        urls = _read_urls(process, {"bigdata", "qianjiang"})
        config = httpx.get(urls["bigdata"] + "/_admin/config", timeout=5).json()
        assert config == {
            "quota_per_second": 200.0,
            "latency_ms": [5.0, 10.0],
            "interface_latency_ms": {"household_registration": [20.0, 30.0]},
            "faults": {"status_5xx": {"rate": 0.3}},
            "seed": 3,
        }
        assert httpx.get(urls["qianjiang"] + "/_admin/config", timeout=5).json()["quota_per_second"] == 50.0
        people = [_id(n) for n in range(20)]
        answered = asyncio.run(_verify_everyone(urls["bigdata"], people))
        counts = httpx.get(urls["bigdata"] + "/_admin/counts", timeout=5).json()
        # the client retried the 503s; the counts show every person answered exactly once
        assert set(counts["subjects"]) == set(answered)
        assert counts["max_per_subject_interface"] == 1
        assert counts["requests"] == len(answered) == len(people)
        stats = httpx.get(urls["bigdata"] + "/_admin/stats", timeout=5).json()
        assert stats["faults_injected"]["status_5xx"] > 0
    finally:
        process.terminate()  # the process this test started
        process.wait(timeout=30)


async def _verify_everyone(base_url: str, people: list[str]) -> list[str]:
    from soar_ext.adapters.bigdata import BigDataClient, BigDataSettings

    settings = BigDataSettings.from_config(
        {
            "base_url": base_url,
            "app_key": "demo-app",
            "app_secret": "demo-secret",
            "org": "330100",
            "retry_attempts": 10,
            "retry_initial_delay": 0.01,
            "retry_max_delay": 0.05,
            "breaker_failure_threshold": 1000,
            "read_timeout": 10,
        }
    )
    async with BigDataClient(settings) as client:
        results = [await client.household_registration(p, "赵六", purpose="测试") for p in people]
    return [p for p, r in zip(people, results, strict=True) if r.status in ("found", "no_record")]


def test_a_missing_standin_package_names_the_extra_to_install() -> None:
    from soar_ext.standin import INSTALL_HINT, StandinMissing, require_standin

    with pytest.raises(StandinMissing) as missing:
        require_standin("The console", ("starlette", "no_such_web_framework"))
    assert isinstance(missing.value, RuntimeError) and isinstance(missing.value, ImportError)
    assert "no_such_web_framework" in str(missing.value) and "starlette" not in str(missing.value).split(":")[1]
    assert INSTALL_HINT == "pip install 'soar-ext[standin]'" and INSTALL_HINT in str(missing.value)
    require_standin("The simulators")  # installed here: no error
