"""核查 in the stand-in console, in a real headless Chromium: the person page, the result, the changes, a re-run."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from soar_ext.adapters.bigdata.categories import CATEGORIES, CATEGORY_CODES
from soar_ext.console.tour import (
    VERIFICATION_PURPOSE,
    VERIFY_ACTION,
    unfinished_person,
    verifiable_person,
    verify_on_page,
)
from soar_ext.idnumber import is_valid_id_number
from tests.console_env import RunningConsole

ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
LABELS = [CATEGORIES[code].label for code in CATEGORY_CODES]


def full_ids_in(page: Page) -> list[str]:
    return [m for m in ID_SHAPED.findall(page.content()) if is_valid_id_number(m.upper())]


def open_person(page: Page, console: RunningConsole, ryid: str, purpose: str = VERIFICATION_PURPOSE) -> None:
    page.goto(console.url(f"/persons/{ryid}"))
    page.locator(f"{VERIFY_ACTION} textarea[name='in.purpose']").fill(purpose)


def test_clerk_verifies_a_person_sees_twelve_sources_then_what_changed_and_reruns_a_failed_one(
    console, console_page
) -> None:
    person = console.lookup(verifiable_person)
    sim = console.simulators["bigdata"].app.state.sim
    page = console_page("demo-clerk")
    open_person(page, console, person.ryid)
    console.screenshot(page, "verification-form")
    verify_on_page(page)
    flash = page.locator(".flash")
    expect(flash).to_contain_text("核查完成，12类中")
    expect(flash).to_contain_text("无上次核查结果可比较")
    titles = flash.locator(".section-block h3.block-title, .section-block h4.block-title")
    for label in LABELS:
        expect(flash).to_contain_text(label)
    expect(flash).to_contain_text("核查概况")
    expect(flash).to_contain_text(VERIFICATION_PURPOSE)
    expect(flash).to_contain_text("获取时间")
    assert titles.count() >= 1
    assert full_ids_in(page) == []
    console.screenshot(page, "verification-result")

    # the Big Data Bureau's records change: the registration moved out of Hangzhou, a car was bought
    sim.add_record(person.id_number, "vehicles", {"hphm": "浙A12345", "hpzl": "52", "clpp": "比亚迪", "zt": "A"})
    sim.set_household_status(person.id_number, "2")
    open_person(page, console, person.ryid)
    verify_on_page(page)
    flash = page.locator(".flash")
    expect(flash).to_contain_text("与上次核查相比有2项变化")
    changes = flash.locator(".section-block", has_text="与上次核查相比的变化").first.locator("table tbody tr")
    expect(changes).to_have_count(2)
    expect(changes.nth(0)).to_contain_text("新增车辆 浙A·12345")
    expect(changes.nth(1)).to_contain_text("户籍 迁出")
    assert full_ids_in(page) == []
    console.screenshot(page, "verification-changes")

    # one source answers garbage: that category fails, the others are shown, a re-run fills it in
    sim.plan.set("malformed", count=1)
    open_person(page, console, person.ryid)
    verify_on_page(page)
    flash = page.locator(".flash")
    expect(flash.locator(".badge.tone-error", has_text="查询失败")).to_have_count(1)
    expect(flash.locator(".badge.tone-ok", has_text="正常返回").first).to_be_visible()
    expect(flash).to_contain_text("本次查询失败，未与上次核查结果比较")
    flash.locator("button", has_text="重新查询未返回的类别").click()  # the confirm dialog is accepted
    flash = page.locator(".flash")
    expect(flash).to_contain_text("重新查询完成")
    expect(flash.locator(".badge.tone-error", has_text="查询失败")).to_have_count(0)
    expect(flash).to_contain_text("第2次查询")
    console.screenshot(page, "verification-rerun")

    # the person page now lists both verifications; 查看 opens one without asking the gateway again
    page.goto(console.url(f"/persons/{person.ryid}"))
    history = page.locator("section.panel[data-plugin='verification']")
    expect(history).to_contain_text("核查记录")
    expect(history.locator("tbody tr")).to_have_count(3)
    calls = sim.plan.calls("gen1:business")
    history.locator("tbody tr").last.locator("button", has_text="查看").click()
    expect(page.locator(".flash")).to_contain_text("核查记录：")
    assert sim.plan.calls("gen1:business") == calls


def test_verify_needs_a_purpose_the_role_and_a_completed_business(console, console_page) -> None:
    person = console.lookup(verifiable_person)
    page = console_page("demo-clerk")
    page.goto(console.url(f"/persons/{person.ryid}"))
    purpose = page.locator(f"{VERIFY_ACTION} textarea[name='in.purpose']")
    expect(purpose).to_have_attribute("required", "")
    purpose.evaluate("el => el.removeAttribute('required')")  # what a host without form checks would send
    verify_on_page(page)
    expect(page.locator(".flash .tone-error")).to_contain_text("查询事由")

    console.login(page, "demo-trainee")
    page.goto(console.url(f"/persons/{person.ryid}"))
    action = page.locator(VERIFY_ACTION)
    expect(action.locator("button")).to_have_text("核查")
    expect(action.locator("button")).to_be_disabled()
    expect(action).to_contain_text("您没有「核查人员」权限")

    console.login(page, "demo-clerk")
    unfinished = console.lookup(unfinished_person)
    page.goto(console.url(f"/persons/{unfinished.ryid}"))
    expect(page.locator(".record")).to_contain_text(unfinished.name)
    expect(page.locator(VERIFY_ACTION)).to_have_count(0)
