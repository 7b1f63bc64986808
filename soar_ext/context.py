"""The context every hook call receives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from soar_ext import roles
from soar_ext.clock import Clock, beijing_now

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from soar_ext.adapter_registry import AdapterRegistry
    from soar_ext.audit import AuditSink
    from soar_ext.config import Config


@dataclass(frozen=True)
class Operator:
    """The SOAR user on whose behalf a hook runs."""

    id: str
    name: str
    roles: frozenset[str] = frozenset()
    district: str | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles or roles.ADMIN in self.roles

    def require(self, role: str, action: str) -> None:
        """Raise :class:`~soar_ext.errors.PermissionDenied` unless the operator has ``role``."""
        roles.require_role(self.roles, role, action)


@dataclass(frozen=True)
class SoarContext:
    """Operator, SOAR's connection (inside SOAR's transaction), clock, config, adapters, audit.

    The facade gives each plugin its own copy with ``plugin`` and ``mode`` set.
    """

    operator: Operator
    connection: Connection
    config: Config
    adapters: AdapterRegistry
    audit: AuditSink
    clock: Clock = field(default=beijing_now)
    plugin: str | None = None
    mode: str = "on"

    @property
    def enforce(self) -> bool:
        """True in ``on`` mode; in ``shadow`` mode plugins record but do not change SOAR data."""
        return self.mode == "on"

    def now(self) -> dt.datetime:
        return self.clock()

    def for_plugin(self, plugin: str, mode: str) -> SoarContext:
        return replace(self, plugin=plugin, mode=mode)

    def settings(self) -> dict[str, object]:
        """This plugin's settings section from the configuration."""
        return dict(self.config.plugin(self.plugin or ""))
