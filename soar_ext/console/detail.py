"""Detail pages: what the plugins contribute to a record's page (``SoarHost.detail_view``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from soar_ext.context import SoarContext
from soar_ext.hook_payloads import Contribution, DetailView
from soar_ext.host import SoarHost


@dataclass(frozen=True)
class PageContributions:
    """Contributed actions and panels of one page, and what their actions are sent with.

    An action contributed to a detail page is sent with ``target`` = the record's key and
    ``params`` = ``{"entity": …, "application_id": …}`` (plus the clerk's input values).
    """

    items: Sequence[Contribution] = ()
    target: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def view_params(view: DetailView) -> dict[str, Any]:
    params: dict[str, Any] = {"entity": view.entity}
    if view.application_id:
        params["application_id"] = view.application_id
    return params


def detail_contributions(ctx: SoarContext, host: SoarHost, view: DetailView) -> PageContributions:
    return PageContributions(host.detail_view(ctx, view), view.key, view_params(view))
