"""A guided tour of every screen, captured as screenshots (``soar-ext console screenshots --out DIR``).

:data:`TOUR` lists the shots in manual order; each one drives a browser page (Playwright's sync
API) to the state worth showing. The data finders below pick suitable records from the
synthetic database (a renewal whose deposit will be waived, an exchange still waiting for its
inspection, …); the browser tests use them too. A feature that adds a screen or a state worth
showing adds a :class:`Shot` here and re-runs the command into ``docs/screenshots``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, exists, func, select

from soar_ext.config import Config
from soar_ext.db.codes import (
    AllocationBatchStatus,
    AllocationKind,
    ApprovalStatus,
    ContractStatus,
    ContractType,
    ExchangeKind,
    GuaranteeType,
    InspectionStatus,
    PairingStatus,
)
from soar_ext.db.legacy import (
    allocation_applicants,
    allocation_batches,
    allocation_houses,
    applications,
    coconstruction_projects,
    contracts,
    exchange_pairings,
    families,
    family_members,
    inspections,
    lottery_results,
    persons,
)
from soar_ext.idnumber import age_on, is_valid_id_number

if TYPE_CHECKING:
    from playwright.sync_api import Page

VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=zh-CN",
)
TOUR_SEED = 20190601


class ScreenshotError(RuntimeError):
    """The screenshots cannot be taken (no browser, no Playwright); the message says what to install."""


# ------------------------------------------------------------------------------- data finders


@dataclass(frozen=True)
class DraftContract:
    htid: str
    htcode: str
    family_id: str
    pairing_id: str | None = None
    pairing_code: str | None = None


def waivable_renewal(conn: Connection, on: dt.date | None = None) -> DraftContract:
    """A draft renewal (续租) whose family has an adult member the Qianjiang simulator scores above 700."""
    from soar_ext.adapters.simulators.qianjiang import simulated_score

    today = on or dt.date.today()
    drafts = conn.execute(
        select(contracts.c.htid, contracts.c.htcode, contracts.c.jtid)
        .where(contracts.c.htzt == ContractStatus.DRAFT, contracts.c.pzlx == ContractType.RENEWAL)
        .order_by(contracts.c.htcode)
    ).all()
    for draft in drafts:
        ids = conn.execute(
            select(persons.c.sfzh)
            .join(family_members, family_members.c.ryid == persons.c.ryid)
            .where(family_members.c.jtid == draft.jtid)
        ).scalars()
        for number in ids:
            if is_valid_id_number(number) and age_on(number, today) >= 18 and (simulated_score(number) or 0) > 700:
                return DraftContract(draft.htid, draft.htcode, draft.jtid)
    raise LookupError("no draft renewal with a member scoring above 700")


def uninspected_exchange(conn: Connection) -> DraftContract:
    """A draft exchange contract (换房) on a matched, allocated pairing whose inspection is still pending."""
    p, i = exchange_pairings, inspections
    decided = exists().where(i.c.pdid == p.c.pdid, i.c.yfzt.in_([InspectionStatus.PASSED, InspectionStatus.FAILED]))
    row = conn.execute(
        select(contracts.c.htid, contracts.c.htcode, contracts.c.jtid, p.c.pdid, p.c.pdbh)
        .join(p, p.c.pdid == contracts.c.hfpdid)
        .where(
            contracts.c.htzt == ContractStatus.DRAFT,
            contracts.c.pzlx == ContractType.EXCHANGE,
            p.c.pdzt == PairingStatus.MATCHED,
            p.c.hflx == ExchangeKind.ALLOCATED,
            ~decided,
        )
        .order_by(contracts.c.htcode)
    ).first()
    if row is None:
        raise LookupError("no draft exchange contract waiting for its inspection")
    return DraftContract(row.htid, row.htcode, row.jtid, row.pdid, row.pdbh)


def person_with_family(conn: Connection) -> tuple[str, str]:
    """(ryid, name) of a main applicant with a family of several members."""
    size = (
        select(func.count()).select_from(family_members).where(family_members.c.jtid == families.c.jtid)
    ).scalar_subquery()
    row = conn.execute(
        select(persons.c.ryid, persons.c.xm)
        .join(families, families.c.sqrid == persons.c.ryid)
        .where(size >= 3)
        .order_by(persons.c.ryid)
    ).first()
    if row is None:
        raise LookupError("no family with three members")
    return row.ryid, row.xm


@dataclass(frozen=True)
class Person:
    ryid: str
    name: str
    id_number: str


def _main_applicants_by_latest_application(conn: Connection, completed: bool) -> Iterator[Person]:
    """Main applicants with a Zhejiang ID number whose family's latest application is (or is not) 业务办结."""
    newer = applications.alias("newer")
    latest = ~exists().where(
        newer.c.jtid == applications.c.jtid,
        (newer.c.sqrq > applications.c.sqrq)
        | ((newer.c.sqrq == applications.c.sqrq) & (newer.c.sqid > applications.c.sqid)),
    )
    status = (
        applications.c.spzt == ApprovalStatus.COMPLETED
        if completed
        else applications.c.spzt != ApprovalStatus.COMPLETED
    )
    rows = conn.execute(
        select(persons.c.ryid, persons.c.xm, persons.c.sfzh)
        .join(families, families.c.sqrid == persons.c.ryid)
        .join(applications, applications.c.jtid == families.c.jtid)
        .where(status, latest, persons.c.sfzh.like("33%"))
        .order_by(persons.c.ryid)
    )
    for row in rows:
        if is_valid_id_number(row.sfzh):
            yield Person(row.ryid, row.xm, row.sfzh)


def verifiable_person(conn: Connection) -> Person:
    """A main applicant whose business is completed (业务办结): the person page offers 核查."""
    for person in _main_applicants_by_latest_application(conn, completed=True):
        return person
    raise LookupError("no main applicant with a completed application")


def unfinished_person(conn: Connection) -> Person:
    """A main applicant whose family's application is not completed yet: no 核查 on the person page."""
    for person in _main_applicants_by_latest_application(conn, completed=False):
        return person
    raise LookupError("no main applicant with an application in progress")


def first_project(conn: Connection) -> str:
    return str(conn.execute(select(func.min(coconstruction_projects.c.pjxmid))).scalar_one())


def surveyed_project(conn: Connection, index: int = 0) -> str:
    """A co-construction project that the surveying service knows by the same number and name."""
    from soar_ext.adapters.simulators.survey import survey_catalog
    from soar_ext.synthetic.build import SURVEY_CATALOG_SEED

    number, _name = survey_catalog(SURVEY_CATALOG_SEED)[index]
    stmt = select(coconstruction_projects.c.pjxmid).where(coconstruction_projects.c.xmbh == number)
    return str(conn.execute(stmt).scalar_one())


#: a minimal PDF for the 收件 shots and tests
SAMPLE_PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def receive_documents(page: Page, files: Mapping[str, tuple[str, bytes]]) -> None:
    """Fill the 收件 form of the open project page (document type code -> (file name, bytes)) and submit it."""
    for code, (name, data) in files.items():
        page.set_input_files(f"#doc-{code}", files=[{"name": name, "mimeType": "application/pdf", "buffer": data}])
    page.locator("#receive button", has_text="收件").click()
    page.wait_for_selector(".flash")


def click_in_panel(page: Page, panel: str, label: str) -> None:
    """Click a button inside a contributed panel (重新同步, 确认关联, 立即上传) and wait for the answer."""
    page.locator("section.panel", has_text=panel).locator("button", has_text=label).first.click()
    page.wait_for_selector(".flash")


def batch_with_houses(conn: Connection, kind: str) -> str:
    """A batch of ``kind`` that already holds houses."""
    b, fy = allocation_batches, allocation_houses
    row = conn.execute(
        select(b.c.pcid).where(b.c.hblx == kind, exists().where(and_(fy.c.pcid == b.c.pcid))).order_by(b.c.cjsj.desc())
    ).first()
    if row is None:
        raise LookupError(f"no allocation batch of kind {kind}")
    return str(row.pcid)


def open_batch(conn: Connection, kind: str) -> str:
    """The newest open (办理中) batch of ``kind`` holding applicants and houses."""
    b, fy, ry = allocation_batches, allocation_houses, allocation_applicants
    row = conn.execute(
        select(b.c.pcid)
        .where(
            b.c.hblx == kind,
            b.c.pczt == AllocationBatchStatus.OPEN,
            exists().where(and_(fy.c.pcid == b.c.pcid)),
            exists().where(and_(ry.c.pcid == b.c.pcid)),
        )
        .order_by(b.c.cjsj.desc())
    ).first()
    if row is None:
        raise LookupError(f"no open allocation batch of kind {kind}")
    return str(row.pcid)


@dataclass(frozen=True)
class LowRentCandidate:
    """A 廉租房 applicant who may still be added to a selection batch (for 筛选廉租房人员 → 添加)."""

    sqid: str
    name: str
    lottery_year: int


def addable_low_rent(conn: Connection) -> LowRentCandidate:
    """A qualified 廉租房 applicant with a lottery result, no lease and in no open batch, named plainly."""
    a, j, r, y, ry, b = applications, families, persons, lottery_results, allocation_applicants, allocation_batches
    in_open_batch = exists().where(
        and_(ry.c.sqid == a.c.sqid, ry.c.pcid == b.c.pcid, b.c.pczt == AllocationBatchStatus.OPEN)
    )
    leased = exists().where(
        and_(contracts.c.jtid == a.c.jtid, contracts.c.htzt.in_([ContractStatus.SIGNED, ContractStatus.DRAFT]))
    )
    rows = conn.execute(
        select(a.c.sqid, r.c.xm, y.c.yhnd)
        .select_from(a.join(j, j.c.jtid == a.c.jtid).join(r, r.c.ryid == j.c.sqrid).join(y, y.c.sqid == a.c.sqid))
        .where(
            a.c.bzlx == GuaranteeType.LOW_RENT,
            a.c.spzt.in_([ApprovalStatus.QUALIFIED, ApprovalStatus.COMPLETED]),
            ~in_open_batch,
            ~leased,
        )
        .order_by(y.c.yhnd.desc(), y.c.qs, y.c.sxh)
    ).all()
    for row in rows:
        if "%" not in row.xm and "_" not in row.xm:
            return LowRentCandidate(row.sqid, row.xm, int(row.yhnd))
    raise LookupError("no 廉租房 applicant who may still be added to a selection batch")


# ------------------------------------------------------------------------------- the tour


@dataclass
class TourContext:
    """What a shot drives: the page, the console's address and SOAR's database."""

    page: Page
    base_url: str
    engine: Engine
    memo: dict[str, Any] = field(default_factory=dict)
    simulators: Mapping[str, str] = field(default_factory=dict)  # name -> base URL (admin routes)
    runtime: Any = None  # the console's ConsoleRuntime: a shot may run a batch worker as a node would

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url.rstrip("/") + path)

    def login(self, operator_id: str) -> None:
        login(self.page, self.base_url, operator_id)

    def lookup(self, finder: Callable[[Connection], Any]) -> Any:
        with self.engine.connect() as conn:
            return finder(conn)


def login(page: Page, base_url: str, operator_id: str) -> None:
    """Choose a demo operator in the picker (as a user would)."""
    page.goto(base_url.rstrip("/") + "/")
    page.select_option("#operator-select", operator_id)
    page.click(".operator-picker button")
    page.wait_for_selector(".flash")


@dataclass(frozen=True)
class Shot:
    """One screenshot: the file stem, its caption, and how to get the page there."""

    name: str
    title: str
    take: Callable[[TourContext], None]


def _contracts(t: TourContext) -> None:
    t.login("demo-clerk")
    t.goto("/contracts")


def _sign(t: TourContext, contract: DraftContract) -> None:
    t.goto(f"/contracts?q.htcode={contract.htcode}")
    t.page.click(f"tr[data-key='{contract.htid}'] form.row-post button")
    t.page.wait_for_selector(".flash")


def _waived(t: TourContext) -> None:
    _sign(t, t.lookup(waivable_renewal))


def _exchange(t: TourContext) -> DraftContract:
    """The exchange contract the tour follows from 拦截 to 验房确认 to 签订."""
    if "exchange" not in t.memo:
        t.memo["exchange"] = t.lookup(uninspected_exchange)
    return t.memo["exchange"]  # type: ignore[no-any-return]


def _blocked(t: TourContext) -> None:
    _sign(t, _exchange(t))


def _inspection_form(t: TourContext) -> None:
    contract = _exchange(t)
    t.login("demo-inspector")
    t.goto(f"/exchange?q.pdbh={contract.pairing_code}")
    fill_inspection(t.page, contract.pairing_id or "", InspectionStatus.PASSED, "房屋及设施完好，钥匙已交接")


def fill_inspection(page: Page, pairing_id: str, result: str, remarks: str) -> Any:
    """Open 验房确认 on the pairing's row and fill it in; returns the row."""
    row = page.locator(f"tr[data-key='{pairing_id}']")
    row.locator("summary", has_text="验房确认").click()
    row.locator("select[name='in.result']").select_option(result)
    row.locator("input[name='in.remarks']").fill(remarks)
    return row


def _inspection_confirmed(t: TourContext) -> None:
    _inspection_form(t)
    t.page.locator(f"tr[data-key='{_exchange(t).pairing_id}'] form.action-form button").click()
    t.page.wait_for_selector(".flash")


def _signed_after_inspection(t: TourContext) -> None:
    t.login("demo-clerk")
    _sign(t, _exchange(t))


def _business(t: TourContext) -> None:
    t.login("demo-clerk")
    t.goto("/exchange/business?x.inspection_status=00")


def _persons(t: TourContext) -> None:
    t.goto("/persons?q.xm=王")


def _person(t: TourContext) -> None:
    person_id, _name = t.lookup(person_with_family)
    t.goto(f"/persons/{person_id}")


def _person_full_ids(t: TourContext) -> None:
    t.login("demo-chief")
    _person(t)


VERIFICATION_PURPOSE = "公租房保障资格年度复核"
VERIFY_ACTION = ".contributed-action[data-plugin='verification'][data-key='verification.run']"


def _verification_form(t: TourContext) -> None:
    t.login("demo-clerk")
    person = t.memo.setdefault("verifiable", t.lookup(verifiable_person))
    t.goto(f"/persons/{person.ryid}")
    t.page.locator(f"{VERIFY_ACTION} textarea[name='in.purpose']").fill(VERIFICATION_PURPOSE)


def verify_on_page(page: Page) -> None:
    """Click 核查 on the person page (the purpose filled in) and wait for the result."""
    page.locator(f"{VERIFY_ACTION} button", has_text="核查").click()
    page.wait_for_selector(".flash")


def _verification_result(t: TourContext) -> None:
    _verification_form(t)
    verify_on_page(t.page)


def _verification_changes(t: TourContext) -> None:
    """The Big Data Bureau now reports a car bought and the registration moved out: the second check says so."""
    import httpx

    person = t.memo["verifiable"]
    bigdata = t.simulators.get("bigdata")
    if bigdata:
        car = {"hphm": "浙A12345", "hpzl": "52", "clpp": "比亚迪", "ccdjrq": "20241101", "zt": "A"}
        admin = f"{bigdata}/_admin"
        httpx.post(f"{admin}/records/{person.id_number}/vehicles", json={"record": car}, timeout=5).raise_for_status()
        httpx.put(f"{admin}/household/{person.id_number}", json={"status": "2"}, timeout=5).raise_for_status()
    _verification_form(t)
    verify_on_page(t.page)


def _projects(t: TourContext) -> None:
    t.login("demo-clerk")
    t.goto("/projects")


def _project(t: TourContext) -> None:
    t.goto(f"/projects/{t.lookup(first_project)}")


def _project_coconstruction(t: TourContext) -> None:
    from soar_ext.db.codes import DocumentType

    t.login("demo-clerk")
    t.goto(f"/projects/{t.lookup(surveyed_project)}")
    click_in_panel(t.page, "测绘关联", "重新同步")
    files = {code: (f"{label}.pdf", SAMPLE_PDF + code.encode()) for code, label in DocumentType.LABELS.items()}
    receive_documents(t.page, files)
    click_in_panel(t.page, "收件资料上传", "立即上传")


def _project_edit(t: TourContext) -> None:
    t.goto(f"/projects/{t.lookup(first_project)}/edit")


def _batches(t: TourContext) -> None:
    t.goto("/allocation/adjustment")


def _adjustment_batch(t: TourContext) -> None:
    t.goto(f"/allocation/adjustment/{t.lookup(lambda c: batch_with_houses(c, AllocationKind.ADJUSTMENT))}")


def _selection_batch(t: TourContext) -> None:
    t.goto(f"/allocation/selection/{t.lookup(lambda c: batch_with_houses(c, AllocationKind.SELECTION))}")


def _housing(t: TourContext) -> None:
    t.goto("/housing?q.fyzt=01")


def _open_adjustment(t: TourContext) -> None:
    if "adjustment" not in t.memo:
        t.memo["adjustment"] = t.lookup(lambda c: open_batch(c, AllocationKind.ADJUSTMENT))
    t.goto(f"/allocation/adjustment/{t.memo['adjustment']}")


def click_contributed(page: Page, label: str) -> None:
    """Click a contributed action of the page (推荐配对, 导出清单, 筛选廉租房人员 …) and wait for the answer."""
    page.locator(".contributed-action button", has_text=label).click()
    page.wait_for_selector(".flash")


def _suggestion(t: TourContext) -> None:
    _open_adjustment(t)
    click_contributed(t.page, "推荐配对")


def _links(t: TourContext) -> None:
    _suggestion(t)
    t.page.locator(".flash button", has_text="全部采纳").click()
    t.page.wait_for_selector(".flash")
    t.page.locator(
        "section.panel[data-plugin='allocation'] h2", has_text="申请人与房源关联"
    ).scroll_into_view_if_needed()


def search_low_rent(page: Page, **inputs: str) -> None:
    """Fill 筛选廉租房人员 (input key → value) and run it."""
    form = page.locator(".contributed-action form", has=page.locator("button", has_text="筛选"))
    for key, value in inputs.items():
        field = form.locator(f"[name='in.{key}']")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator("button", has_text="筛选").click()
    page.wait_for_selector(".flash")


def _open_selection(t: TourContext) -> None:
    if "selection" not in t.memo:
        t.memo["selection"] = t.lookup(lambda c: open_batch(c, AllocationKind.SELECTION))
        t.memo["candidate"] = t.lookup(addable_low_rent)
    t.goto(f"/allocation/selection/{t.memo['selection']}")


def _low_rent_search(t: TourContext) -> None:
    _open_selection(t)
    candidate = t.memo["candidate"]
    search_low_rent(
        t.page, lottery_year=str(candidate.lottery_year), applicant_name=candidate.name[:1], name_match="prefix"
    )
    t.page.locator(".flash input[name='selected']").first.wait_for()


def _low_rent_added(t: TourContext) -> None:
    _open_selection(t)
    candidate = t.memo["candidate"]
    search_low_rent(t.page, applicant_name=candidate.name, lottery_year=str(candidate.lottery_year))
    t.page.locator(f".flash input[name='selected'][value='{candidate.sqid}']").check()
    t.page.locator(".flash button", has_text="添加").click()
    t.page.wait_for_selector(".flash")


def _housing_allocated(t: TourContext) -> None:
    t.goto("/housing?x.allocated=1")


def _jobs(t: TourContext) -> None:
    t.goto("/jobs")


def first_certificates(conn: Connection, limit: int) -> list[str]:
    """The first ``limit`` 配租资格证号 of the database, in order."""
    stmt = (
        select(applications.c.pzzgzh)
        .where(applications.c.pzzgzh.is_not(None))
        .order_by(applications.c.pzzgzh)
        .limit(limit)
    )
    return list(conn.execute(stmt).scalars())


def _hukou_check(t: TourContext) -> None:
    """One job started from a list of 配租资格证号 and checked by a worker; one by district, just started."""
    from soar_ext.hukou import jobs, service

    if t.runtime is None:
        raise ScreenshotError("the 户籍批量核查 shot runs a worker: pass the console's runtime to run_tour")
    t.login("demo-clerk")
    t.goto("/jobs/hukou_check")
    certificates = t.lookup(lambda c: first_certificates(c, 4))
    form = t.page.locator(".contributed-action", has_text="发起核查")
    listing = "\n".join([*certificates, "HZGZ-2019-99999"]).encode()
    form.locator("input[type=file]").set_input_files(
        files=[{"name": "证号清单.txt", "mimeType": "text/plain", "buffer": listing}]
    )
    form.locator("button", has_text="发起核查").click()
    t.page.wait_for_selector(".flash")
    job_id = t.lookup(lambda c: jobs.recent_jobs(c, 1)[0].job_id)
    runtime = t.runtime
    with runtime.engine.connect() as conn:
        ctx = runtime.host.context(runtime.operator("demo-clerk"), conn).for_plugin("hukou_check", "on")
    settings = service.settings_of(ctx).with_quota(rate=100, concurrency=10)
    service.work(runtime.engine, ctx, job_id, settings=settings)
    t.goto("/jobs/hukou_check")
    form = t.page.locator(".contributed-action", has_text="发起核查")
    form.locator("input[name='in.districts']").first.check()
    form.locator("button", has_text="发起核查").click()
    t.page.wait_for_selector(".flash")


def _plugins(t: TourContext) -> None:
    t.login("demo-admin")
    t.goto("/plugins")


def _audit(t: TourContext) -> None:
    t.login("demo-admin")
    t.goto("/audit")


TOUR: tuple[Shot, ...] = (
    Shot("01-home", "首页与演示操作员切换", lambda t: (t.login("demo-clerk"), t.goto("/"))[-1]),
    Shot("02-contracts", "合同签订：待签订合同列表", _contracts),
    Shot("03-contract-deposit-waived", "合同签订：续租合同押金减免后签订", _waived),
    Shot("04-contract-exchange-blocked", "合同签订：换房合同因未验房被拦截", _blocked),
    Shot("05-exchange-inspection-form", "换房平台：验房确认（填写验房结果）", _inspection_form),
    Shot("06-exchange-inspection-confirmed", "换房平台：验房确认完成", _inspection_confirmed),
    Shot("07-contract-exchange-signed", "合同签订：验房确认后换房合同签订", _signed_after_inspection),
    Shot("08-exchange-business-query", "换房平台：换房业务查询（按验房状态筛选）", _business),
    Shot("09-persons", "人员信息查询", _persons),
    Shot("10-person-detail", "人员详情（身份证号脱敏）", _person),
    Shot("11-person-detail-full-id", "人员详情（具备查看完整身份证号权限）", _person_full_ids),
    Shot("12-projects", "配建项目列表", _projects),
    Shot("13-project-detail", "配建项目详情与收件", _project),
    Shot("14-project-edit", "配建项目编辑", _project_edit),
    Shot("15-project-coconstruction", "配建项目：测绘关联、面积套数与收件资料上传状态", _project_coconstruction),
    Shot("16-adjustment-batches", "调房划拨：批次列表", _batches),
    Shot("17-adjustment-batch", "调房划拨：批次页面（选择申请人与房源）", _adjustment_batch),
    Shot("18-selection-batch", "选房划拨：批次页面（选房申请人查询）", _selection_batch),
    Shot("19-housing", "房源查询", _housing),
    Shot("20-adjustment-suggestion", "调房划拨：推荐配对", _suggestion),
    Shot("21-adjustment-links", "调房划拨：全部采纳后的申请人与房源一对一关联", _links),
    Shot("22-selection-low-rent-search", "选房划拨：筛选廉租房人员", _low_rent_search),
    Shot("23-selection-low-rent-added", "选房划拨：勾选后添加到本批次", _low_rent_added),
    Shot("24-housing-allocated", "房源查询：是否已划拨 = 是", _housing_allocated),
    Shot("25-hukou-check", "批量作业：户籍批量核查（发起、进度、下载清单）", _hukou_check),
    Shot("26-jobs", "批量作业", _jobs),
    Shot("27-plugins", "插件状态", _plugins),
    Shot("28-audit", "审计日志", _audit),
    Shot("29-person-verification-form", "人员详情：核查（填写查询事由）", _verification_form),
    Shot("30-verification-result", "核查结果：12类大数据共享数据", _verification_result),
    Shot("31-verification-changes", "再次核查：与上次核查相比的变化（新增车辆、户籍迁出）", _verification_changes),
)


def run_tour(
    page: Page,
    base_url: str,
    engine: Engine,
    out: Path,
    shots: Sequence[Shot] = TOUR,
    *,
    simulators: Mapping[str, str] | None = None,
    runtime: Any = None,
) -> list[Path]:
    """Take ``shots`` in order with ``page`` (full-page PNGs named ``<shot>.png`` in ``out``).

    ``simulators`` (name -> base URL) lets a shot change a simulator's data through its admin routes;
    ``runtime`` (the console's :class:`ConsoleRuntime`) lets a shot run a batch worker as a node would.
    """
    out.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(VIEWPORT)  # type: ignore[arg-type]
    page.on("dialog", lambda dialog: dialog.accept())
    context = TourContext(page, base_url, engine, simulators=dict(simulators or {}), runtime=runtime)
    written = []
    for shot in shots:
        shot.take(context)
        page.wait_for_load_state("networkidle")
        path = out / f"{shot.name}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    return written


@contextmanager
def demo_console(database_url: str, *, plugins: Sequence[tuple[str, object]] = ()) -> Iterator[tuple[str, Any]]:
    """A console on ``database_url`` with the simulators, served on a free loopback port: ``(url, runtime)``."""
    from soar_ext.adapters.simulators.common import SimulatorServer
    from soar_ext.console.app import create_app
    from soar_ext.console.runtime import ConsoleRuntime
    from soar_ext.console.serve import running_simulators, with_audit_key, with_simulators

    config = with_audit_key(replace(Config(), database_url=database_url), database_url)
    with running_simulators() as urls:
        runtime = ConsoleRuntime(with_simulators(config, urls), plugins=plugins)
        runtime.start()
        server = SimulatorServer(create_app(runtime), name="console")
        try:
            yield server.start(), runtime
        finally:
            server.stop()
            runtime.stop()


def take_screenshots(out: Path, *, chromium: str = CHROMIUM, households: int = 1000) -> list[Path]:
    """Build a throwaway demo database, serve the console and capture :data:`TOUR` into ``out``."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ScreenshotError("screenshots need Playwright: pip install 'soar-ext[test]'") from None
    if not Path(chromium).exists():
        raise ScreenshotError(f"browser not found at {chromium}: apt-get install chromium fonts-noto-cjk")
    from soar_ext.db.embedded import init_embedded

    workdir = Path(tempfile.mkdtemp(prefix="soar-console-shots-"))
    try:
        url = f"sqlite:///{workdir / 'tour.db'}"
        init_embedded(url, households=households, seed=TOUR_SEED)
        with demo_console(url) as (base_url, runtime), sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=list(CHROMIUM_ARGS), env={**os.environ, "LANGUAGE": "zh_CN"}
            )
            try:
                page = browser.new_page(viewport=VIEWPORT, locale="zh-CN")  # type: ignore[arg-type]
                adapters = runtime.config.adapters.items()
                urls = {name: str(section["base_url"]) for name, section in adapters if section.get("base_url")}
                return run_tour(page, base_url, runtime.engine, out, simulators=urls, runtime=runtime)
            finally:
                browser.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
