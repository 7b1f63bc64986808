"""Generic page content: what the templates need to draw any hook payload, and the actions behind buttons.

Hook payloads (:mod:`soar_ext.hook_payloads`) are drawn by ``templates/_blocks.html``; this
module normalises what a plugin returned (a block, a sequence of blocks, or junk) and keeps the
requests behind the buttons it draws. A button's request (key, target, plugin, params, the
inputs it asks for) stays on the server: the page carries only an opaque token, so a clerk
cannot change the plugin or the parameters a button sends, and no value inside them (an ID
number, say) reaches the page.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from soar_ext.hook_payloads import (
    ActionButton,
    ActionForm,
    ActionResult,
    Badge,
    Contribution,
    InputField,
    KeyValues,
    Notice,
    Progress,
    Section,
    Table,
)

BLOCK_KINDS: Mapping[type, str] = {
    Badge: "badge",
    Notice: "notice",
    KeyValues: "keyvalues",
    Table: "table",
    Progress: "progress",
    ActionButton: "button",
    Section: "section",
}

UNKNOWN_CONTENT = "扩展功能返回了无法显示的内容，已略过。"


def block_kind(obj: object) -> str:
    """The template macro for ``obj``: ``badge``, ``notice``, … or ``unknown``."""
    return BLOCK_KINDS.get(type(obj), "unknown")


def as_blocks(content: object) -> list[object]:
    """A panel's or result's content as a list of blocks (a single block, a sequence, text or nothing)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [Notice(content)]
    if type(content) in BLOCK_KINDS:
        return [content]
    if isinstance(content, Sequence):
        return [Notice(item) if isinstance(item, str) else item for item in content]
    return [content]


@dataclass(frozen=True)
class ActionInput:
    """One input the host collects for an action (from an :class:`InputField`)."""

    key: str
    label: str
    type: str
    required: bool


@dataclass(frozen=True)
class ActionDescriptor:
    """What the console sends to ``SoarHost.action`` when a button is clicked."""

    key: str
    plugin: str | None
    target: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[ActionInput, ...] = ()
    select: bool = False

    def canonical(self) -> bytes:
        inputs = [[i.key, i.label, i.type, i.required] for i in self.inputs]
        body = [self.key, self.plugin, self.target, dict(self.params), inputs, self.select]
        return json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


def inputs_of(fields: Sequence[InputField]) -> tuple[ActionInput, ...]:
    return tuple(ActionInput(f.key, f.label, f.type, f.required) for f in fields)


def json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as plain JSON values (what a host can carry across a page and back)."""
    return json.loads(json.dumps(dict(params), ensure_ascii=False, default=str))


class ActionStore:
    """The requests behind the buttons drawn recently, by token (bounded, least recently used first out).

    Tokens are keyed digests of the request, so drawing the same page again gives the same
    tokens; after a restart (new key) old pages answer "操作已失效".
    """

    def __init__(self, key: bytes, capacity: int = 50_000) -> None:
        self._key = key
        self._capacity = capacity
        self._items: collections.OrderedDict[str, ActionDescriptor] = collections.OrderedDict()
        self._lock = threading.Lock()

    def token(self, descriptor: ActionDescriptor) -> str:
        token = hmac.new(self._key, descriptor.canonical(), hashlib.sha256).hexdigest()[:40]
        with self._lock:
            self._items[token] = descriptor
            self._items.move_to_end(token)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return token

    def get(self, token: str) -> ActionDescriptor | None:
        with self._lock:
            descriptor = self._items.get(token)
            if descriptor is not None:
                self._items.move_to_end(token)
            return descriptor


def button_descriptor(button: ActionButton, plugin: str | None, *, select: bool = False) -> ActionDescriptor:
    """The request an :class:`ActionButton` inside content from ``plugin`` sends."""
    return ActionDescriptor(
        key=button.key,
        plugin=plugin,
        target=button.target,
        params=json_params(button.params),
        inputs=inputs_of(button.inputs),
        select=select,
    )


def contribution_descriptor(
    contribution: Contribution, target: str | None, params: Mapping[str, Any]
) -> ActionDescriptor:
    """The request an action :class:`Contribution` on a page about ``target`` sends."""
    form = contribution.content if isinstance(contribution.content, ActionForm) else None
    return ActionDescriptor(
        key=contribution.key,
        plugin=contribution.plugin,
        target=target,
        params=json_params(params),
        inputs=inputs_of(form.inputs) if form else (),
    )


def contribution_form(contribution: Contribution) -> ActionForm:
    """The form of an action contribution (an empty one when it asks for nothing)."""
    return contribution.content if isinstance(contribution.content, ActionForm) else ActionForm()


@dataclass(frozen=True)
class Flash:
    """Content shown once at the top of the next page (an action's result, a signing decision).

    ``plugin`` is the plugin the content came from (its buttons go back to it); ``target`` and
    ``params`` are what contributed actions inside it are sent with.
    """

    blocks: Sequence[object]
    title: str | None = None
    plugin: str | None = None
    contributions: Sequence[Contribution] = ()
    target: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def notice(text: str, tone: str = "info") -> Flash:
    return Flash(blocks=[Notice(text, tone)])  # type: ignore[arg-type]


def result_flash(result: ActionResult) -> Flash:
    """An action's result: its message, then its content."""
    tone = "ok" if result.ok else "error"
    return Flash(blocks=[Notice(result.message, tone), *as_blocks(result.content)], plugin=result.plugin)
