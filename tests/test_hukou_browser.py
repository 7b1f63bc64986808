"""户籍批量核查 on the console's 批量作业 page, in a real headless Chromium: start, progress, download."""

from __future__ import annotations

import threading
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from soar_ext.console.tour import first_certificates
from soar_ext.context import Operator
from soar_ext.db.extension import hukou_jobs
from soar_ext.hukou import jobs, service
from tests.export_readers import assert_no_formulas, calamine_sheets

PANEL = "section.panel[data-plugin='hukou_check']"
CHECKER = Operator(id="demo-clerk", name="王晓燕", roles=frozenset({"batch_checker"}))


def test_start_a_check_watch_its_progress_and_download_the_list(console, console_page) -> None:
    certificates = console.lookup(lambda c: first_certificates(c, 3))
    page = console_page("demo-clerk")
    page.goto(console.url("/jobs/hukou_check"))
    form = page.locator(".contributed-action", has_text="发起核查")
    listing = "\n".join([*certificates, "HZGZ-不存在"]).encode()
    form.locator("input[type=file]").set_input_files(
        files=[{"name": "证号清单.txt", "mimeType": "text/plain", "buffer": listing}]
    )
    form.locator("button", has_text="发起核查").click()  # the confirm dialog is accepted
    expect(page.locator(".flash")).to_contain_text("已发起户籍批量核查作业")
    expect(page.locator(".flash")).to_contain_text("HZGZ-不存在")
    job_id = console.lookup(lambda c: c.execute(select(hukou_jobs.c.job_id)).scalar_one())

    page.goto(console.url("/jobs/hukou_check"))
    progress = page.locator(PANEL, has_text="核查进度")
    expect(progress).to_contain_text("已完成 0 /")
    expect(progress.locator("[data-refresh-seconds]")).to_have_count(1)

    runtime = console.runtime
    with runtime.engine.connect() as conn:
        ctx = runtime.host.context(CHECKER, conn).for_plugin("hukou_check", "on")
    settings = service.settings_of(ctx).with_quota(rate=200, concurrency=10)
    worker = threading.Thread(target=service.work, args=(runtime.engine, ctx, job_id), kwargs={"settings": settings})
    worker.start()
    worker.join(120)
    assert not worker.is_alive()
    assert jobs.load_job(runtime.engine, job_id).status == jobs.FINISHED

    page.goto(console.url("/jobs/hukou_check"))
    table = page.locator(PANEL, has_text="最近的核查作业")
    expect(table).to_contain_text("已完成")
    expect(page.locator(PANEL, has_text="核查进度")).to_contain_text("已完成")
    console.screenshot(page, "hukou-check")

    with page.expect_download() as download:
        table.locator("button", has_text="下载清单").first.click()
    assert download.value.suggested_filename.startswith("户籍核查清单_")
    workbook = Path(download.value.path()).read_bytes()
    sheets = calamine_sheets(workbook)
    header, *rows = sheets["核查清单"]
    job = jobs.load_job(runtime.engine, job_id)
    assert header[:3] == ["序号", "主申请人", "配租资格证号"] and len(rows) == job.member_count
    assert {row[2] for row in rows} == {*certificates, "HZGZ-不存在"}
    assert all("*" in row[5] for row in rows if row[5]), "this operator may not see full ID numbers"
    assert sheets["汇总"][-1] == ["合计", float(job.member_count)]
    assert_no_formulas(workbook)
