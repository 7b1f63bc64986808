"""Controls SOAR's own screens put in a result row: a link, a POST button, a plugin's action."""

from __future__ import annotations

from dataclasses import dataclass

from soar_ext.hook_payloads import ActionButton


@dataclass(frozen=True)
class Link:
    """A link to another page (查看详情)."""

    label: str
    href: str


@dataclass(frozen=True)
class PostButton:
    """A button that posts to one of SOAR's own routes (签订); ``confirm`` is asked first."""

    label: str
    url: str
    confirm: str | None = None


@dataclass(frozen=True)
class PluginAction:
    """A plugin's action SOAR's screen offers on a row (验房确认): sent through ``SoarHost.action``."""

    button: ActionButton
    plugin: str


def control_kind(obj: object) -> str:
    if isinstance(obj, Link):
        return "link"
    if isinstance(obj, PostButton):
        return "post"
    if isinstance(obj, PluginAction):
        return "action"
    return "block"
