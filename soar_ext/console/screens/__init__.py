"""SOAR's own side of each screen, one module per screen: its base query, its table, its forms.

Each module exports ``SCREENS``, a tuple of :class:`Screen` (one menu entry each, with its
routes). A feature that lands later appears on these screens through the hooks — contributed
filters, columns, actions and panels — without a change here; a new screen is a new module
added to :data:`SCREEN_MODULES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.routing import BaseRoute


@dataclass(frozen=True)
class Screen:
    """One menu entry: ``path`` is where the menu links to; ``routes`` are every route of the screen."""

    key: str
    title: str
    path: str
    summary: str
    routes: Sequence[BaseRoute] = field(default_factory=tuple)


SCREEN_MODULES: tuple[str, ...] = (
    "contracts",
    "exchange",
    "persons",
    "coconstruction",
    "allocation",
    "housing",
    "jobs",
    "plugins",
    "audit",
)
"""Menu order."""


def all_screens() -> list[Screen]:
    """Every screen, in menu order."""
    import importlib

    screens: list[Screen] = []
    for name in SCREEN_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        screens.extend(module.SCREENS)
    return screens
