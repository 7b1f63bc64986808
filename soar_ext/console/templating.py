"""The console's Jinja2 environment: autoescaped templates from the package, filters and helpers."""

from __future__ import annotations

import collections
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from soar_ext.console import formatting as fmt
from soar_ext.console.blocks import (
    UNKNOWN_CONTENT,
    ActionStore,
    as_blocks,
    block_kind,
    button_descriptor,
    contribution_descriptor,
    contribution_form,
)
from soar_ext.console.operators import role_labels
from soar_ext.console.widgets import control_kind
from soar_ext.hook_payloads import ActionButton, Contribution, Progress

TONES = frozenset({"ok", "info", "warn", "error", "muted"})


class Sequencer:
    """Ids unique within one page and the same on every drawing of it (``progress-1`` …)."""

    def __init__(self) -> None:
        self._counts: collections.Counter[str] = collections.Counter()

    def next(self, kind: str) -> str:
        self._counts[kind] += 1
        return f"{kind}-{self._counts[kind]}"


def tone(value: object) -> str:
    return value if isinstance(value, str) and value in TONES else "info"


def percent(progress: Progress) -> str:
    if progress.total <= 0:
        return "0%"
    return f"{min(100.0, 100.0 * progress.done / progress.total):.0f}%"


MODE_LABELS = {"on": "启用", "shadow": "试运行", "off": "关闭"}
MODE_TONES = {"on": "ok", "shadow": "warn", "off": "muted"}


def make_environment(actions: ActionStore) -> Environment:
    env = Environment(
        loader=PackageLoader("soar_ext.console", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def button_token(button: ActionButton, plugin: str | None, select: bool = False) -> str:
        return actions.token(button_descriptor(button, plugin, select=select))

    def contribution_token(contribution: Contribution, target: str | None, params: dict[str, Any]) -> str:
        return actions.token(contribution_descriptor(contribution, target, params))

    env.filters.update(
        kind=block_kind,
        blocks=as_blocks,
        tone=tone,
        percent=percent,
        duration=fmt.duration,
        district=fmt.district,
        date=fmt.date,
        datetime=fmt.datetime,
        money=fmt.money,
        text=fmt.text,
        role_labels=role_labels,
        control_kind=control_kind,
        action_form=contribution_form,
        mode_label=lambda mode: MODE_LABELS.get(mode, mode),
        mode_tone=lambda mode: MODE_TONES.get(mode, "info"),
    )
    env.globals.update(
        button_token=button_token,
        contribution_token=contribution_token,
        unknown_content=UNKNOWN_CONTENT,
    )
    return env
