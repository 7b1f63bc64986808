"""The main job on the embedded default: seeded SOAR data, simulators on loopback, plugins through the host.

``soar-ext demo`` plays what SOAR's screens do on the demo database: signs every draft
contract through ``soar_pre_contract`` (deposit waiver against the Qianjiang simulator,
exchange gate), confirms one inspection, runs the exchange business query with each new
filter, and verifies (核查) one person of a completed household against the Big Data simulator
twice, with that person's registration moved out and a vehicle bought in between. Everything
runs in one transaction that is rolled back unless ``commit`` is set.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from sqlalchemy import Engine, func, select

from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.adapters.common import HttpSettings
from soar_ext.audit import DIGEST_KEY_SETTING
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.db.codes import ApprovalStatus, ContractStatus, ContractType, InspectionStatus
from soar_ext.db.legacy import applications, contracts, exchange_pairings, families, family_members, persons
from soar_ext.db.paging import count_statement
from soar_ext.hook_payloads import ActionRequest, ContractDraft, DetailView
from soar_ext.host import SoarHost
from soar_ext.roles import CLERK, INSPECTOR, VERIFIER
from soar_ext.secret import Secret

DEMO_OPERATOR = Operator(
    id="demo01", name="演示经办人", roles=frozenset({CLERK, INSPECTOR, VERIFIER}), district="330106"
)


@dataclass
class DemoReport:
    """Counts and sample messages of one demo run."""

    waiver: Counter[str] = field(default_factory=Counter)
    gate: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    filters: dict[str, int] = field(default_factory=dict)
    confirmed: str | None = None
    verification: list[str] = field(default_factory=list)
    committed: bool = False
    startup_problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"【启动检查】{p}" for p in self.startup_problems] or ["【启动检查】各插件启动正常"]
        out.append("【押金减免】新配租/续租待签合同：")
        out += [
            f"  {label}：{self.waiver[key]} 份"
            for key, label in (("waived", "押金减免"), ("required", "押金照常缴纳"), ("recheck", "待复核"))
        ]
        out.append("【换房签约】换房待签合同：")
        out += [f"  {label}：{self.gate[key]} 份" for key, label in (("allowed", "可以签订"), ("blocked", "被拦截"))]
        out += [f"  示例：{m}" for m in self.samples]
        if self.confirmed:
            out.append(f"【验房确认】{self.confirmed}")
        out.append("【换房业务查询】按新增条件统计配对数：")
        out += [f"  {label}：{n}" for label, n in self.filters.items()]
        if self.verification:
            out.append("【大数据核查】")
            out += [f"  {line}" for line in self.verification]
        out.append(
            "以上操作已提交。"
            if self.committed
            else "演示在事务中运行，结束后业务数据已回滚（--commit 可保留）；查询审计记录按规定保留在审计库中。"
        )
        return out


@contextmanager
def qianjiang_simulator() -> Iterator[dict[str, object]]:
    """The Qianjiang simulator on a free loopback port, with the settings a client needs."""
    from soar_ext.adapters.simulators.serve_all import client_section, serve

    with serve("qianjiang") as server:
        section = client_section("qianjiang", server)
        yield {**section, "app_secret": Secret(str(section["app_secret"]))}


@contextmanager
def bigdata_simulator() -> Iterator[tuple[str, object]]:
    """The Big Data gateway simulator on a free loopback port: its URL and its state (to change its data)."""
    from soar_ext.adapters.simulators.serve_all import serve

    with serve("bigdata") as server:
        yield server.base_url, server.state


def _registry(config: Config, qianjiang: dict[str, object], bigdata_url: str) -> AdapterRegistry:
    from soar_ext.adapters.bigdata import BigDataClient, BigDataSettings
    from soar_ext.adapters.qianjiang import QianjiangClient, QianjiangSettings
    from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_ORG

    settings = QianjiangSettings(
        http=HttpSettings(base_url=str(qianjiang["base_url"]), rate_per_second=200.0, burst=20),
        app_id=str(qianjiang["app_id"]),
        app_secret=qianjiang["app_secret"],  # type: ignore[arg-type]
    )
    bigdata = BigDataSettings(
        http=HttpSettings(base_url=bigdata_url, rate_per_second=200.0, burst=20),
        app_key=DEFAULT_APP_KEY,
        app_secret=Secret(DEFAULT_APP_SECRET),
        org=DEFAULT_ORG,
    )
    return AdapterRegistry(
        config, instances={"qianjiang": QianjiangClient(settings), "bigdata": BigDataClient(bigdata)}
    )


def _demo_verification(host: SoarHost, ctx: SoarContext, sim: object) -> list[str]:
    """核查 one person of a completed household, change that person's Big Data records, 核查 again."""
    from soar_ext.hooks.verification import ACTION_RUN

    conn = ctx.connection
    person = conn.execute(
        select(persons.c.ryid, persons.c.xm, persons.c.sfzh, applications.c.sqid)
        .join(family_members, family_members.c.ryid == persons.c.ryid)
        .join(applications, applications.c.jtid == family_members.c.jtid)
        .where(applications.c.spzt == ApprovalStatus.COMPLETED, persons.c.sfzh.like("33%"))
        .order_by(persons.c.ryid)
        .limit(1)
    ).first()
    if person is None:
        return []
    offered = [c.label for c in host.detail_view(ctx, DetailView("person", person.ryid, person.sqid))]
    request = ActionRequest(ACTION_RUN, person.ryid, {"purpose": "演示：公租房保障资格复核"}, plugin="verification")
    first = host.action(ctx, request)
    lines = [f"人员 {person.ryid} 的详情页按钮：{'、'.join(offered) or '无'}", f"首次核查：{first.message}"]
    if not first.ok:
        return lines
    # upstream records change: the registration moves out of Hangzhou, a car is bought
    bought = {"syr": person.xm, "sfzh": person.sfzh, "hphm": "浙A12345", "hpzl": "52", "clpp": "比亚迪", "zt": "A"}
    sim.add_record(person.sfzh, "vehicles", bought)  # type: ignore[attr-defined]
    sim.set_household_status(person.sfzh, "2")  # type: ignore[attr-defined]
    second = host.action(ctx, request)
    lines.append(f"户籍迁出、新购车辆后再次核查：{second.message}")
    changes = getattr(second.data, "changes", ())
    lines += [f"  变化：{c.text}" for c in changes]
    return lines


def run_demo(engine: Engine, config: Config, *, commit: bool = False, limit: int = 300) -> DemoReport:
    """Run the demo against ``engine`` (a database built by ``soar-ext db init``)."""
    from soar_ext.hooks.exchange_inspection import ACTION_CONFIRM, SCREEN_BUSINESS, STATUS_CHOICES

    report = DemoReport(committed=commit)
    if not config.audit.get(DIGEST_KEY_SETTING):
        # a throw-away key so the demo's audit rows look like production's; never used outside this run
        config = replace(config, audit={**config.audit, DIGEST_KEY_SETTING: Secret(secrets.token_hex(16))})
    with qianjiang_simulator() as qjf, bigdata_simulator() as (bigdata_url, bigdata_state):
        host = SoarHost(config, adapters=_registry(config, qjf, bigdata_url))
        with engine.connect() as conn:
            households = conn.execute(select(func.count()).select_from(families)).scalar_one()
            conn.rollback()
            if not households:
                raise RuntimeError("the database holds no households: run `soar-ext db init` first")
            report.startup_problems = host.startup(host.context(DEMO_OPERATOR, conn))
            conn.rollback()
            trans = conn.begin()
            try:
                ctx = host.context(DEMO_OPERATOR, conn)
                drafts = conn.execute(
                    select(
                        contracts.c.htid,
                        contracts.c.pzlx,
                        contracts.c.jtid,
                        contracts.c.sqid,
                        contracts.c.hfpdid,
                        contracts.c.yj,
                    )
                    .where(contracts.c.htzt == ContractStatus.DRAFT)
                    .order_by(contracts.c.htid)
                    .limit(limit)
                ).all()
                first_blocked = None
                for d in drafts:
                    draft = ContractDraft(
                        contract_id=d.htid,
                        contract_type=d.pzlx,
                        family_id=d.jtid,
                        application_id=d.sqid,
                        exchange_pairing_id=d.hfpdid,
                        deposit=d.yj,
                    )
                    decision = host.pre_contract(ctx, draft)
                    if d.pzlx in (ContractType.NEW, ContractType.RENEWAL):
                        key = (
                            "recheck"
                            if decision.needs_recheck
                            else ("waived" if decision.deposit is not None and decision.deposit == 0 else "required")
                        )
                        report.waiver[key] += 1
                    elif d.pzlx == ContractType.EXCHANGE:
                        report.gate["allowed" if decision.allowed else "blocked"] += 1
                        if not decision.allowed:
                            if len(report.samples) < 2:
                                report.samples.append(decision.messages[0])
                            if first_blocked is None and "验房" in decision.messages[0]:
                                first_blocked = draft
                if first_blocked is not None:
                    result = host.action(
                        ctx,
                        ActionRequest(
                            key=ACTION_CONFIRM,
                            target=first_blocked.exchange_pairing_id,
                            params={"result": InspectionStatus.PASSED, "remarks": "演示：房屋设施完好"},
                        ),
                    )
                    again = host.pre_contract(ctx, first_blocked)
                    report.confirmed = f"{result.message} 再次签订：{'可以签订' if again.allowed else '仍被拦截'}。"
                base = select(exchange_pairings.c.pdid)
                for code, label in STATUS_CHOICES.items():
                    stmt = host.query_build(ctx, SCREEN_BUSINESS, base, {"inspection_status": code}).statement
                    report.filters[f"验房状态={label}"] = conn.execute(count_statement(stmt)).scalar_one()
                for code, label in (("1", "是"), ("0", "否")):
                    stmt = host.query_build(ctx, SCREEN_BUSINESS, base, {"contract_signed": code}).statement
                    report.filters[f"是否已签合同={label}"] = conn.execute(count_statement(stmt)).scalar_one()
                report.verification = _demo_verification(host, ctx, bigdata_state)
            except BaseException:
                trans.rollback()
                raise
            if commit:
                trans.commit()
            else:
                trans.rollback()
        with engine.connect() as conn:
            host.shutdown(host.context(DEMO_OPERATOR, conn))
    return report
