"""Shared fixtures: strict plugin mode, PostgreSQL throwaway databases, the console, the skip guards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.console_env import (  # noqa: F401  (fixtures)
    browser_type_launch_args,
    console,
    console_factory,
    console_page,
    console_template_url,
    simulators,
)

PG_ADMIN_URL = os.environ.get("SOAR_EXT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("SOAR_EXT_REQUIRE_POSTGRES") == "1"
REQUIRE_BROWSER = os.environ.get("SOAR_EXT_REQUIRE_BROWSER") == "1"
BROWSER_FIXTURES = frozenset({"page", "browser", "context", "console_page"})

os.environ.setdefault("SOAR_EXT_STRICT_PLUGINS", "1")


def pytest_configure(config: pytest.Config) -> None:
    from tests import id_guard

    id_guard.install()


@pytest.fixture(autouse=True)
def _no_full_id_numbers() -> Iterator[None]:
    """Fails a test that let a full ID number into a log record or a message the host returned."""
    from tests import id_guard

    id_guard.found.clear()
    yield
    leaks, id_guard.found[:] = list(id_guard.found), []
    assert not leaks, f"full ID numbers leaked: {leaks[:5]}"


def _pg_unreachable_reason() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]}: {type(exc).__name__}"


_PG_REASON: list[str | None] = []


def pg_reason() -> str | None:
    if not _PG_REASON:
        _PG_REASON.append(_pg_unreachable_reason())
    return _PG_REASON[0]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    reason = pg_reason()
    if reason:
        pytest.skip(reason)
    return PG_ADMIN_URL


def create_pg_database(admin_url: str) -> str:
    import psycopg

    name = f"soar_ext_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    url = create_pg_database(pg_admin_url)
    try:
        yield url
    finally:
        drop_pg_database(pg_admin_url, url)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives a browser page is a browser test, whether or not it says so; browser tests run last.

    Playwright's synchronous API keeps an event loop running on the main thread from the first
    browser test to the end of the session, and ``asyncio.run`` refuses to start under a running
    loop: every test that runs its own loop must therefore come before the first browser test.
    """
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Where PostgreSQL or the browser is required (CI), a skipped postgres or browser test is a failure."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    if REQUIRE_POSTGRES and item.get_closest_marker("postgres") is not None:
        report.outcome = "failed"
        report.longrepr = f"postgres test was skipped but SOAR_EXT_REQUIRE_POSTGRES=1: {report.longrepr}"
    elif REQUIRE_BROWSER and item.get_closest_marker("browser") is not None:
        report.outcome = "failed"
        report.longrepr = f"browser test was skipped but SOAR_EXT_REQUIRE_BROWSER=1: {report.longrepr}"


@pytest.fixture(scope="module")
def sim():
    """The Qianjiang simulator on loopback for one test module (reset around each test by ``fresh_sim``)."""
    from tests.soar_env import start_qianjiang

    yield from start_qianjiang()


@pytest.fixture
def fresh_sim(sim):
    """``sim`` with no scores set and no faults planned, before and after the test."""
    sim.state.reset()
    yield sim
    sim.state.reset()
