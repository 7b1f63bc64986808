"""Start every simulator at once (used by ``soar-ext simulate`` and by demos)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from soar_ext.adapters.simulators.common import SimulatorServer

#: Fixed ports for ``soar-ext simulate`` so a demo configuration can name them.
DEFAULT_PORTS: dict[str, int] = {
    "bigdata": 18701,
    "qianjiang": 18702,
    "survey": 18703,
    "docrepo": 18704,
}


def _factories() -> dict[str, Callable[[], Any]]:
    from soar_ext.adapters.simulators.bigdata import create_app as create_bigdata_app
    from soar_ext.adapters.simulators.docrepo import create_app as create_docrepo_app
    from soar_ext.adapters.simulators.qianjiang import create_app as create_qianjiang_app
    from soar_ext.adapters.simulators.survey import create_app as create_survey_app

    return {
        "bigdata": create_bigdata_app,
        "qianjiang": create_qianjiang_app,
        "survey": create_survey_app,
        "docrepo": create_docrepo_app,
    }


def start_all(host: str = "127.0.0.1", ports: Mapping[str, int] | None = None) -> dict[str, SimulatorServer]:
    """Start all simulators; ``ports`` maps a simulator name to a port (missing or 0: a free port).

    Returns the running servers by name; stop them with ``server.stop()``.
    """
    ports = dict(ports or {})
    factories = _factories()
    unknown = set(ports) - set(factories)
    if unknown:
        raise ValueError(f"未知的模拟服务：{', '.join(sorted(unknown))}；可选：{', '.join(factories)}")
    servers: dict[str, SimulatorServer] = {}
    try:
        for name, create_app in factories.items():
            server = SimulatorServer(create_app(), host=host, port=int(ports.get(name, 0)), name=name)
            server.start()
            servers[name] = server
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def run_simulators_forever(ports: Mapping[str, int] | None = None, host: str = "127.0.0.1") -> None:
    """Start all simulators (on :data:`DEFAULT_PORTS` unless given), print ``name  url``, block until Ctrl-C."""
    chosen = {**DEFAULT_PORTS, **(ports or {})}
    servers = start_all(host=host, ports=chosen)
    width = max(len(name) for name in servers)
    for name, server in servers.items():
        print(f"{name.ljust(width)}  {server.base_url}", flush=True)
    print("模拟服务已启动，按 Ctrl-C 停止。", flush=True)
    stop = threading.Event()
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers.values():
            server.stop()
