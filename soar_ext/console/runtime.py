"""What one running console holds: SOAR's database, the host, the demo operators, start-up findings.

:meth:`ConsoleRuntime.soar_call` is the console's SOAR transaction: one per request, committed
when the request's work returns and rolled back when it raises — the way SOAR calls the hooks.
"""

from __future__ import annotations

import collections
import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.audit_store import AuditStore
from soar_ext.clock import Clock, beijing_now
from soar_ext.config import Config
from soar_ext.console.blocks import ActionStore, Flash
from soar_ext.console.operators import DEMO_OPERATORS, SYSTEM_OPERATOR, DemoOperator
from soar_ext.console.plugin_notices import failure_text, plugin_failures
from soar_ext.context import Operator, SoarContext
from soar_ext.db.engine import make_engine
from soar_ext.hook_payloads import JobSpec
from soar_ext.host import LoadFailure, PluginInfo, SoarHost
from soar_ext.idnumber import mask_in_text
from soar_ext.log_masking import get_logger

log = get_logger(__name__)

DEFAULT_PAGE_SIZE = 20
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class ConsoleSettings:
    """Console options (the command line sets them)."""

    page_size: int = DEFAULT_PAGE_SIZE
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")


class FlashStore:
    """Content to show once on the next page, kept on the server by a random token (bounded)."""

    def __init__(self, capacity: int = 2000) -> None:
        self._items: collections.OrderedDict[str, list[Flash]] = collections.OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def put(self, items: Sequence[Flash]) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._items[token] = list(items)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return token

    def pop(self, token: str | None) -> list[Flash]:
        if not token:
            return []
        with self._lock:
            return self._items.pop(token, [])


class ConsoleRuntime:
    """SOAR's side of the console: engine, host, operators; built once per console process."""

    def __init__(
        self,
        config: Config,
        *,
        engine: Engine | None = None,
        plugins: Iterable[tuple[str, object]] = (),
        load_entry_points: bool = True,
        adapters: AdapterRegistry | None = None,
        operators: Sequence[DemoOperator] = DEMO_OPERATORS,
        settings: ConsoleSettings | None = None,
        clock: Clock = beijing_now,
    ) -> None:
        self.config = config
        self.settings = settings or ConsoleSettings()
        self.engine = engine or make_engine(config.database_url)
        self.clock = clock
        # SOAR's production behaviour: a failing plugin is isolated, never a broken screen.
        self.host = SoarHost(
            config, plugins=plugins, load_entry_points=load_entry_points, strict=False, adapters=adapters
        )
        self.operators = {demo.id: demo for demo in operators}
        self.default_operator = operators[0].id
        self.secret = secrets.token_bytes(32)
        self.actions = ActionStore(self.secret)
        self.flash = FlashStore()
        self.startup_problems: list[str] = []
        self.jobs: list[JobSpec] = []
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Run the plugins' start-up checks and collect the batch jobs (once)."""
        if self._started:
            return
        self._started = True
        with self.engine.connect() as conn:
            ctx = self.host.context(SYSTEM_OPERATOR, conn, clock=self.clock)
            self.startup_problems = [mask_in_text(p) for p in self.host.startup(ctx)]
            conn.commit()
            self.jobs = self.host.register_jobs(ctx)
            conn.commit()

    def stop(self) -> None:
        """Shut the plugins down and release the database."""
        if self._started:
            try:
                with self.engine.connect() as conn:
                    self.host.shutdown(self.host.context(SYSTEM_OPERATOR, conn, clock=self.clock))
                    conn.commit()
            except Exception:
                log.exception("plugin shutdown failed")
            self._started = False
        self.engine.dispose()

    # ------------------------------------------------------------------ calling SOAR's host

    def operator(self, operator_id: str | None) -> Operator:
        demo = self.operators.get(operator_id or "") or self.operators[self.default_operator]
        return demo.operator

    @contextmanager
    def soar_call(self, operator: Operator, notices: list[str] | None = None) -> Iterator[SoarContext]:
        """One SOAR transaction: commit when the block returns, roll back when it raises.

        Plugins the host isolated during the block are added to ``notices`` (Chinese text).
        """
        with plugin_failures() as failures:
            try:
                with self.engine.connect() as conn, conn.begin():
                    yield self.host.context(operator, conn, clock=self.clock)
            finally:
                if notices is not None:
                    labels = self.plugin_labels()
                    for failure in failures:
                        text = failure_text(failure, labels.get(failure.plugin or ""))
                        if text not in notices:
                            notices.append(text)

    # ------------------------------------------------------------------ plugins

    def audit_store(self) -> AuditStore:
        """The audit store of the console's SOAR database (the one every hook call writes to)."""
        return self.host.audit_store(self.engine.url.render_as_string(hide_password=False))

    def plugin_infos(self) -> list[PluginInfo]:
        return self.host.plugin_infos()

    def load_failures(self) -> list[LoadFailure]:
        return list(self.host.load_failures)

    def plugin_labels(self) -> dict[str, str]:
        return {info.name: info.label for info in self.host.plugin_infos()}

    def plugin_active(self, name: str) -> bool:
        """True when ``name`` is registered and not switched off (its screens' controls are shown)."""
        return any(info.name == name and info.mode != "off" for info in self.host.plugin_infos())
