"""Lazily built adapter clients, shared by every hook call of one host."""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import threading
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from soar_ext.config import Config

T = TypeVar("T")

# adapter name -> (module, settings class, client class)
FACTORIES: Mapping[str, tuple[str, str, str]] = {
    "qianjiang": ("soar_ext.adapters.qianjiang", "QianjiangSettings", "QianjiangClient"),
    "bigdata": ("soar_ext.adapters.bigdata", "BigDataSettings", "BigDataClient"),
    "survey": ("soar_ext.adapters.survey", "SurveySettings", "SurveyClient"),
    "docrepo": ("soar_ext.adapters.docrepo", "DocRepoSettings", "DocRepoClient"),
}

#: seconds :meth:`AdapterRegistry.close` gives the clients to close
CLOSE_TIMEOUT_SECONDS = 5.0


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


class AdapterRegistry:
    """Builds each adapter from its config section on first use; ``run`` calls async adapters from sync hooks.

    The async clients live on the event loop of an anyio blocking portal (one background
    thread): the registry starts its own on the first :meth:`run` and stops it in :meth:`close`,
    unless ``portal`` hands it one the caller owns (tests share one between registries). A client
    is bound to the loop it first ran on, so injected ``instances`` (tests, SOAR's own wiring)
    must be used through this registry only. :meth:`close` is final.
    """

    def __init__(
        self,
        config: Config,
        *,
        instances: Mapping[str, Any] | None = None,
        portal: BlockingPortal | None = None,
    ) -> None:
        self.config = config
        self._instances: dict[str, Any] = dict(instances or {})
        self._lock = threading.Lock()
        self._portal = portal
        self._own_portal: contextlib.ExitStack | None = None
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._store_engine: Any = None  # of the gen-1 secret store, disposed by close()
        self._closed = False

    def get(self, name: str) -> Any:
        with self._lock:
            if name not in self._instances:
                if name not in FACTORIES:
                    raise KeyError(f"unknown adapter {name!r}")
                module_name, settings_name, client_name = FACTORIES[name]
                module = importlib.import_module(module_name)
                settings = getattr(module, settings_name).from_config(self.config.adapter(name))
                client_class = getattr(module, client_name)
                if name == "bigdata":
                    self._instances[name] = client_class(settings, secret_store=self._gen1_store(settings))
                else:
                    self._instances[name] = client_class(settings)
            return self._instances[name]

    def _gen1_store(self, settings: Any) -> Any:
        """The gen-1 secret pair shared by SOAR's nodes (:mod:`soar_ext.gateway_secrets`), or ``None``.

        A renewal revokes the previous pair, so nodes with a pair each would keep revoking one
        another's. The embedded SQLite default is one node (and SOAR's transaction may hold its
        write lock): no store there, nor for gen-2, which has no secrets to renew.
        """
        url = self.config.database_url
        if settings.generation != 1 or url.startswith("sqlite"):
            return None
        from soar_ext.db.engine import make_engine
        from soar_ext.gateway_secrets import DbSecretStore

        self._store_engine = make_engine(url, pool_size=1, max_overflow=2)
        return DbSecretStore(
            self._store_engine,
            base_url=settings.http.base_url,
            app_key=settings.app_key,
            app_secret=settings.app_secret,
        )

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

    @property
    def closed(self) -> bool:
        return self._closed

    def _running_portal(self) -> BlockingPortal:
        with self._lock:
            if self._closed:
                raise RuntimeError("适配器已关闭，不能再调用外部系统")
            if self._portal is None:
                stack = contextlib.ExitStack()
                self._portal = stack.enter_context(start_blocking_portal(name="soar-ext-adapters"))
                self._own_portal = stack
            return self._portal

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run an adapter coroutine from synchronous hook code and return its result.

        Exceptions propagate. After ``timeout`` seconds the call is cancelled and
        :class:`TimeoutError` is raised; after :meth:`close`, :class:`RuntimeError`. Calling it
        from the portal's own thread (inside an adapter coroutine) raises :class:`RuntimeError`.
        """
        try:
            portal = self._running_portal()
            future = portal.start_task_soon(_await, coro)
        except BaseException:
            coro.close()  # never awaited: close it so it does not warn
            raise
        with self._lock:
            self._pending.add(future)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"调用超过{timeout}秒未完成，已取消") from None
        except concurrent.futures.CancelledError:
            raise RuntimeError("适配器已关闭，未完成的调用已取消") from None
        finally:
            with self._lock:
                self._pending.discard(future)

    async def _aclose_clients(self) -> None:
        with self._lock:
            clients, self._instances = list(self._instances.values()), {}
        for client in clients:
            aclose = getattr(client, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):  # closing must not fail shutdown
                    await aclose()

    def close(self) -> None:
        """Cancel pending calls, close every client on its loop, stop the registry's own portal.

        A portal handed in stays up (its owner stops it). Pending callers get :class:`RuntimeError`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            portal, own, pending = self._portal, self._own_portal, list(self._pending)
        for future in pending:
            future.cancel()
        if portal is not None:
            with contextlib.suppress(Exception):  # closing must not fail shutdown
                portal.start_task_soon(self._aclose_clients).result(CLOSE_TIMEOUT_SECONDS)
        if own is not None:
            own.close()
        if self._store_engine is not None:
            with contextlib.suppress(Exception):
                self._store_engine.dispose()
