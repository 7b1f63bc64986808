"""The console's test layer: a running console on a throwaway SQLite database with the simulators.

Fixtures (imported by ``tests/conftest.py``):

- ``console`` — a console on a fresh copy of a 1,000-household synthetic database, with every
  simulator on loopback and the real plugins from the entry points; a :class:`RunningConsole`.
- ``console_factory(plugins=(), modes=None)`` — the same with extra plugins (e.g. one that
  raises) registered beside the real ones, or plugin modes (``{"deposit_waiver": "shadow"}``).
- ``console_page(operator_id, console=None)`` — the test's Playwright page, logged in through
  the operator picker as that demo operator (``demo-clerk``, ``demo-inspector``,
  ``demo-trainee`` (no roles), ``demo-chief`` (full ID numbers), ``demo-admin``).
- ``simulators`` — the running simulators by name (``simulators["qianjiang"].app.state.sim``).

A feature stream's browser test::

    def test_verification_shows_twelve_sources(console, console_page):
        page = console_page("demo-clerk")
        page.goto(console.url(f"/persons/{person_id}"))
        page.click("text=核查")
        expect(page.locator(".flash")).to_contain_text("社保")
        console.screenshot(page, "person-verification")

Screenshots from tests go to a temporary folder (``console.screenshots``); the committed ones
in ``docs/screenshots`` come from ``soar-ext console screenshots`` (:mod:`soar_ext.console.tour`).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from soar_ext.config import Config
from soar_ext.console.tour import CHROMIUM as CHROMIUM_PATH
from soar_ext.db.embedded import init_embedded

TEMPLATE_HOUSEHOLDS = 1000
TEMPLATE_SEED = 20190601
PAGE_TIMEOUT_MS = 15_000
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class RunningConsole:
    """A console served on a loopback port for one test."""

    base_url: str
    runtime: Any
    simulators: dict[str, Any]
    screenshots: Path

    @property
    def engine(self) -> Any:
        return self.runtime.engine

    def url(self, path: str = "/") -> str:
        return self.base_url.rstrip("/") + path

    def lookup(self, finder: Callable[[Any], Any]) -> Any:
        """Run ``finder(connection)`` on SOAR's database (see the finders in ``soar_ext.console.tour``)."""
        with self.engine.connect() as conn:
            return finder(conn)

    def login(self, page: Any, operator_id: str) -> Any:
        from soar_ext.console.tour import login

        login(page, self.base_url, operator_id)
        return page

    def screenshot(self, page: Any, name: str) -> Path:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def http(self) -> httpx.Client:
        """A plain HTTP client (cookies kept) for tests that need no browser."""
        return httpx.Client(base_url=self.base_url, timeout=15.0, follow_redirects=False)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture(scope="session")
def console_template_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("console-template") / "template.db"
    init_embedded(f"sqlite:///{path}", households=TEMPLATE_HOUSEHOLDS, seed=TEMPLATE_SEED)
    return str(path)


@pytest.fixture(scope="session")
def simulators() -> Iterator[dict[str, Any]]:
    from soar_ext.adapters.simulators.serve_all import start_all

    servers = start_all(host="127.0.0.1")
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def console_factory(
    console_template_url: str, simulators: dict[str, Any], tmp_path: Path
) -> Iterator[Callable[..., RunningConsole]]:
    from soar_ext.adapters.simulators.common import SimulatorServer
    from soar_ext.console.app import create_app
    from soar_ext.console.runtime import ConsoleRuntime
    from soar_ext.console.serve import with_audit_key, with_simulators

    started: list[tuple[Any, Any]] = []
    for server in simulators.values():  # deterministic data, no faults left by an earlier test
        reset = getattr(getattr(server.app.state, "sim", None), "reset", None)
        if callable(reset):
            reset()

    def start(
        plugins: Sequence[tuple[str, object]] = (), modes: dict[str, str] | None = None, name: str = "console"
    ) -> RunningConsole:
        db = tmp_path / f"{name}.db"
        shutil.copyfile(console_template_url, db)
        url = f"sqlite:///{db}"
        config = with_audit_key(replace(Config(), database_url=url, plugin_modes=modes or {}), url)
        config = with_simulators(config, {n: s.base_url for n, s in simulators.items()})
        runtime = ConsoleRuntime(config, plugins=plugins)
        runtime.start()
        server = SimulatorServer(create_app(runtime), name=name)
        base_url = server.start()
        started.append((server, runtime))
        return RunningConsole(base_url, runtime, simulators, tmp_path / "screenshots")

    yield start
    for server, runtime in reversed(started):
        server.stop()
        runtime.stop()


@pytest.fixture
def console(console_factory: Callable[..., RunningConsole]) -> RunningConsole:
    return console_factory()


@pytest.fixture
def console_page(page: Any, console_factory: Callable[..., RunningConsole], request: pytest.FixtureRequest) -> Any:
    """``console_page(operator_id, running=None)``: the test's page, logged in as that demo operator."""
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.on("dialog", lambda dialog: dialog.accept())

    def as_operator(operator_id: str, running: RunningConsole | None = None) -> Any:
        target = running or request.getfixturevalue("console")
        return target.login(page, operator_id)

    return as_operator


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's chromium (``playwright install`` cannot download browsers here)."""
    if not Path(CHROMIUM_PATH).exists():
        pytest.skip(f"{CHROMIUM_PATH} not found: apt-get install -y chromium fonts-noto-cjk")
    from soar_ext.console.tour import CHROMIUM_ARGS

    return {**browser_type_launch_args, "executable_path": CHROMIUM_PATH, "args": list(CHROMIUM_ARGS)}
