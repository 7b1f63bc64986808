"""Which plugins failed during one console request, so the screen can say so.

The host isolates a failing plugin and returns the other plugins' results; for display hooks
it reports the failure only in its log (``plugin <name> failed in <hook> …``). This module is
the one place that turns those records into a notice: it listens on the host's logger, for
the current thread only, while a request calls the host. If the host later reports failures
in its return values, only this module changes.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

HOST_LOGGER = "soar_ext.host"
REPORTED_BY_HOST = frozenset({"soar_pre_contract", "soar_action", "soar_query_build"})
"""Hooks whose failures the host already reports in its answer (a block message, a failed result, a warning)."""
_FAILED = re.compile(r"^plugin (?P<plugin>[\w.\-]+) failed in (?P<hook>soar_\w+)")


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that raised during the request; ``plugin`` is ``None`` when the record did not name it."""

    plugin: str | None
    hook: str | None


class _ThreadHandler(logging.Handler):
    def __init__(self, thread_id: int) -> None:
        super().__init__(level=logging.ERROR)
        self.thread_id = thread_id
        self.failures: list[PluginFailure] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread_id:
            return
        match = _FAILED.match(str(record.msg))
        failure = PluginFailure(match["plugin"], match["hook"]) if match else PluginFailure(None, None)
        if failure.hook in REPORTED_BY_HOST:
            return
        if failure not in self.failures:
            self.failures.append(failure)


@contextmanager
def plugin_failures() -> Iterator[list[PluginFailure]]:
    """Collect the plugin failures the host logs on this thread inside the ``with`` block."""
    handler = _ThreadHandler(threading.get_ident())
    logger = logging.getLogger(HOST_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler.failures
    finally:
        logger.removeHandler(handler)


def failure_text(failure: PluginFailure, label: str | None) -> str:
    """The notice a clerk reads (Chinese)."""
    if failure.plugin is None:
        return "部分扩展功能运行出错，相关内容暂不显示；页面其余功能不受影响。请联系系统管理员。"
    name = label or failure.plugin
    return f"扩展功能「{name}」运行出错，其内容暂不显示；页面其余功能不受影响。请联系系统管理员。"
