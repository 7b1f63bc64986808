"""The README's main job (``make demo`` → ``soar-ext console serve``).

Builds the embedded database with synthetic data when it is absent (kept between runs,
``--reset`` rebuilds it), starts the external-system simulators on loopback and points the
adapters at them, serves the console on ``127.0.0.1`` and stops everything on Ctrl-C.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from sqlalchemy.engine import make_url

from soar_ext.audit import DIGEST_KEY_SETTING
from soar_ext.config import Config, redact_url
from soar_ext.secret import Secret

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
PORT_ENV = "SOAR_EXT_CONSOLE_PORT"
AUDIT_KEY_SUFFIX = "-audit-key"


class PortInUse(RuntimeError):
    """The console's port is taken (message for the command line, Chinese)."""


@dataclass(frozen=True)
class ServeOptions:
    url: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    households: int = 2000
    seed: int = 20190601
    reset: bool = False
    simulators: bool = True
    allow_remote: bool = False


def default_port(env: Mapping[str, str] | None = None) -> int:
    raw = (env if env is not None else os.environ).get(PORT_ENV, "")
    return int(raw) if raw.isdigit() else DEFAULT_PORT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; :class:`PortInUse` with what to do when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise PortInUse(
            f"端口 {port} 已被占用或无法使用（{host}:{port}：{exc.strerror}）。"
            f"请关闭占用该端口的程序，或换一个端口：make demo ARGS='--port {port + 1}'"
            f"（或 soar-ext console serve --port {port + 1}，或设置环境变量 {PORT_ENV}）。"
        ) from None
    sock.listen(128)
    return sock


def simulator_adapter_settings(urls: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Adapter configuration sections pointing at running simulators (their default credentials)."""
    from soar_ext.adapters.simulators import bigdata, docrepo, qianjiang, survey

    quick = {"rate_per_second": 200.0, "burst": 20, "connect_timeout": 2.0, "read_timeout": 5.0}
    return {
        "qianjiang": {
            "base_url": urls["qianjiang"],
            "app_id": qianjiang.DEFAULT_APP_ID,
            "app_secret": Secret(qianjiang.DEFAULT_APP_SECRET),
            **quick,
        },
        "survey": {
            "base_url": urls["survey"],
            "app_id": survey.DEFAULT_APP_ID,
            "app_secret": Secret(survey.DEFAULT_APP_SECRET),
            **quick,
        },
        "docrepo": {
            "base_url": urls["docrepo"],
            "app_id": docrepo.DEFAULT_APP_ID,
            "app_secret": Secret(docrepo.DEFAULT_APP_SECRET),
            **quick,
        },
        "bigdata": {
            "base_url": urls["bigdata"],
            "generation": 1,
            "app_key": bigdata.DEFAULT_APP_KEY,
            "app_secret": Secret(bigdata.DEFAULT_APP_SECRET),
            "org": bigdata.DEFAULT_ORG,
            **quick,
        },
    }


@contextmanager
def running_simulators(host: str = "127.0.0.1") -> Iterator[dict[str, str]]:
    """Every simulator on a free loopback port: ``{name: base_url}`` while the block runs."""
    from soar_ext.adapters.simulators.serve_all import start_all

    servers = start_all(host=host)
    try:
        yield {name: server.base_url for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()


def with_simulators(config: Config, urls: Mapping[str, str]) -> Config:
    adapters = {**config.adapters, **simulator_adapter_settings(urls)}
    return replace(config, adapters=adapters)


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def demo_audit_key(url: str) -> Secret:
    """A stable audit digest key for a demo database: kept in a file beside a SQLite file (mode 600)."""
    path = sqlite_file(url)
    if path is None:
        return Secret(secrets.token_hex(32))
    key_file = path.with_name(path.name + AUDIT_KEY_SUFFIX)
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32), encoding="utf-8")
        key_file.chmod(0o600)
    return Secret(key_file.read_text(encoding="utf-8").strip())


def with_audit_key(config: Config, url: str) -> Config:
    if config.audit.get(DIGEST_KEY_SETTING):
        return config
    return replace(config, audit={**config.audit, DIGEST_KEY_SETTING: demo_audit_key(url)})


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def prepare_database(options: ServeOptions, out: TextIO) -> None:
    from soar_ext.db.embedded import household_count, init_embedded

    path = sqlite_file(options.url)
    absent = (path is not None and not path.exists()) or not household_count(options.url)
    if not (options.reset or absent):
        print(f"使用已有数据库：{redact_url(options.url)}（--reset 可重建）", file=out)
        return
    print("正在生成演示数据库（合成数据）……", file=out, flush=True)
    result = init_embedded(options.url, households=options.households, seed=options.seed, reset=options.reset)
    for line in result.lines:
        print(line, file=out)


def serve(
    options: ServeOptions,
    config: Config,
    *,
    out: TextIO = sys.stdout,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Run the console until Ctrl-C (or SIGTERM); returns the exit code."""
    import uvicorn

    from soar_ext.console.app import create_app
    from soar_ext.console.runtime import ConsoleRuntime, ConsoleSettings
    from soar_ext.db.embedded import EmbeddedInitError

    if not (is_loopback(options.host) or options.allow_remote):
        print(
            f"控制台只在本机回环地址上提供服务；{options.host} 不是回环地址。"
            "确需对外提供（不建议）请加 --allow-remote。",
            file=sys.stderr,
        )
        return 2
    try:
        sock = bind(options.host, options.port)
    except PortInUse as exc:
        print(str(exc), file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with ExitStack() as stack:
        stack.callback(signal.signal, signal.SIGTERM, previous)
        stack.callback(sock.close)
        try:
            prepare_database(options, out)
            config = replace(with_audit_key(config, options.url), database_url=options.url)
            if options.simulators:
                urls = stack.enter_context(running_simulators())
                config = with_simulators(config, urls)
                for name, url in urls.items():
                    print(f"模拟服务 {name}：{url}", file=out)
            hosts = ("*",) if options.allow_remote else ("127.0.0.1", "localhost", "[::1]", options.host)
            runtime = ConsoleRuntime(config, settings=ConsoleSettings(allowed_hosts=hosts))
            stack.callback(runtime.stop)
            runtime.start()
            port = sock.getsockname()[1]
            shown = f"[{options.host.strip('[]')}]" if ":" in options.host else options.host
            url = f"http://{shown}:{port}/"
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(runtime), log_config=None, log_level="warning", access_log=False, lifespan="off"
                )
            )
            print(f"SOAR 演示控制台已启动：{url}", file=out)
            print("在浏览器中打开上面的地址；按 Ctrl-C 停止。", file=out, flush=True)
            if on_ready is not None:
                on_ready(url)
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        except EmbeddedInitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print("控制台和模拟服务已停止。", file=out, flush=True)
    return 0
