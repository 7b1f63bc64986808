"""房源划拨 in the SOAR stand-in console, in a real headless Chromium: 调房划拨, 选房划拨, 房源查询."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import func, select

from soar_ext.allocation.housing import allocated_condition
from soar_ext.console.tour import addable_low_rent, click_contributed, open_batch, search_low_rent
from soar_ext.db.codes import AllocationKind
from soar_ext.db.extension import allocation_changes, allocation_links
from soar_ext.db.legacy import allocation_applicants, allocation_houses, houses
from tests.export_readers import assert_no_formulas, calamine_sheets

PANEL = "section.panel[data-plugin='allocation']"


def _links(console, pcid: str) -> dict[str, str]:
    return console.lookup(
        lambda c: dict(
            c.execute(
                select(allocation_links.c.sqid, allocation_links.c.fyid).where(allocation_links.c.pcid == pcid)
            ).all()
        )
    )


def _members(console, pcid: str) -> tuple[list[str], list[str]]:
    def read(conn):  # type: ignore[no-untyped-def]
        people = conn.execute(select(allocation_applicants.c.sqid).where(allocation_applicants.c.pcid == pcid))
        homes = conn.execute(select(allocation_houses.c.fyid).where(allocation_houses.c.pcid == pcid))
        return list(people.scalars()), list(homes.scalars())

    return console.lookup(read)


def test_adjustment_batch_suggestion_accept_unlink_and_relink_keep_one_to_one(console, console_page) -> None:
    pcid = console.lookup(lambda c: open_batch(c, AllocationKind.ADJUSTMENT))
    applicants, batch_houses = _members(console, pcid)
    page = console_page("demo-clerk")
    page.goto(console.url(f"/allocation/adjustment/{pcid}"))
    expect(page.locator(PANEL, has_text="申请人与房源一对一关联")).to_contain_text("未关联")

    click_contributed(page, "推荐配对")
    flash = page.locator(".flash")
    expect(flash).to_contain_text("推荐顺序：未关联的申请人按摇号年度、期数、顺序号依次")
    pairs = min(len(applicants), len(batch_houses))
    flash.locator("button", has_text=f"全部采纳（{pairs} 对）").click()  # the confirm dialog is accepted
    expect(page.locator(".flash")).to_contain_text(f"已按推荐配对关联 {pairs} 对申请人与房源")
    links = _links(console, pcid)
    assert len(links) == pairs and len(set(links.values())) == pairs
    console.screenshot(page, "allocation-links")

    with page.expect_download() as download:
        page.locator(".contributed-action button", has_text="导出Excel清单").click()
    assert download.value.suggested_filename.startswith(
        "调房划拨关联清单_"
    ) and download.value.suggested_filename.endswith(".xlsx")
    workbook = Path(download.value.path()).read_bytes()
    (rows,) = calamine_sheets(workbook).values()
    assert rows[0][:3] == ["序号", "申请人", "身份证号"] and len(rows) == pairs + 1
    assert all("*" in row[2] for row in rows[1:]), "the clerk may not see full ID numbers"
    assert_no_formulas(workbook)

    first, second = sorted(links)[:2]
    table = page.locator(PANEL, has_text="申请人与房源一对一关联").locator("table.grid")
    row = table.locator("tbody tr").filter(has=page.locator("button", has_text="解除关联")).first
    row.locator("button", has_text="解除关联").click()
    expect(page.locator(".flash")).to_contain_text("已解除申请人")
    freed = set(links.values()) - set(_links(console, pcid).values())
    assert len(freed) == 1

    moving = table.locator("tbody tr").filter(has=page.locator("summary", has_text="改为关联")).first
    moving.locator("summary", has_text="改为关联").click()
    moving.locator("select[name='in.house_id']").select_option(next(iter(freed)))
    moving.locator("details form button", has_text="改为关联").click()
    expect(page.locator(".flash")).to_contain_text("的关联由房源")
    after = _links(console, pcid)
    assert len(after) == pairs - 1 and len(set(after.values())) == pairs - 1
    assert next(iter(freed)) in after.values()
    changes = console.lookup(
        lambda c: list(
            c.execute(select(allocation_changes.c.action).where(allocation_changes.c.pcid == pcid)).scalars()
        )
    )
    assert sorted(changes) == sorted(["link"] * pairs + ["unlink", "relink"])
    assert {first, second} <= set(links)


def _link_row(page, index: int):  # type: ignore[no-untyped-def]
    table = page.locator(PANEL, has_text="申请人与房源一对一关联").locator("table.grid")
    return table.locator("tbody tr").filter(has=page.locator("summary", has_text="关联")).nth(index)


def _link_to(row, house: str) -> None:  # type: ignore[no-untyped-def]
    row.locator("summary", has_text="关联").click()
    row.locator("select[name='in.house_id']").select_option(house)
    row.locator("details form button").click()


def test_a_house_linked_meanwhile_in_another_tab_is_refused_with_the_holder_named(console, console_page) -> None:
    pcid = console.lookup(lambda c: open_batch(c, AllocationKind.ADJUSTMENT))
    stale = console_page("demo-clerk")
    stale.goto(console.url(f"/allocation/adjustment/{pcid}"))
    first = _link_row(stale, 0)
    first.locator("summary", has_text="关联").click()
    house = first.locator("select[name='in.house_id'] option").nth(1).get_attribute("value")
    assert house

    other = stale.context.new_page()  # a colleague's tab on the same batch
    other.goto(console.url(f"/allocation/adjustment/{pcid}"))
    holder = _link_row(other, 1).locator("td").nth(1).inner_text()
    _link_to(_link_row(other, 1), house)
    expect(other.locator(".flash")).to_contain_text(f"已将申请人{holder}关联到房源")

    first.locator("select[name='in.house_id']").select_option(house)
    first.locator("details form button").click()
    flash = stale.locator(".flash")
    expect(flash).to_contain_text(f"已在本批次关联给申请人{holder}，一套房源只能关联一名申请人")
    console.screenshot(stale, "allocation-link-refused")
    assert list(_links(console, pcid).values()) == [house]


def test_selection_batch_low_rent_search_adds_once_and_refuses_bad_input(console, console_page) -> None:
    pcid = console.lookup(lambda c: open_batch(c, AllocationKind.SELECTION))
    candidate = console.lookup(addable_low_rent)
    page = console_page("demo-clerk")
    page.goto(console.url(f"/allocation/selection/{pcid}"))

    search_low_rent(page, sequence_from="9", sequence_to="1")
    expect(page.locator(".flash")).to_contain_text("顺序号起（9）不能大于顺序号止（1）。")
    search_low_rent(page, applicant_id_number="330106199001011235")
    expect(page.locator(".flash")).to_contain_text("身份证号格式错误：校验位不正确")

    search_low_rent(page, applicant_name=candidate.name, lottery_year=str(candidate.lottery_year))
    flash = page.locator(".flash")
    expect(flash).to_contain_text("廉租房选房人员")
    console.screenshot(page, "allocation-low-rent-search")
    flash.locator(f"input[name='selected'][value='{candidate.sqid}']").check()
    flash.locator("button", has_text="添加").click()
    expect(page.locator(".flash")).to_contain_text("已添加 1 人到本批次")
    applicants, _houses = _members(console, pcid)
    assert applicants.count(candidate.sqid) == 1

    search_low_rent(page, applicant_name=candidate.name, lottery_year=str(candidate.lottery_year))
    row = page.locator(".flash tr", has_text=candidate.name)
    expect(row).to_contain_text("已在本批次")
    assert row.locator("input[name='selected']").count() == 0, "no second 添加 for someone already here"
    expect(page.locator(PANEL, has_text="本批次选房人员")).to_contain_text(candidate.name)


def test_housing_query_filters_and_shows_whether_a_house_is_allocated(console, console_page) -> None:
    expected = console.lookup(
        lambda c: c.execute(select(func.count()).select_from(houses).where(allocated_condition(True))).scalar_one()
    )
    page = console_page("demo-clerk")
    page.goto(console.url("/housing?x.allocated=1"))
    expect(page.locator(".result-head .total")).to_have_text(f"{expected:,}" if expected <= 1000 else "1000+")
    header = page.locator("table.results thead th")
    column = [header.nth(i).inner_text() for i in range(header.count())].index("是否已划拨")
    cells = page.locator(f"table.results tbody tr td:nth-child({column + 1})")
    assert cells.count() > 0 and set(cells.all_inner_texts()) == {"是"}
    console.screenshot(page, "housing-allocated")
    page.goto(console.url("/housing?x.allocated=0"))
    cells = page.locator(f"table.results tbody tr td:nth-child({column + 1})")
    assert set(cells.all_inner_texts()) == {"否"}
