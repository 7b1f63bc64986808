"""The console in a real headless Chromium: every landed feature driven through SOAR's screens."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from soar_ext.console.tour import fill_inspection, person_with_family, uninspected_exchange, waivable_renewal
from soar_ext.db.codes import ContractStatus, ExchangeKind, InspectionStatus
from soar_ext.db.legacy import contracts, exchange_pairings, inspections, persons
from soar_ext.idnumber import is_valid_id_number
from tests.console_env import RunningConsole
from tests.console_plugins import DOWNLOAD_BYTES, BrokenFeature, DemoFeature

ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def sign(page: Page, console: RunningConsole, htid: str, htcode: str) -> None:
    page.goto(console.url(f"/contracts?q.htcode={htcode}"))
    page.locator(f"tr[data-key='{htid}'] form.row-post button", has_text="签订").click()
    page.wait_for_selector(".flash")


def contract_row(console: RunningConsole, htid: str):  # type: ignore[no-untyped-def]
    return console.lookup(lambda conn: conn.execute(select(contracts).where(contracts.c.htid == htid)).one())


def full_ids_in(page: Page) -> list[str]:
    return [m for m in ID_SHAPED.findall(page.content()) if is_valid_id_number(m.upper())]


def test_renewal_with_a_member_above_700_is_signed_with_the_deposit_waived(console, console_page) -> None:
    contract = console.lookup(waivable_renewal)
    page = console_page("demo-clerk")
    sign(page, console, contract.htid, contract.htcode)
    flash = page.locator(".flash")
    expect(flash).to_contain_text(f"合同 {contract.htcode} 已签订")
    expect(flash).to_contain_text("高于700分，押金予以减免")
    expect(flash).to_contain_text("0.00 元")
    record = page.locator(".record .keyvalues")
    expect(record).to_contain_text("已签订")
    expect(record).to_contain_text("钱江分高于700分，押金减免")
    row = contract_row(console, contract.htid)
    assert row.htzt == ContractStatus.SIGNED and row.yj == 0 and row.yjjmbz == 1 and row.czyid == "demo-clerk"
    console.screenshot(page, "contract-deposit-waived")


def test_exchange_is_blocked_until_the_inspection_is_confirmed_then_signs(console, console_page) -> None:
    contract = console.lookup(uninspected_exchange)
    page = console_page("demo-clerk")
    sign(page, console, contract.htid, contract.htcode)
    flash = page.locator(".flash")
    expect(flash).to_contain_text("未能签订")
    expect(flash).to_contain_text(f"换房配对 {contract.pairing_code}")
    expect(flash).to_contain_text("请先在换房平台完成验房确认")
    expect(flash).to_contain_text("换房验房")  # the check that blocked
    assert contract_row(console, contract.htid).htzt == ContractStatus.DRAFT

    console.login(page, "demo-inspector")
    page.goto(console.url(f"/exchange?q.pdbh={contract.pairing_code}"))
    row = fill_inspection(page, contract.pairing_id, InspectionStatus.PASSED, "房屋设施完好")
    row.locator("form.action-form button").click()
    expect(page.locator(".flash")).to_contain_text(f"换房配对 {contract.pairing_code} 验房确认完成：验房通过")
    expect(page.locator(f"tr[data-key='{contract.pairing_id}']")).to_contain_text("验房通过")
    expect(page.locator(f"tr[data-key='{contract.pairing_id}']")).to_contain_text("李建国")

    console.login(page, "demo-clerk")
    sign(page, console, contract.htid, contract.htcode)
    expect(page.locator(".flash")).to_contain_text(f"合同 {contract.htcode} 已签订")
    assert contract_row(console, contract.htid).htzt == ContractStatus.SIGNED


def test_inspection_confirmation_needs_the_inspector_role(console, console_page) -> None:
    contract = console.lookup(uninspected_exchange)
    page = console_page("demo-trainee")
    page.goto(console.url(f"/exchange?q.pdbh={contract.pairing_code}"))
    fill_inspection(page, contract.pairing_id, InspectionStatus.PASSED, "").locator("form.action-form button").click()
    expect(page.locator(".flash .tone-error")).to_contain_text("您没有「验房人员」权限")
    status = console.lookup(
        lambda c: c.execute(select(inspections.c.yfzt).where(inspections.c.pdid == contract.pairing_id)).scalar()
    )
    assert status in (None, InspectionStatus.PENDING)


def test_exchange_business_query_filters_with_the_contributed_filters(console, console_page) -> None:
    page = console_page("demo-clerk")
    page.goto(console.url("/exchange/business"))
    form = page.locator("form.query-form")
    expect(form.locator(".field.contributed")).to_have_count(2)
    headers = page.locator("table.results thead th")
    for label in ("验房确认时间", "验房状态", "是否已签合同"):
        expect(headers.filter(has_text=label)).to_have_count(1)
    form.locator("select[name='x.inspection_status']").select_option(InspectionStatus.PASSED)
    form.locator("button", has_text="查询").click()
    expected = console.lookup(
        lambda c: c.execute(
            select(func.count())
            .select_from(exchange_pairings.join(inspections, inspections.c.pdid == exchange_pairings.c.pdid))
            .where(
                exchange_pairings.c.hflx == ExchangeKind.ALLOCATED,
                exchange_pairings.c.pdcgsj.is_not(None),
                inspections.c.yfzt == InspectionStatus.PASSED,
            )
        ).scalar_one()
    )
    assert expected > 0
    expect(page.locator(".result-head .total")).to_have_text(f"{expected:,}")
    status_column = [h.strip() for h in headers.all_inner_texts()].index("验房状态")
    cells = page.locator(f"table.results tbody tr td:nth-child({status_column + 1})").all_inner_texts()
    assert cells and set(cells) == {"验房通过"}

    form.locator("select[name='x.contract_signed']").select_option("1")
    form.locator("button", has_text="查询").click()
    signed_column = [h.strip() for h in headers.all_inner_texts()].index("是否已签合同")
    signed = page.locator(f"table.results tbody tr td:nth-child({signed_column + 1})").all_inner_texts()
    assert signed and set(signed) == {"是"}


def test_a_plugin_that_raises_leaves_its_screens_usable_with_a_notice(console_factory, console_page) -> None:
    running = console_factory(plugins=[("broken_feature", BrokenFeature())])
    page = console_page("demo-clerk", running)
    page.goto(running.url("/exchange/business"))
    expect(page.locator(".plugin-notice")).to_contain_text("扩展功能「故障演示」运行出错")
    expect(page.locator("form.query-form .field.contributed")).to_have_count(2)  # the other plugin's filters stay
    expect(page.locator("table.results tbody tr").first).to_be_visible()

    person_id, name = running.lookup(person_with_family)
    page.goto(running.url(f"/persons/{person_id}"))
    expect(page.locator(".plugin-notice")).to_contain_text("故障演示")
    expect(page.locator(".record")).to_contain_text(name)

    page.goto(running.url("/housing"))
    expect(page.locator(".query-warning")).to_contain_text("扩展查询条件「故障演示」暂不可用")
    expect(page.locator("table.results tbody tr").first).to_be_visible()


def test_an_operator_without_the_role_sees_the_action_disabled_with_the_reason(console_factory, console_page) -> None:
    running = console_factory(plugins=[("demo_feature", DemoFeature())])
    person_id, _name = running.lookup(person_with_family)
    page = console_page("demo-trainee", running)
    page.goto(running.url(f"/persons/{person_id}"))
    action = page.locator(".contributed-action")
    expect(action.locator("button")).to_be_disabled()
    expect(action).to_contain_text("您没有「核查人员」权限")
    expect(action.locator("input[name='in.purpose']")).to_have_count(0)


def test_contributed_action_sends_its_inputs_and_shows_the_result(console_factory, console_page, tmp_path) -> None:
    feature = DemoFeature()
    running = console_factory(plugins=[("demo_feature", feature)])
    person_id, _name = running.lookup(person_with_family)
    page = console_page("demo-clerk", running)
    page.goto(running.url(f"/persons/{person_id}"))
    action = page.locator(".contributed-action")
    action.locator("input[name='in.purpose']").fill("业务办结后复核")
    action.locator("input[name='in.categories'][value='03']").check()
    upload = tmp_path / "说明.txt"
    upload.write_bytes(b"12345")
    action.locator("input[name='in.attachment']").set_input_files(str(upload))
    action.locator("button", has_text="开始核查").click()
    flash = page.locator(".flash")
    expect(flash).to_contain_text("核查完成：事由「业务办结后复核」")
    expect(flash).to_contain_text("车辆")
    expect(flash).to_contain_text("5")
    sent = feature.requests[-1]
    assert sent.plugin == "demo_feature" and sent.target == person_id and sent.params["entity"] == "person"
    assert sent.params["attachment"] == ("说明.txt", b"12345") and sent.params["categories"] == ["03"]


def test_every_generic_block_is_drawn_and_its_buttons_work(console_factory, console_page) -> None:
    feature = DemoFeature()
    running = console_factory(plugins=[("demo_feature", feature)])
    person_id, _name = running.lookup(person_with_family)
    page = console_page("demo-clerk", running)
    page.goto(running.url(f"/persons/{person_id}"))
    panel = page.locator("section.panel[data-plugin='demo_feature']")
    expect(panel.locator("h2")).to_have_text("演示面板")
    expect(panel.locator(".badge.tone-ok").first).to_have_text("正常")
    expect(panel.locator(".notice.tone-warn").first).to_contain_text("这是一条提示。")
    expect(panel.locator(".keyvalues").first).to_contain_text("最近一次核查")
    expect(panel.locator("table.grid tr.tone-row-error")).to_contain_text("查询失败")
    expect(panel.locator(".progress-block")).to_contain_text("已完成 50 / 200（25%），失败 2")
    expect(panel.locator(".progress-block")).to_contain_text("约 1 分 35 秒")
    expect(panel.locator(".section-block")).to_contain_text("分组内的提示")

    with page.expect_download() as download:
        panel.locator("button", has_text="下载清单").click()
    assert download.value.suggested_filename == "清单.csv"
    assert Path(download.value.path()).read_bytes() == DOWNLOAD_BYTES

    panel.locator("input[name='selected'][value='r2']").check()
    panel.locator("button", has_text="处理所选").click()
    expect(page.locator(".flash")).to_contain_text("已处理 1 条：r2")

    page.locator("section.panel[data-plugin='demo_feature'] button", has_text="删除记录").click()  # confirm accepted
    expect(page.locator(".flash")).to_contain_text("已处理记录 x1")
    assert [r.plugin for r in feature.requests] == ["demo_feature"] * 3


def test_job_progress_redraws_itself_while_the_job_runs(console_factory, console_page) -> None:
    running = console_factory(plugins=[("demo_feature", DemoFeature())])
    page = console_page("demo-clerk", running)
    page.goto(running.url("/jobs"))
    expect(page.locator("table.grid")).to_contain_text("演示作业")
    response = page.goto(running.url("/jobs/demo.job"))
    assert response is not None and "已完成 2 / 10" in response.text()  # as the server first drew it
    page.evaluate("window.__not_reloaded = true")
    progress = page.locator(".progress-block")
    expect(progress).to_contain_text("已完成 10 / 10", timeout=10_000)
    assert page.evaluate("window.__not_reloaded === true")  # redrawn without reloading the page
    expect(progress).not_to_have_attribute("data-refresh-seconds", re.compile(".+"))


PAGES_WITH_PEOPLE = (
    "/contracts",
    "/exchange",
    "/exchange/business",
    "/persons",
    "/persons?q.xm=王",
    "/allocation/selection",
    "/allocation/adjustment",
    "/housing",
)


def test_no_full_id_number_on_any_page_for_an_operator_without_full_id(console, console_page) -> None:
    person_id, _name = console.lookup(person_with_family)
    contract = console.lookup(waivable_renewal)
    page = console_page("demo-clerk")
    visited = [*PAGES_WITH_PEOPLE, f"/persons/{person_id}", f"/contracts/{contract.htid}"]
    batch = page.goto(console.url("/allocation/selection"))
    assert batch is not None
    first_batch = page.locator("table.results a.row-link").first.get_attribute("href")
    visited.append(str(first_batch))
    for path in visited:
        page.goto(console.url(path))
        assert full_ids_in(page) == [], path
    person_ids = console.lookup(lambda c: c.execute(select(func.count()).select_from(persons)).scalar_one())
    assert person_ids > 0

    console.login(page, "demo-chief")
    page.goto(console.url(f"/persons/{person_id}"))
    number = console.lookup(lambda c: c.execute(select(persons.c.sfzh).where(persons.c.ryid == person_id)).scalar())
    assert number in full_ids_in(page)
