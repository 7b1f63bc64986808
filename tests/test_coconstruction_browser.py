"""配建项目 in the SOAR stand-in console, in a real headless Chromium: 重新同步, 收件, 立即上传, 确认关联."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from soar_ext.console.tour import SAMPLE_PDF, click_in_panel, receive_documents, surveyed_project
from soar_ext.db.codes import DocumentType
from soar_ext.db.extension import document_outbox, project_surveys
from soar_ext.db.legacy import coconstruction_projects

SURVEY = "section.panel[data-plugin='co_construction']:has(h2:text-is('测绘关联'))"
DOCUMENTS = "section.panel[data-plugin='co_construction']:has(h2:text-is('收件资料上传'))"


def _link(console, pid: str):  # type: ignore[no-untyped-def]
    return console.lookup(lambda c: c.execute(select(project_surveys).where(project_surveys.c.pjxmid == pid)).first())


def test_project_page_links_the_survey_and_tracks_the_four_documents_to_uploaded(console, console_page) -> None:
    pid = console.lookup(surveyed_project)
    page = console_page("demo-clerk")
    page.goto(console.url(f"/projects/{pid}"))
    expect(page.locator(SURVEY)).to_contain_text("尚未与测绘项目关联")
    expect(page.locator(DOCUMENTS)).to_contain_text("未收件")

    click_in_panel(page, "测绘关联", "重新同步")
    expect(page.locator(".flash")).to_contain_text("已从测绘服务同步")
    link = _link(console, pid)
    panel = page.locator(SURVEY)
    expect(panel).to_contain_text("已关联")
    expect(panel).to_contain_text(f"{link.fyts} 套")
    expect(panel).to_contain_text(f"{link.ycjzmj:,.2f} ㎡")

    files = {code: (f"{label}.pdf", SAMPLE_PDF + code.encode()) for code, label in DocumentType.LABELS.items()}
    receive_documents(page, files)
    expect(page.locator(".flash")).to_contain_text("已收件 4 份材料")
    rows = page.locator(DOCUMENTS).locator("table.grid tbody tr")
    expect(rows).to_have_count(4)
    for i in range(4):
        expect(rows.nth(i)).to_contain_text("待上传")

    click_in_panel(page, "收件资料上传", "立即上传")
    expect(page.locator(".flash")).to_contain_text("本次上传并校验 4 份")
    for i in range(4):
        expect(rows.nth(i)).to_contain_text("已上传")
    stored = console.lookup(
        lambda c: (
            c.execute(select(document_outbox.c.repo_doc_id).where(document_outbox.c.pjxmid == pid)).scalars().all()
        )
    )
    repo = console.simulators["docrepo"].app.state.sim
    assert len(stored) == 4 and all(repo.get(r) is not None for r in stored)
    console.screenshot(page, "project-coconstruction")


def test_a_renamed_project_waits_for_confirmation_and_refuses_a_fake_pdf(console, console_page) -> None:
    pid = console.lookup(lambda c: surveyed_project(c, 1))
    number = console.lookup(
        lambda c: c.execute(
            select(coconstruction_projects.c.xmbh).where(coconstruction_projects.c.pjxmid == pid)
        ).scalar_one()
    )
    page = console_page("demo-clerk")
    page.goto(console.url(f"/projects/{pid}/edit"))
    page.fill("input[name='xmmc']", "改过名称的配建项目")
    page.locator("form button", has_text="保存").click()
    panel = page.locator(SURVEY)
    expect(panel).to_contain_text("待确认关联")
    expect(panel).to_contain_text("编号一致，名称不同")
    assert _link(console, pid).fyts is None, "nothing is taken before the confirmation"
    panel.locator("button", has_text="确认关联").click()  # the confirm dialog is accepted
    expect(page.locator(".flash")).to_contain_text(f"已将本项目关联到测绘项目「{number}」")
    expect(page.locator(SURVEY)).to_contain_text("人工确认关联")

    receive_documents(page, {"01": ("协议.pdf", b"<html>not a pdf</html>")})
    expect(page.locator(DOCUMENTS)).to_contain_text("的内容不是PDF 文件，与扩展名「.pdf」不符")
    assert (
        console.lookup(lambda c: c.execute(select(document_outbox.c.id).where(document_outbox.c.pjxmid == pid)).all())
        == []
    )
    console.screenshot(page, "project-coconstruction-confirm")

    receive_documents(page, {"02": ("承诺书.pdf", SAMPLE_PDF)})
    page.goto(console.url("/jobs/co_construction.deliver"))
    queue = page.locator("section.panel[data-plugin='co_construction']", has_text="资料上传队列")
    expect(queue).to_contain_text("1 份（其中 0 份为失败后等待重试）")
    page.locator(".contributed-action button", has_text="运行一轮上传").click()
    expect(page.locator(".flash")).to_contain_text("本次上传并校验 1 份")
    page.goto(console.url(f"/projects/{pid}"))
    expect(page.locator(DOCUMENTS).locator("tr", has_text="工程建设进度承诺书")).to_contain_text("已上传")
