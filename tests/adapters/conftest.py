"""Adapter test fixtures: a log guard over the whole session and loopback simulators.

The log guard captures every record at DEBUG and fails the test that produced a record
containing a guarded secret or a full 18-character ID number. Tests that use other secrets
add them with the ``guarded_secrets`` fixture (``guarded_secrets.add("...")``). Exceptions
raised to the tests are checked the same way by ``tests.adapters.guards.raises_clean``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from soar_ext.adapters.common import HttpSettings
from soar_ext.adapters.simulators.common import SimulatorServer
from tests.adapters.guards import FULL_ID as _FULL_ID
from tests.adapters.guards import GUARDED_SECRETS


class _CaptureAll(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self._formatter.format(record))
        except Exception as exc:  # a record that cannot be formatted is itself a finding
            self.lines.append(f"<unformattable record from {record.name}: {exc!r}>")


@pytest.fixture(scope="session")
def guarded_secrets() -> set[str]:
    """Secrets that must never appear in a log record or an error; tests may add their own."""
    return GUARDED_SECRETS


@pytest.fixture(scope="session")
def _log_capture() -> Iterator[_CaptureAll]:
    handler = _CaptureAll()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture(autouse=True)
def _no_secret_or_id_in_logs(_log_capture: _CaptureAll, guarded_secrets: set[str]) -> Iterator[None]:
    start = len(_log_capture.lines)
    yield
    leaks = []
    for line in _log_capture.lines[start:]:
        if _FULL_ID.search(line):
            leaks.append(("完整身份证号", line))
        for secret in guarded_secrets:
            if secret and secret in line:
                leaks.append(("密钥", line.replace(secret, "<secret>")))
    if leaks:
        kind, line = leaks[0]
        masked = _FULL_ID.sub("<id>", line)
        pytest.fail(f"日志中出现{kind}（共{len(leaks)}条），例如：{masked[:300]}")


# --------------------------------------------------------------------------- simulators


@dataclass
class RunningSimulator:
    base_url: str
    app: Any
    server: SimulatorServer

    @property
    def state(self) -> Any:
        return self.app.state.sim


def _serve(create_app: Callable[[], Any], name: str) -> Iterator[RunningSimulator]:
    app = create_app()
    server = SimulatorServer(app, name=name)
    base_url = server.start()
    try:
        yield RunningSimulator(base_url, app, server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _qianjiang_server() -> Iterator[RunningSimulator]:
    from soar_ext.adapters.simulators.qianjiang import create_app

    yield from _serve(create_app, "qianjiang")


@pytest.fixture(scope="session")
def _survey_server() -> Iterator[RunningSimulator]:
    from soar_ext.adapters.simulators.survey import create_app

    yield from _serve(create_app, "survey")


@pytest.fixture(scope="session")
def _docrepo_server() -> Iterator[RunningSimulator]:
    from soar_ext.adapters.simulators.docrepo import create_app

    yield from _serve(create_app, "docrepo")


@pytest.fixture
def qianjiang_sim(_qianjiang_server: RunningSimulator) -> Iterator[RunningSimulator]:
    """The Qianjiang simulator, reset to its deterministic data with no faults."""
    _qianjiang_server.state.wait_idle()
    _qianjiang_server.state.reset()
    yield _qianjiang_server
    _qianjiang_server.state.wait_idle()
    _qianjiang_server.state.reset()


@pytest.fixture
def survey_sim(_survey_server: RunningSimulator) -> Iterator[RunningSimulator]:
    """The surveying simulator, reset to its deterministic catalog with no faults."""
    _survey_server.state.wait_idle()
    _survey_server.state.reset()
    yield _survey_server
    _survey_server.state.wait_idle()
    _survey_server.state.reset()


@pytest.fixture
def docrepo_sim(_docrepo_server: RunningSimulator) -> Iterator[RunningSimulator]:
    """The document-repository simulator, emptied, with no faults."""
    _docrepo_server.state.wait_idle()
    _docrepo_server.state.reset()
    yield _docrepo_server
    _docrepo_server.state.wait_idle()
    _docrepo_server.state.reset()


@pytest.fixture
def fast_http() -> Callable[..., HttpSettings]:
    """Factory of :class:`HttpSettings` with tiny delays so resilience tests stay fast."""

    def make(base_url: str, **overrides: Any) -> HttpSettings:
        values: dict[str, Any] = {
            "base_url": base_url,
            "connect_timeout": 1.0,
            "read_timeout": 1.0,
            "rate_per_second": 1000.0,
            "burst": 100,
            "retry_attempts": 3,
            "retry_initial_delay": 0.01,
            "retry_max_delay": 0.5,
            "breaker_failure_threshold": 5,
            "breaker_reset_seconds": 0.3,
        }
        values.update(overrides)
        return HttpSettings(**values)

    return make


@pytest.fixture
def serve_mounted() -> Iterator[Callable[[Any, str], str]]:
    """Serve a simulator app under a path prefix (as behind a gateway); returns ``base_url`` with the prefix."""
    servers: list[SimulatorServer] = []

    def start(app: Any, prefix: str) -> str:
        server = SimulatorServer(
            Starlette(routes=[Mount(prefix, app=app)]), name=f"mounted-{getattr(app, 'title', 'app')}"
        )
        servers.append(server)
        return server.start() + prefix

    yield start
    for server in servers:
        server.stop()
