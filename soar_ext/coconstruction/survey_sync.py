"""The surveying link of a co-construction project and its three figures (``sx_pjxm_survey``).

:func:`sync_project` runs on every save (``soar_project_saved``) and on 重新同步: it finds the
surveyed project by number and by name (:func:`~.names.match_projects`), and for a linked
project takes 预测面积 (sum of predicted areas), 实测面积 (sum of measured areas) and 房源数量
(count of surveyed houses) from the surveying service. A project linked once (automatically or
by 确认关联) keeps its surveyed project until its own number or name changes.

The surveying service is the source of truth. Only when it cannot be reached does the sync read
SOAR's local copy ``tch_fwxx`` — and then only for a project that has no figures from the
service yet; figures fetched from the service are never overwritten by the local copy.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from soar_ext.adapters.common import AdapterError
from soar_ext.adapters.survey import SurveyedHouse, SurveyProjectNotFound
from soar_ext.coconstruction.names import Candidate, match_projects, search_fragment
from soar_ext.coconstruction.settings import CoConstructionSettings
from soar_ext.context import SoarContext
from soar_ext.db.extension import project_surveys
from soar_ext.db.legacy import coconstruction_projects, surveyed_houses
from soar_ext.db.portability import clip_utf8
from soar_ext.errors import InvalidInput, NotFound
from soar_ext.log_masking import get_logger

LINKED, PENDING, NOT_FOUND, UNAVAILABLE = "linked", "pending", "not_found", "unavailable"
SERVICE, LOCAL = "service", "local"
CONFIRMED = "confirmed"
TWO_PLACES = Decimal("0.01")

log = get_logger(__name__)
s = project_surveys


class SurveyUnavailable(Exception):
    """The surveying service could not answer; ``reason`` is Chinese, for the panel."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Figures:
    """预测面积, 实测面积 (measured houses only), 房源数量, and the deviation over the measured houses."""

    predicted: Decimal
    measured: Decimal | None
    houses: int
    measured_houses: int
    deviation_pct: Decimal | None

    def flagged(self, percent: Decimal) -> bool:
        return self.deviation_pct is not None and abs(self.deviation_pct) > percent


def figures_of(houses: Sequence[tuple[Decimal | None, Decimal | None]]) -> Figures:
    """Sums and count over ``(predicted, measured)`` areas of the surveyed houses."""
    predicted = sum((p or Decimal(0) for p, _ in houses), Decimal(0))
    measured_pairs = [(p or Decimal(0), m) for p, m in houses if m is not None]
    measured = sum((m for _, m in measured_pairs), Decimal(0)) if measured_pairs else None
    base = sum((p for p, _ in measured_pairs), Decimal(0))
    deviation = None
    if measured is not None and base > 0:
        deviation = ((measured - base) / base * 100).quantize(TWO_PLACES, ROUND_HALF_UP)
    return Figures(
        predicted.quantize(TWO_PLACES, ROUND_HALF_UP),
        None if measured is None else measured.quantize(TWO_PLACES, ROUND_HALF_UP),
        len(houses),
        len(measured_pairs),
        deviation,
    )


def load_project(conn: Connection, project_id: str) -> Any:
    """The ``tpg_pjxm`` row, or :class:`NotFound`."""
    row = conn.execute(select(coconstruction_projects).where(coconstruction_projects.c.pjxmid == project_id)).first()
    if row is None:
        raise NotFound(f"未找到配建项目（ID {str(project_id)[:40]}）。")
    return row


def link_of(conn: Connection, project_id: str) -> Any:
    """The ``sx_pjxm_survey`` row of a project, or ``None`` before its first sync."""
    return conn.execute(select(s).where(s.c.pjxmid == project_id)).first()


def candidates_of(row: Any) -> list[dict[str, Any]]:
    if row is None or not row.candidates_json:
        return []
    try:
        items = json.loads(row.candidates_json)
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


# ------------------------------------------------------------------------------ the service


def _client(ctx: SoarContext) -> Any:
    try:
        return ctx.adapters.survey
    except Exception as exc:  # missing or invalid [adapters.survey]: the administrators' problem
        log.error("adapters.survey is not usable: %s", exc)
        raise SurveyUnavailable("测绘服务未配置或配置有误") from None


class Budget:
    """The time one sync may spend waiting for the surveying service (inside SOAR's save)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _call(ctx: SoarContext, budget: Budget, coro: Any) -> Any:
    left = budget.left()
    if left <= 0:
        coro.close()
        raise SurveyUnavailable(f"测绘服务在{budget.seconds:g}秒内未应答")
    try:
        return ctx.adapters.run(coro, timeout=left)
    except SurveyProjectNotFound:
        raise
    except AdapterError as exc:
        raise SurveyUnavailable(f"测绘服务暂不可用（{exc.reason}）") from None
    except TimeoutError:
        raise SurveyUnavailable(f"测绘服务在{budget.seconds:g}秒内未应答") from None
    except RuntimeError as exc:
        raise SurveyUnavailable(f"测绘服务暂不可用（{exc}）") from None


def _surveyed_projects(ctx: SoarContext, budget: Budget, number: str, name: str) -> list[tuple[str, str]]:
    client = _client(ctx)
    found = list(_call(ctx, budget, client.find_projects(number=number)))
    fragment = search_fragment(name)
    if fragment:
        found += _call(ctx, budget, client.find_projects(name=fragment))
    return [(p.number, p.name) for p in found]


def _service_figures(ctx: SoarContext, budget: Budget, number: str) -> Figures:
    houses: list[SurveyedHouse] = _call(ctx, budget, _client(ctx).houses(number))
    return figures_of([(h.predicted_area, h.measured_area) for h in houses])


def _local_figures(conn: Connection, number: str) -> tuple[Figures, dt.datetime | None] | None:
    """Figures from ``tch_fwxx`` for a surveyed project number, with the copy's date; ``None`` if absent."""
    h = surveyed_houses
    rows = conn.execute(select(h.c.ycjzmj, h.c.scjzmj).where(h.c.chxmbh == number)).all()
    if not rows:
        return None
    updated = conn.execute(select(func.max(h.c.gxsj)).where(h.c.chxmbh == number)).scalar_one_or_none()
    return figures_of([(r.ycjzmj, r.scjzmj) for r in rows]), updated


# ------------------------------------------------------------------------------ writing


def _candidates_json(candidates: Sequence[Candidate]) -> str | None:
    if not candidates:
        return None
    return json.dumps(
        [{"number": c.number, "name": c.name, "reason": c.reason} for c in candidates], ensure_ascii=False
    )


def _figure_values(
    figures: Figures, settings: CoConstructionSettings, source: str, at: dt.datetime, date: Any
) -> dict[str, Any]:
    return {
        "ycjzmj": figures.predicted,
        "scjzmj": figures.measured,
        "fyts": figures.houses,
        "measured_count": figures.measured_houses,
        "deviation_pct": figures.deviation_pct,
        "flagged": int(figures.flagged(settings.discrepancy_percent)),
        "source": source,
        "source_date": date,
        "synced_at": at,
    }


_NO_FIGURES = dict.fromkeys(
    ("ycjzmj", "scjzmj", "fyts", "measured_count", "deviation_pct", "flagged", "source", "source_date", "synced_at")
)


def _save(conn: Connection, project_id: str, existing: Any, values: dict[str, Any]) -> None:
    if existing is None:
        conn.execute(insert(s).values(pjxmid=project_id, **values))
    else:
        conn.execute(update(s).where(s.c.pjxmid == project_id).values(**values))


# ------------------------------------------------------------------------------ the sync


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync did, in a sentence for the clerk."""

    state: str
    message: str


def _fallback(
    conn: Connection, project: Any, existing: Any, settings: CoConstructionSettings, reason: str, at: dt.datetime
) -> SyncOutcome:
    """The service is down: keep service figures; otherwise show ``tch_fwxx``'s, marked with its date."""
    values: dict[str, Any] = {"last_error": clip_utf8(reason, 600), "tried_at": at}
    if existing is None:
        values.update(link_state=UNAVAILABLE, xmbh=project.xmbh, xmmc=project.xmmc)
    if existing is not None and existing.source == SERVICE:
        _save(conn, project.pjxmid, existing, values)
        return SyncOutcome(existing.link_state, f"{reason}，面积与套数仍为上次从测绘服务同步的数据。")
    if existing is not None and existing.link_state in (PENDING, NOT_FOUND):
        # no confirmed surveyed project: the local copy cannot say which project's figures to show
        _save(conn, project.pjxmid, existing, values)
        return SyncOutcome(existing.link_state, f"{reason}，请稍后重新同步。")
    number = existing.chxmbh if existing is not None and existing.chxmbh else project.xmbh
    local = _local_figures(conn, number)
    if local is None:
        _save(conn, project.pjxmid, existing, values)
        return SyncOutcome(
            values.get("link_state", existing.link_state if existing else UNAVAILABLE),
            f"{reason}，SOAR 本地也没有该项目的测绘数据。",
        )
    figures, date = local
    values.update(_figure_values(figures, settings, LOCAL, at, date))
    _save(conn, project.pjxmid, existing, values)
    when = f"{date:%Y-%m-%d}" if date else "日期不详"
    return SyncOutcome(
        values.get("link_state", existing.link_state if existing else UNAVAILABLE),
        f"{reason}，暂时显示 SOAR 本地测绘数据（更新于 {when}），实测面积可能缺失。",
    )


def _linked_values(project: Any, number: str, name: str, kind: str) -> dict[str, Any]:
    return {
        "link_state": LINKED,
        "match_kind": kind,
        "xmbh": project.xmbh,
        "xmmc": project.xmmc,
        "chxmbh": number,
        "chxmmc": clip_utf8(name, 200),
        "candidates_json": None,
    }


def sync_project(ctx: SoarContext, project: Any, settings: CoConstructionSettings) -> SyncOutcome:
    """Link (or re-link) ``project`` (a ``tpg_pjxm`` row) and refresh its figures, in the caller's transaction."""
    conn, at = ctx.connection, ctx.now()
    budget = Budget(settings.survey_timeout_seconds)  # all calls of this sync together
    existing = link_of(conn, project.pjxmid)
    keep = (
        existing is not None
        and existing.link_state == LINKED
        and existing.chxmbh
        and (existing.xmbh, existing.xmmc) == (project.xmbh, project.xmmc)
    )
    try:
        if keep:
            number, name, kind = existing.chxmbh, existing.chxmmc, existing.match_kind
        else:
            outcome = match_projects(
                project.xmbh, project.xmmc, _surveyed_projects(ctx, budget, project.xmbh, project.xmmc)
            )
            if outcome.linked is None:
                state = PENDING if outcome.candidates else NOT_FOUND
                values = {
                    "link_state": state,
                    "match_kind": None,
                    "xmbh": project.xmbh,
                    "xmmc": project.xmmc,
                    "chxmbh": None,
                    "chxmmc": None,
                    "candidates_json": _candidates_json(outcome.candidates),
                    "last_error": None,
                    "tried_at": at,
                    "confirmed_by": None,
                    "confirmed_name": None,
                    "confirmed_at": None,
                    **_NO_FIGURES,
                }
                _save(conn, project.pjxmid, existing, values)
                if state == PENDING:
                    return SyncOutcome(state, f"找到 {len(outcome.candidates)} 个可能的测绘项目，请核对后确认关联。")
                return SyncOutcome(
                    state, f"测绘系统中未找到项目编号为「{project.xmbh}」或名称为「{project.xmmc}」的测绘项目。"
                )
            number, name, kind = outcome.linked.number, outcome.linked.name, outcome.kind or "exact"
        figures = _service_figures(ctx, budget, number)
    except SurveyUnavailable as exc:
        return _fallback(conn, project, existing, settings, exc.reason, at)
    except SurveyProjectNotFound:
        values = {
            "link_state": NOT_FOUND,
            "chxmbh": None,
            "chxmmc": None,
            "last_error": None,
            "tried_at": at,
            **_NO_FIGURES,
        }
        _save(conn, project.pjxmid, existing, values)
        return SyncOutcome(NOT_FOUND, f"测绘系统中已没有测绘项目「{number}」，请核对项目编号。")
    values = {
        **_linked_values(project, number, name, kind),
        **_figure_values(figures, settings, SERVICE, at, None),
        "last_error": None,
        "tried_at": at,
    }
    if not keep:
        values.update(confirmed_by=None, confirmed_name=None, confirmed_at=None)
    _save(conn, project.pjxmid, existing, values)
    return SyncOutcome(LINKED, f"已从测绘服务同步：房源 {figures.houses} 套。")


def confirm_link(ctx: SoarContext, project: Any, number: object, settings: CoConstructionSettings) -> SyncOutcome:
    """确认关联: link ``project`` to one of its recorded candidates and fetch that project's figures."""
    conn, at = ctx.connection, ctx.now()
    existing = link_of(conn, project.pjxmid)
    chosen = str(number or "").strip()
    candidates = {c.get("number"): c for c in candidates_of(existing)}
    if not chosen:
        raise InvalidInput("请选择要关联的测绘项目。")
    if existing is None or existing.link_state != PENDING or chosen not in candidates:
        raise InvalidInput(f"测绘项目「{chosen[:30]}」不在本项目待确认的候选列表中，请刷新页面后重新选择。")
    try:
        figures = _service_figures(ctx, Budget(settings.survey_timeout_seconds), chosen)
    except SurveyUnavailable as exc:
        raise InvalidInput(f"{exc.reason}，暂不能确认关联，请稍后再试。") from None
    except SurveyProjectNotFound:
        raise InvalidInput(f"测绘系统中已没有测绘项目「{chosen}」，请点击重新同步。") from None
    values = {
        **_linked_values(project, chosen, str(candidates[chosen].get("name") or ""), CONFIRMED),
        **_figure_values(figures, settings, SERVICE, at, None),
        "last_error": None,
        "tried_at": at,
        "confirmed_by": ctx.operator.id,
        "confirmed_name": clip_utf8(ctx.operator.name, 60),
        "confirmed_at": at,
    }
    _save(conn, project.pjxmid, existing, values)
    return SyncOutcome(LINKED, f"已将本项目关联到测绘项目「{chosen}」，房源 {figures.houses} 套。")
