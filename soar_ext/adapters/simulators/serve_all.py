"""Start simulators from Python or ``soar-ext simulate``: one (:func:`serve`) or all (:func:`start_all`)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from soar_ext.adapters.simulators.common import SimulatorServer
from soar_ext.adapters.simulators.config import SimulatorConfig

#: Fixed ports for ``soar-ext simulate`` so a demo configuration can name them.
DEFAULT_PORTS: dict[str, int] = {
    "bigdata": 18701,
    "qianjiang": 18702,
    "survey": 18703,
    "docrepo": 18704,
}
SIMULATORS = tuple(DEFAULT_PORTS)


def _factory(name: str) -> Callable[..., Any]:
    if name == "bigdata":
        from soar_ext.adapters.simulators.bigdata import create_app
    elif name == "qianjiang":
        from soar_ext.adapters.simulators.qianjiang import create_app
    elif name == "survey":
        from soar_ext.adapters.simulators.survey import create_app
    elif name == "docrepo":
        from soar_ext.adapters.simulators.docrepo import create_app
    else:
        raise ValueError(f"未知的模拟服务：{name}；可选：{', '.join(SIMULATORS)}")
    return create_app


def serve(
    name: str,
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> SimulatorServer:
    """Start one simulator (``bigdata``, ``qianjiang``, ``survey``, ``docrepo``) and return it running.

    ``config`` sets quota, latency and faults; ``options`` go to the simulator's ``create_app``
    (credentials, ``interface_ids``, …). Port 0 (the default) takes a free port. The server's
    ``base_url``, ``state`` (overrides, ``configure``, counters) and ``counts()`` are what tests
    and benchmarks use; stop it with ``stop()`` or use it as a context manager.
    """
    server = SimulatorServer(_factory(name)(config=config, **options), host=host, port=port, name=name)
    server.start()
    return server


def client_section(name: str, server: SimulatorServer) -> dict[str, object]:
    """The ``[adapters.<name>]`` settings that point a client at a running simulator (its default credentials)."""
    if name == "bigdata":
        from soar_ext.adapters.simulators import bigdata

        return {
            "base_url": server.base_url,
            "app_key": bigdata.DEFAULT_APP_KEY,
            "app_secret": bigdata.DEFAULT_APP_SECRET,
            "org": bigdata.DEFAULT_ORG,
        }
    module = importlib.import_module(_factory(name).__module__)
    return {"base_url": server.base_url, "app_id": module.DEFAULT_APP_ID, "app_secret": module.DEFAULT_APP_SECRET}


def start_all(
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    configs: Mapping[str, SimulatorConfig] | None = None,
    names: tuple[str, ...] = SIMULATORS,
) -> dict[str, SimulatorServer]:
    """Start the simulators ``names``; ``ports`` maps a name to a port (missing or 0: a free port).

    Returns the running servers by name; stop them with ``server.stop()``.
    """
    ports, configs = dict(ports or {}), dict(configs or {})
    unknown = (set(ports) | set(configs) | set(names)) - set(SIMULATORS)
    if unknown:
        raise ValueError(f"未知的模拟服务：{', '.join(sorted(unknown))}；可选：{', '.join(SIMULATORS)}")
    servers: dict[str, SimulatorServer] = {}
    try:
        for name in names:
            servers[name] = serve(name, configs.get(name), host=host, port=int(ports.get(name, 0)))
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def _describe(config: SimulatorConfig) -> str:
    parts = []
    if config.quota_per_second:
        parts.append(f"配额{config.quota_per_second:g}次/秒")
    if config.latency_ms:
        parts.append(f"延迟{config.latency_ms[0]:g}-{config.latency_ms[1]:g}毫秒")
    if config.interface_latency_ms:
        parts.append(f"{len(config.interface_latency_ms)}个接口单独设延迟")
    parts += [f"故障{f.kind}×{f.rate:g}" for f in config.faults]
    return "，".join(parts)


def run_simulators_forever(
    ports: Mapping[str, int] | None = None,
    host: str = "127.0.0.1",
    configs: Mapping[str, SimulatorConfig] | None = None,
    names: tuple[str, ...] = SIMULATORS,
) -> None:
    """Start the simulators (on :data:`DEFAULT_PORTS` unless given), print ``name  url``, block until Ctrl-C."""
    chosen = {name: port for name, port in {**DEFAULT_PORTS, **(ports or {})}.items() if name in names}
    servers = start_all(host=host, ports=chosen, configs=configs, names=names)
    width = max(len(name) for name in servers)
    for name, server in servers.items():
        described = _describe(server.state.config)
        print(f"{name.ljust(width)}  {server.base_url}" + (f"  （{described}）" if described else ""), flush=True)
    print("模拟服务已启动，按 Ctrl-C 停止；各服务的 /_admin/counts 给出每个对象的请求次数。", flush=True)
    stop = threading.Event()
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers.values():
            server.stop()
