"""The main job on the embedded default: seeded SOAR data, simulators on loopback, plugins through the host.

``soar-ext demo`` plays what SOAR's screens do on the demo database: signs every draft
contract through ``soar_pre_contract`` (deposit waiver against the Qianjiang simulator,
exchange gate), confirms one inspection, and runs the exchange business query with each new
filter. Everything runs in one transaction that is rolled back unless ``commit`` is set.
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
from soar_ext.context import Operator
from soar_ext.db.codes import ContractStatus, ContractType, InspectionStatus
from soar_ext.db.legacy import contracts, exchange_pairings, families
from soar_ext.db.paging import count_statement
from soar_ext.hook_payloads import ActionRequest, ContractDraft
from soar_ext.host import SoarHost
from soar_ext.roles import CLERK, INSPECTOR
from soar_ext.secret import Secret

DEMO_OPERATOR = Operator(id="demo01", name="演示经办人", roles=frozenset({CLERK, INSPECTOR}), district="330106")


@dataclass
class DemoReport:
    """Counts and sample messages of one demo run."""

    waiver: Counter[str] = field(default_factory=Counter)
    gate: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    filters: dict[str, int] = field(default_factory=dict)
    confirmed: str | None = None
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
        out.append(
            "以上操作已提交。"
            if self.committed
            else "演示在事务中运行，结束后业务数据已回滚（--commit 可保留）；查询审计记录按规定保留在审计库中。"
        )
        return out


@contextmanager
def qianjiang_simulator() -> Iterator[dict[str, object]]:
    """The Qianjiang simulator on a free loopback port, with the settings a client needs."""
    from soar_ext.adapters.simulators.common import SimulatorServer
    from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_ID, DEFAULT_APP_SECRET, create_app

    server = SimulatorServer(create_app(), name="qianjiang")
    url = server.start()
    try:
        yield {"base_url": url, "app_id": DEFAULT_APP_ID, "app_secret": Secret(DEFAULT_APP_SECRET)}
    finally:
        server.stop()


def _registry(config: Config, qianjiang: dict[str, object]) -> AdapterRegistry:
    from soar_ext.adapters.qianjiang import QianjiangClient, QianjiangSettings

    settings = QianjiangSettings(
        http=HttpSettings(base_url=str(qianjiang["base_url"]), rate_per_second=200.0, burst=20),
        app_id=str(qianjiang["app_id"]),
        app_secret=qianjiang["app_secret"],  # type: ignore[arg-type]
    )
    return AdapterRegistry(config, instances={"qianjiang": QianjiangClient(settings)})


def run_demo(engine: Engine, config: Config, *, commit: bool = False, limit: int = 300) -> DemoReport:
    """Run the demo against ``engine`` (a database built by ``soar-ext db init``)."""
    from soar_ext.hooks.exchange_inspection import ACTION_CONFIRM, SCREEN_BUSINESS, STATUS_CHOICES

    report = DemoReport(committed=commit)
    if not config.audit.get(DIGEST_KEY_SETTING):
        # a throw-away key so the demo's audit rows look like production's; never used outside this run
        config = replace(config, audit={**config.audit, DIGEST_KEY_SETTING: Secret(secrets.token_hex(16))})
    with qianjiang_simulator() as qjf:
        host = SoarHost(config, adapters=_registry(config, qjf))
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
