"""Lazily built adapter clients, shared by every hook call of one host."""

from __future__ import annotations

import contextlib
import importlib
import threading
import weakref
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from soar_ext.adapters.common import SyncRunner, default_runner
from soar_ext.config import Config

T = TypeVar("T")

# adapter name -> (module, settings class, client class)
FACTORIES: Mapping[str, tuple[str, str, str]] = {
    "qianjiang": ("soar_ext.adapters.qianjiang", "QianjiangSettings", "QianjiangClient"),
    "bigdata": ("soar_ext.adapters.bigdata", "BigDataSettings", "BigDataClient"),
    "survey": ("soar_ext.adapters.survey", "SurveySettings", "SurveyClient"),
    "docrepo": ("soar_ext.adapters.docrepo", "DocRepoSettings", "DocRepoClient"),
}


class AdapterRegistry:
    """Builds each adapter from its config section on first use; ``run`` calls async adapters from sync hooks.

    ``instances`` injects ready clients (tests, SOAR's own wiring). The clients are bound to the
    runner's event loop: :meth:`close` closes them through the runner, and if the runner is
    closed first, it closes them on its loop before stopping it (a close hook registered here).
    """

    def __init__(
        self, config: Config, *, runner: SyncRunner | None = None, instances: Mapping[str, Any] | None = None
    ) -> None:
        self.config = config
        self.runner = runner or default_runner()
        self._instances: dict[str, Any] = dict(instances or {})
        self._lock = threading.Lock()
        ref = weakref.ref(self)

        async def close_clients_on_runner_close() -> None:
            registry = ref()
            if registry is not None:
                await registry._aclose_clients()

        self._remove_close_hook = self.runner.add_close_hook(close_clients_on_runner_close)

    def get(self, name: str) -> Any:
        with self._lock:
            if name not in self._instances:
                if name not in FACTORIES:
                    raise KeyError(f"unknown adapter {name!r}")
                module_name, settings_name, client_name = FACTORIES[name]
                module = importlib.import_module(module_name)
                settings = getattr(module, settings_name).from_config(self.config.adapter(name))
                self._instances[name] = getattr(module, client_name)(settings)
            return self._instances[name]

    @property
    def qianjiang(self) -> Any:
        return self.get("qianjiang")

    @property
    def bigdata(self) -> Any:
        return self.get("bigdata")

    @property
    def survey(self) -> Any:
        return self.get("survey")

    @property
    def docrepo(self) -> Any:
        return self.get("docrepo")

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run an adapter coroutine from synchronous hook code."""
        return self.runner.run(coro, timeout)

    def _take_clients(self) -> list[Any]:
        with self._lock:
            clients, self._instances = list(self._instances.values()), {}
        return clients

    async def _aclose_clients(self) -> None:
        """On the runner's loop: close every client (used when the runner closes first)."""
        for client in self._take_clients():
            aclose = getattr(client, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):  # closing must not fail shutdown
                    await aclose()

    def close(self) -> None:
        """Close every client that was built, on the runner's loop, while the runner still runs.

        Call this before closing the runner; if the runner is already closed, its close hook has
        closed the clients. The runner itself (often the process-wide one) is left running.
        """
        if not self.runner.closed:
            with contextlib.suppress(Exception):  # closing must not fail shutdown
                self.runner.run(self._aclose_clients(), timeout=5)
        self._take_clients()
        self._remove_close_hook()
