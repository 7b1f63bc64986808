"""The README's first command, ``make demo``: it answers on its URL and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from soar_ext.console.serve import ServeOptions, prepare_database

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"(http://127\.0\.0\.1:\d+/)")
STARTUP_SECONDS = 180


def _read_lines(stream, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
    for line in iter(stream.readline, ""):
        lines.append(line)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_serves_the_console_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    args = f"--url sqlite:///{database} --port 0 --households 200"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAR_EXT_")}
    proc = subprocess.Popen(
        ["make", "-s", "-C", str(ROOT), "demo", f"ARGS={args}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, which Ctrl-C in a terminal signals as a whole
    )
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            found = [m.group(1) for line in list(lines) if "控制台已启动" in line and (m := URL.search(line))]
            url = found[0] if found else None
            time.sleep(0.2)
        assert url, "".join(lines)
        answer = httpx.get(url, timeout=10)
        assert answer.status_code == 200 and "SOAR 公租房管理系统" in answer.text and "演示" in answer.text
        assert httpx.get(url + "contracts", timeout=10).status_code == 200
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(timeout=5)
    output = "".join(lines)
    assert "已生成合成数据：200 户家庭" in output and "模拟服务 qianjiang" in output
    assert "控制台和模拟服务已停止" in output
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)
    assert database.exists()


def test_the_demo_database_is_kept_between_runs_and_rebuilt_with_reset(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    prepare_database(ServeOptions(url=url, households=30), out=sys.stdout)
    assert "已生成合成数据：30 户家庭" in capsys.readouterr().out
    prepare_database(ServeOptions(url=url, households=30), out=sys.stdout)
    assert "使用已有数据库" in capsys.readouterr().out
    prepare_database(ServeOptions(url=url, households=40, reset=True), out=sys.stdout)
    assert "已生成合成数据：40 户家庭" in capsys.readouterr().out
