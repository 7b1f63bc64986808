"""配建项目 收件 → outbox → 统一资料库 over loopback: four types, rollback, duplicates, outages, bad input."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from soar_ext.adapters.simulators.survey import survey_catalog
from soar_ext.clock import FixedClock
from soar_ext.coconstruction import page
from soar_ext.db.codes import DocumentType
from soar_ext.db.extension import document_contents, document_outbox, document_rejections
from soar_ext.hook_payloads import ActionButton, Badge, Notice, Table
from soar_ext.hooks import co_construction
from tests.coconstruction_env import PNG, Bench, Simulators, bench_on, pdf, start_simulators

NUMBER, NAME = survey_catalog(2019)[0]
ALL_FOUR = tuple(DocumentType.LABELS)
T0 = dt.datetime(2024, 7, 1, 9, 0, 0)


@pytest.fixture(scope="module")
def sims() -> Iterator[Simulators]:
    yield from start_simulators()


def make_bench(tmp_path: Path, sims: Simulators, name: str = "soar", **kwargs) -> Bench:  # type: ignore[no-untyped-def]
    return bench_on(f"sqlite:///{tmp_path / f'{name}.db'}", sims, clock=FixedClock(T0), **kwargs)


@pytest.fixture
def bench(tmp_path: Path, sims: Simulators) -> Iterator[Bench]:
    b = make_bench(tmp_path, sims)
    yield b
    b.close()


def statuses(bench: Bench, project_id: str) -> dict[str, tuple[str, str]]:
    """Document type label -> (state, detail) as the project page shows them."""
    (_survey, documents) = bench.page(project_id)
    (table,) = [b for b in documents.content if isinstance(b, Table)]
    out = {}
    for row in table.rows:
        label, state, _file, _when, detail = row.cells
        assert isinstance(state, Badge)
        out[label] = (state.text, detail)
    return out


def four_documents(tag: str = "") -> list[tuple[str, str, bytes]]:
    return [(code, f"{label}{tag}.pdf", pdf(f"{code}{tag}")) for code, label in DocumentType.LABELS.items()]


# ------------------------------------------------------------------------------ the normal case


def test_all_four_types_are_queued_in_soars_transaction_and_tracked_until_uploaded(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    assert set(statuses(bench, pid).values()) == {("未收件", "—")}
    bench.receive(pid, *four_documents())
    entries = bench.entries(pid)
    assert [e.doc_type for e in entries] == list(ALL_FOUR)
    assert {e.wq_status for e in entries} == {"pending"} and all(e.repo_doc_id is None for e in entries)
    assert {label: state for label, (state, _d) in statuses(bench, pid).items()} == dict.fromkeys(
        DocumentType.LABELS.values(), "待上传"
    )
    assert bench.sims.repo_state.count() == 0, "收件 must not call the repository"

    report = bench.deliver()
    assert (report.uploaded, report.retrying, report.failed) == (4, 0, 0)
    shown = statuses(bench, pid)
    assert {state for state, _d in shown.values()} == {"已上传"}
    for entry in bench.entries(pid):
        stored = bench.sims.repo_state.get(entry.repo_doc_id)
        assert stored is not None and (stored.sha256, stored.size) == (entry.sha256, entry.file_size)
        assert stored.business_keys == {"projectNumber": NUMBER, "projectId": pid}
        assert entry.repo_doc_id in shown[DocumentType.LABELS[entry.doc_type]][1]
    assert bench.sims.repo_state.count() == 4
    assert bench.count(document_contents) == 0, "confirmed documents' bytes are dropped from the outbox"


def test_a_rolled_back_soar_save_leaves_no_outbox_entry(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    bench.receive(pid, *four_documents(), rollback=True)
    assert bench.entries() == [] and bench.count(document_contents) == 0
    assert bench.deliver().uploaded == 0 and bench.sims.repo_state.count() == 0


def test_the_same_bytes_received_twice_create_no_second_repository_record(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    content = pdf("same")
    bench.receive(pid, ("01", "配建协议书.pdf", content))
    bench.clock.advance(minutes=1)
    bench.receive(pid, ("01", "配建协议书（重新收件）.pdf", content))
    report = bench.deliver()
    assert (report.uploaded, report.already_stored) == (2, 1)
    first, second = bench.entries(pid)
    assert first.repo_doc_id == second.repo_doc_id and bench.sims.repo_state.count() == 1
    assert "此前另收件 1 次" in str(
        next(b for b in bench.page(pid)[1].content if isinstance(b, Table)).rows[0].cells[2]
    )


def test_a_response_lost_after_the_repository_stored_it_is_retried_without_a_duplicate(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    bench.receive(pid, ("02", "承诺书.pdf", pdf("lost")))
    bench.sims.repo_state.lose_responses_after_store(2)  # as many as the client's own attempts
    first = bench.deliver()
    assert (first.uploaded, first.retrying) == (0, 1) and bench.sims.repo_state.count() == 1
    bench.clock.advance(hours=1)
    second = bench.deliver()
    assert (second.uploaded, second.already_stored) == (1, 1)
    assert bench.sims.repo_state.count() == 1


def test_repository_outage_queues_retries_with_backoff_and_then_confirms(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    bench.receive(pid, *four_documents())
    bench.sims.repo_state.plan.set("status_5xx", None)
    report = bench.deliver()
    assert (report.uploaded, report.retrying, report.failed) == (0, 4, 0)
    assert bench.count(document_contents) == 4, "the bytes stay until the repository confirmed them"
    entries = bench.entries(pid)
    assert {(e.wq_status, e.wq_attempts) for e in entries} == {("pending", 1)}
    assert all(e.wq_due_at > T0 and e.repo_doc_id is None for e in entries)
    state, detail = statuses(bench, pid)["配建协议书"]
    assert state == "上传失败" and "将自动重试" in detail and "统一资料库" in detail
    assert bench.deliver().uploaded == 0, "nothing is due before the backoff has passed"

    bench.clock.advance(minutes=1)
    bench.deliver()  # still down: second attempt
    assert {e.wq_attempts for e in bench.entries(pid)} == {2}
    bench.sims.repo_state.plan.clear()
    bench.clock.advance(minutes=5)
    report = bench.deliver()
    assert report.uploaded == 4
    assert {e.wq_status for e in bench.entries(pid)} == {"done"} and bench.sims.repo_state.count() == 4
    assert {s for s, _d in statuses(bench, pid).values()} == {"已上传"}
    assert bench.count(document_contents) == 0


def test_an_upload_whose_repository_hash_does_not_match_is_not_marked_uploaded(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    content = pdf("verify")
    bench.receive(pid, ("03", "确认书.pdf", content))
    bench.deliver()
    (done,) = bench.entries(pid)
    bench.sims.repo_state.corrupt(done.repo_doc_id)  # the repository now holds other bytes under that record
    bench.clock.advance(minutes=1)
    bench.receive(pid, ("03", "确认书.pdf", content))
    report = bench.deliver()
    assert (report.uploaded, report.retrying) == (0, 1)
    _first, again = bench.entries(pid)
    assert again.wq_status == "pending" and again.repo_doc_id is None and "校验" in again.wq_error
    assert statuses(bench, pid)["保障性住房配建协议履行确认书"][0] == "上传失败"


def test_the_repository_refusing_a_request_fails_the_entry_for_good(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    bench.receive(pid, ("04", "联系单.pdf", pdf("refused")))
    bench.sims.repo_state.max_bytes = 10  # the repository's own limit is lower than ours
    try:
        report = bench.deliver()
    finally:
        bench.sims.repo_state.max_bytes = 50 * 1024 * 1024
    assert (report.uploaded, report.failed) == (0, 1)
    (entry,) = bench.entries(pid)
    assert entry.wq_status == "failed" and "拒绝" in entry.wq_error
    state, detail = statuses(bench, pid)["解除限制销售房源联系单"]
    assert state == "上传失败" and "已停止自动重试" in detail


def test_the_project_page_offers_immediate_upload_of_its_own_documents(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    other = bench.new_project(*survey_catalog(2019)[1])
    bench.receive(pid, ("01", "a.pdf", pdf("mine")))
    bench.receive(other, ("01", "b.pdf", pdf("theirs")))
    (button,) = [b for b in bench.page(pid)[1].content if isinstance(b, ActionButton)]
    assert button.key == page.ACTION_DELIVER
    result = bench.action(page.ACTION_DELIVER, pid)
    assert result.ok and "上传并校验 1 份" in result.message
    assert [e.wq_status for e in bench.entries(other)] == ["pending"]


def test_the_delivery_job_runs_through_the_host(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    bench.receive(pid, *four_documents())
    with bench.engine.begin() as conn:
        ctx = bench.context(conn)
        assert [j.name for j in bench.host.register_jobs(ctx)] == [co_construction.JOB_NAME]
        result = bench.host.run_job(ctx, co_construction.JOB_NAME)
    assert result.ok and "上传并校验 4 份" in result.message


def test_in_shadow_mode_documents_are_recorded_but_not_uploaded(tmp_path: Path, sims: Simulators) -> None:
    bench = make_bench(tmp_path, sims, name="shadow", modes={"co_construction": "shadow"})
    try:
        pid = bench.new_project(NUMBER, NAME)
        bench.receive(pid, *four_documents())
        with bench.engine.begin() as conn:
            result = bench.host.run_job(bench.context(conn), co_construction.JOB_NAME)
        assert result.ok and "[试运行]" in result.message
        assert len(bench.entries(pid)) == 4 and sims.repo_state.count() == 0
        assert bench.page(pid) == [], "shadow contributions are not shown"
    finally:
        bench.close()


# ------------------------------------------------------------------------------ bad input


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (("09", "x.pdf", pdf("t")), "资料类型代码「09」不正确"),
        (("01", "空.pdf", b""), "是空文件"),
        (("01", "程序.exe", b"MZ\x90\x00"), "类型「.exe」不在允许范围内"),
        (("01", "无扩展名", pdf("n")), "类型（无扩展名）不在允许范围内"),
        (("01", "假的.pdf", b"<html>not a pdf</html>"), "的内容不是PDF 文件，与扩展名「.pdf」不符"),
        (("02", "照片.png", b"\xff\xd8\xff\xe0 jpeg bytes"), "的内容不是PNG 图片"),
        (("03", "文档.docx", _zip(["readme.txt"])), "的内容不是Word 文档"),
        (("01", "大.pdf", pdf("big", 2048)), "超过上限1.0 KB"),
    ],
)
def test_bad_documents_are_refused_with_a_chinese_reason_and_nothing_is_queued(
    tmp_path: Path, sims: Simulators, doc: tuple[str, str, bytes], message: str
) -> None:
    bench = make_bench(tmp_path, sims, name="bad", settings={"max_file_bytes": 1024})
    try:
        pid = bench.new_project(NUMBER, NAME)
        bench.receive(pid, doc, ("04", "联系单.png", PNG))
        assert [e.doc_type for e in bench.entries(pid)] == ["04"], "the good document is queued, the bad one not"
        with bench.engine.connect() as conn:
            (reason,) = conn.execute(select(document_rejections.c.reason)).scalars()
        assert message in reason
        blocks = bench.page(pid)[1].content
        shown = " ".join(
            [str(c) for b in blocks if isinstance(b, Table) for r in b.rows for c in r.cells]
            + [b.text for b in blocks if isinstance(b, Notice)]
        )
        assert message in shown
        bench.deliver()
        assert sims.repo_state.count() == 1
        assert bench.count(document_outbox) == 1
    finally:
        bench.close()


def test_a_real_docx_and_images_are_accepted(bench: Bench) -> None:
    pid = bench.new_project(NUMBER, NAME)
    docx = _zip(["[Content_Types].xml", "word/document.xml"])
    bench.receive(
        pid, ("01", "协议.DOCX", docx), ("02", "扫描.jpg", b"\xff\xd8\xff\xe0rest"), ("03", "x.tif", b"II*\x00r")
    )
    assert len(bench.entries(pid)) == 3 and bench.count(document_rejections) == 0
