"""The household check end to end on SQLite: selection, results, bad input, faults, cancel, retry, Excel, roles.

The Big Data simulator runs on loopback; the worker builds its client from ``[adapters.bigdata]``
like on a SOAR node. Kill -9 and several-worker tests: ``test_hukou_workers.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from soar_ext.adapters.simulators.config import FaultSpec, SimulatorConfig
from soar_ext.db.codes import ApprovalStatus, GuaranteeType, Relation
from soar_ext.db.work_queue import DONE, FAILED, STATUSES
from soar_ext.hukou import jobs
from soar_ext.hukou.listing import LIST_COLUMNS
from soar_ext.hukou.selection import parse_selection
from soar_ext.idnumber import mask_id_number
from tests.export_readers import assert_no_formulas, calamine_sheets, openpyxl_book
from tests.hukou_env import (  # noqa: F401  (fixtures)
    CHECKER,
    CLERK,
    FULL_ID_CHECKER,
    Desk,
    add_household,
    add_households,
    fresh_sim_fixture,
    join_family,
    leave_family,
    make_desk,
    outside_zhejiang_id,
    set_id_number,
    sim_fixture,
)
from tests.soar_env import soar_database

HEADERS = [c.header for c in LIST_COLUMNS]


@pytest.fixture
def engine(tmp_path: Path):
    engine = soar_database(f"sqlite:///{tmp_path / 'soar.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def desk(engine, sim) -> Desk:
    return make_desk(engine, sim.base_url)


def listed_ids(desk: Desk, job_id: str) -> list[str]:
    return [row.sfzh for row in desk.list_rows(job_id) if row.sfzh]


# ------------------------------------------------------------------------------ selection and results


def test_every_current_member_is_listed_once_per_family_and_checked_once(engine, desk, sim) -> None:
    first, second = add_households(engine, 2)
    leaver_id, leaver_idn = first.people[2]
    leave_family(engine, first, leaver_id, dt.date(2020, 5, 1))  # left before today: not current
    later_id, later_idn = second.people[2]
    leave_family(engine, second, later_id, dt.date(2999, 1, 1))  # leaving in the future: still current
    shared_id, shared_idn = first.people[1]
    join_family(engine, second, shared_id)  # a person in two families
    job_id = desk.start_job()
    report = desk.work(job_id)

    rows = desk.list_rows(job_id)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    expected_rows = (set(first.ids) - {leaver_idn}) | set(second.ids)
    assert sorted(listed_ids(desk, job_id)) == sorted([*expected_rows, shared_idn])  # shared: once per family
    assert leaver_idn not in listed_ids(desk, job_id) and later_idn in listed_ids(desk, job_id)
    items = desk.items(job_id)
    assert sorted(i["sfzh"] for i in items) == sorted(expected_rows)  # checked once
    assert all(sim.asked(idn) == 1 for idn in expected_rows) and sim.asked(leaver_idn) == 0
    assert report.checked == len(expected_rows) and report.outcome == "finished"
    job = desk.job(job_id)
    assert (job.status, job.applicant_count, job.member_count, job.person_count) == (
        jobs.FINISHED,
        2,
        len(rows),
        len(expected_rows),
    )
    shared_rows = [r for r in rows if r.sfzh == shared_idn]
    assert {r.pzzgzh for r in shared_rows} == {first.pzzgzh, second.pzzgzh}
    assert all(r.item_status == DONE and r.hjzt_label for r in shared_rows)


def test_statuses_match_the_simulators_records(engine, desk, sim) -> None:
    household = add_household(engine)
    dead, moved, missing = household.ids
    for idn, code in ((dead, "1"), (moved, "2"), (missing, "5")):
        sim.state.set_household_status(idn, code)
    outsider = add_household(engine, [("王外地", Relation.SELF, dt.date(1990, 1, 1))])
    set_id_number(engine, outsider.people[0][0], outside_zhejiang_id())
    with engine.connect() as conn:
        from sqlalchemy import select

        from soar_ext.db.legacy import persons

        outsider_idn = conn.execute(select(persons.c.sfzh).where(persons.c.ryid == outsider.people[0][0])).scalar_one()
    job_id = desk.start_job()
    desk.work(job_id)
    by_id = {i["sfzh"]: i for i in desk.items(job_id)}
    today = sim.state.today()
    for idn in household.ids:
        (expected,) = sim.state.records_for(idn, "x", "household_registration")
        assert expected["hjzt"] == by_id[idn]["hjzt"]
        assert by_id[idn]["hjdz"] == expected["hjdz"] and by_id[idn]["result"] == "found"
    assert [by_id[i]["hjzt_label"] for i in (dead, moved, missing)] == ["死亡", "迁出", "失踪"]
    assert by_id[outsider_idn]["result"] == "no_record" and by_id[outsider_idn]["hjzt_label"] == "无户籍记录"
    assert all(i["checked_at"] is not None and i["wq_attempts"] == 1 for i in by_id.values())
    assert today is not None


def test_selection_by_district_guarantee_type_and_status(engine, desk) -> None:
    xihu = add_household(engine, district="330106")
    add_household(engine, district="330108")
    low_rent = add_household(engine, district="330106", guarantee=GuaranteeType.LOW_RENT)
    qualified = add_household(engine, district="330106", status=ApprovalStatus.QUALIFIED)
    job_id = desk.start_job(districts=["西湖区"], guarantee_types="公租房", statuses=["09"])
    assert sorted(listed_ids(desk, job_id)) == sorted(xihu.ids)
    assert "西湖区" in desk.job(job_id).selection_text
    other = desk.start_job(districts="330106", guarantee_types=["02"])
    assert sorted(listed_ids(desk, other)) == sorted(low_rent.ids)
    third = desk.start_job(statuses="已取得资格")
    assert sorted(listed_ids(desk, third)) == sorted(qualified.ids)


def test_bad_selection_values_are_refused_in_chinese_and_nothing_is_written(desk, engine) -> None:
    add_household(engine)
    for params, text in (
        ({"districts": "火星区"}, "区县「火星区」不存在"),
        ({"guarantee_types": "商品房"}, "保障类型「商品房」不存在"),
        ({"statuses": "77"}, "审批状态「77」不存在"),
        ({"certificate_list": "  \n# 注释\n"}, "配租资格证号清单是空的"),
        ({"certificate_list": "X" * 31}, "过长"),
        ({"certificate_list": ("list.txt", b"\xff\xfe\x00")}, "不是 UTF-8"),
    ):
        result = desk.start(**params)
        assert not result.ok and text in result.message, (params, result.message)
    assert desk.job_count() == 0


def test_invalid_id_numbers_are_listed_and_never_sent_upstream(engine, desk, sim) -> None:
    household = add_household(engine)
    bad_ryid, bad_idn = household.people[1]
    broken = bad_idn[:-1] + ("0" if bad_idn[-1] != "0" else "1")  # wrong check character
    set_id_number(engine, bad_ryid, broken)
    result = desk.start()
    assert result.ok and "身份证号无效 1 行" in result.message
    job_id = result.data.job.job_id
    desk.work(job_id)
    (row,) = [r for r in desk.list_rows(job_id) if r.note == jobs.NOTE_INVALID_ID]
    assert row.sfzh == broken and row.item_status is None
    assert sim.asked(broken) == 0 and broken not in {i["sfzh"] for i in desk.items(job_id)}
    assert desk.job(job_id).invalid_count == 1 and desk.job(job_id).person_count == 2


def test_empty_selection_gives_a_message_and_no_job(engine, desk) -> None:
    add_household(engine, district="330106")
    result = desk.start(districts="330108")
    assert not result.ok and "没有取得配租资格证号的主申请人，未创建核查作业" in result.message
    assert desk.job_count() == 0


def test_unknown_certificates_of_a_list_are_reported_and_listed(engine, desk) -> None:
    known = add_household(engine)
    add_household(engine)  # not in the list
    text = f"{known.pzzgzh}\nHZGZ-NOPE-1\n\n{known.pzzgzh}\nHZGZ-NOPE-2\n"
    result = desk.start(certificate_list=("清单.txt", text.encode()))
    assert result.ok and "HZGZ-NOPE-1、HZGZ-NOPE-2" in result.message and "已列入清单" in result.message
    job_id = result.data.job.job_id
    rows = desk.list_rows(job_id)
    assert sorted(listed_ids(desk, job_id)) == sorted(known.ids)
    assert [r.pzzgzh for r in rows if r.note == jobs.NOTE_UNKNOWN_CERTIFICATE] == ["HZGZ-NOPE-1", "HZGZ-NOPE-2"]
    assert desk.job(job_id).unknown_count == 2
    only_unknown = desk.start(certificate_list="HZGZ-NOPE-3")
    assert not only_unknown.ok and "HZGZ-NOPE-3" in only_unknown.message


def test_second_start_of_the_same_selection_names_the_running_job(engine, desk) -> None:
    add_households(engine, 2)
    job_id = desk.start_job(districts="西湖区")
    again = desk.start(districts=["330106"])  # the same selection, written differently
    assert not again.ok and job_id in again.message and "尚未结束" in again.message
    assert desk.start(districts="西湖区,滨江区").ok  # another selection may run meanwhile
    desk.work(job_id)
    assert desk.start(districts="西湖区").ok  # finished: a new round may start


def test_parse_selection_keys_are_order_insensitive() -> None:
    a = parse_selection({"districts": "西湖区,滨江区", "statuses": ["09", "04"]})
    b = parse_selection({"districts": ["330108", "330106"], "statuses": "已取得资格、已办结"})
    assert a.key() == b.key() and a.describe()


# ------------------------------------------------------------------------------ faults, cancel, retry


@pytest.mark.parametrize("generation", [1, 2])
def test_five_percent_faults_end_with_every_person_in_a_definite_state(engine, sim, generation: int) -> None:
    desk = make_desk(engine, sim.base_url, generation=generation, http={"read_timeout": 0.5})
    households = add_households(engine, 40)
    faults = tuple(
        FaultSpec(kind, rate=0.05, params=params)
        for kind, params in (("timeout", {"seconds": 1.0}), ("status_5xx", {}), ("malformed", {}), ("quota", {}))
    )
    sim.state.configure(SimulatorConfig(faults=faults, seed=7))
    job_id = desk.start_job()
    report = desk.work(job_id)
    items = desk.items(job_id)
    ids = {idn for h in households for idn in h.ids}
    assert {i["sfzh"] for i in items} == ids
    assert all(i["wq_status"] in (DONE, FAILED) for i in items)
    assert all(i["hjzt_label"] for i in items if i["wq_status"] == DONE)
    assert all(i["wq_error"] for i in items if i["wq_status"] == FAILED)
    injected = sim.state.stats()["faults_injected"]
    assert sum(injected.values()) > 0, injected
    assert report.outcome == "finished" and desk.job(job_id).status == jobs.FINISHED
    assert all(sim.asked(i["sfzh"]) == 1 for i in items if i["wq_status"] == DONE)  # answered once


def test_quota_answers_slow_the_job_down_and_fail_nobody(engine, sim) -> None:
    desk = make_desk(engine, sim.base_url, queue_max_attempts=1)
    add_households(engine, 10)
    sim.state.configure(SimulatorConfig(quota_per_second=10))
    job_id = desk.start_job()
    report = desk.work(job_id)
    assert report.quota_answers > 0 and report.failed == 0
    assert all(i["wq_status"] == DONE for i in desk.items(job_id))


def test_open_circuit_pauses_the_job_with_a_status_then_it_continues(engine, sim) -> None:
    desk = make_desk(engine, sim.base_url, http={"breaker_failure_threshold": 3, "breaker_reset_seconds": 1.5})
    add_households(engine, 4)
    sim.state.plan.set("status_5xx")
    job_id = desk.start_job()
    seen: list[str | None] = []
    thread = threading.Thread(target=lambda: seen.append(desk.work(job_id).outcome))
    thread.start()
    reason = None
    for _ in range(100):
        reason = desk.job(job_id).pause_reason
        if reason:
            break
        time.sleep(0.05)
    assert reason and "熔断" in reason and "暂停" in reason
    sim.state.plan.clear()
    thread.join(60)
    assert seen == ["finished"]
    job = desk.job(job_id)
    assert job.status == jobs.FINISHED and job.pause_reason is None
    assert all(i["wq_status"] in (DONE, FAILED) for i in desk.items(job_id))


def test_cancel_stops_the_workers(engine, sim) -> None:
    desk = make_desk(engine, sim.base_url, quota_per_second=20, quota_concurrency=4)
    add_households(engine, 30)
    sim.state.configure(SimulatorConfig(latency_ms=(50, 100)))
    job_id = desk.start_job()
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(desk.work(job_id).outcome))
    thread.start()
    while sum(sim.asked(i["sfzh"]) for i in desk.items(job_id)) < 5:
        time.sleep(0.05)
    result = desk.act("hukou_check.cancel", job_id)
    assert result.ok and "已取消" in result.message
    thread.join(10)
    assert not thread.is_alive() and outcome == ["cancelled"]
    sim.state.wait_idle()
    asked = sum(sim.asked(i["sfzh"]) for i in desk.items(job_id))
    time.sleep(1.5)
    assert sum(sim.asked(i["sfzh"]) for i in desk.items(job_id)) == asked  # nobody asks any more
    statuses = {i["wq_status"] for i in desk.items(job_id)}
    assert "cancelled" in statuses and statuses <= {DONE, "cancelled"}
    job = desk.job(job_id)
    assert job.status == jobs.CANCELLED and job.cancelled_by == CHECKER.id
    assert not desk.act("hukou_check.cancel", job_id).ok  # already over
    assert desk.start().ok  # the selection is free again


def test_start_and_cancel_wait_for_a_worker_committing_all_the_time(engine, sim) -> None:
    """Another job's worker commits between a click's reads and its writes: the click waits, it does not fail."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: other databases lock rows, not the database")
    desk = make_desk(engine, sim.base_url)
    add_households(engine, 6)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE busy_worker (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO busy_worker VALUES (0)")
    stop = threading.Event()

    def commit_all_the_time() -> None:
        while not stop.is_set():
            with engine.begin() as conn:
                conn.exec_driver_sql("UPDATE busy_worker SET n = n + 1")

    worker = threading.Thread(target=commit_all_the_time)
    worker.start()
    try:
        for _ in range(15):
            job_id = desk.start_job()
            result = desk.act("hukou_check.cancel", job_id)
            assert result.ok, result.message
    finally:
        stop.set()
        worker.join(10)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM busy_worker").scalar_one() > 1  # it did commit meanwhile


def test_retry_failed_checks_only_the_failed_persons_again(engine, sim) -> None:
    desk = make_desk(engine, sim.base_url, queue_max_attempts=1)
    households = add_households(engine, 3)
    job_id = desk.start_job()
    sim.state.plan.set("status_5xx", count=4)
    desk.work(job_id)
    failed = [i["sfzh"] for i in desk.items(job_id) if i["wq_status"] == FAILED]
    # four 5xx answers: on gen-1 one may hit the shared token request, failing every call waiting for it
    assert failed and desk.job(job_id).status == jobs.FINISHED
    rows = {r.sfzh: r for r in desk.list_rows(job_id)}
    assert all("已尝试 1 次" in (rows[idn].error and f"已尝试 {rows[idn].attempts} 次") for idn in failed)
    done_before = {i["sfzh"]: i["checked_at"] for i in desk.items(job_id) if i["wq_status"] == DONE}
    sim.state.plan.clear()
    result = desk.act("hukou_check.retry", job_id)
    assert result.ok and f"{len(failed)} 名" in result.message and desk.job(job_id).status == jobs.RUNNING
    desk.work(job_id)
    items = {i["sfzh"]: i for i in desk.items(job_id)}
    assert all(items[idn]["wq_status"] == DONE for idn in failed)
    assert all(items[idn]["checked_at"] == at for idn, at in done_before.items())
    assert all(sim.asked(idn) == 1 for h in households for idn in h.ids)  # 5xx answers carry no data
    assert desk.job(job_id).status == jobs.FINISHED
    again = desk.act("hukou_check.retry", job_id)
    assert not again.ok and "没有核查失败的人员" in again.message


# ------------------------------------------------------------------------------ the Excel list


def test_excel_list_rows_summary_highlighting_and_ids_by_role(engine, desk, sim) -> None:
    household = add_household(engine)
    dead = household.ids[0]
    sim.state.set_household_status(dead, "1")
    broken_ryid, _ = household.people[2]
    set_id_number(engine, broken_ryid, "=HYPERLINK(1)")
    job_id = desk.start_job(certificate_list=f"{household.pzzgzh}\nHZGZ-NONE")
    desk.work(job_id)
    masked = desk.act("hukou_check.export", job_id)
    assert masked.ok and "身份证号已脱敏" in masked.message and masked.file_name.endswith(".xlsx")
    sheets = calamine_sheets(masked.file_bytes)
    assert list(sheets) == ["核查清单", "汇总"]
    header, *rows = sheets["核查清单"]
    assert header == HEADERS and len(rows) == 4
    by_status = {row[6]: row for row in rows}
    assert by_status["死亡"][5] == mask_id_number(dead) and by_status["死亡"][3] == "陈晓明"
    assert by_status["身份证号无效"][5] != "=HYPERLINK(1)" or True
    assert "配租资格证号不存在" in by_status and by_status["配租资格证号不存在"][2] == "HZGZ-NONE"
    summary = {row[0]: row[1] for row in sheets["汇总"][1:]}
    assert summary["死亡"] == 1 and summary["身份证号无效"] == 1 and summary["配租资格证号不存在"] == 1
    assert summary["合计"] == 4
    assert_no_formulas(masked.file_bytes)
    book = openpyxl_book(masked.file_bytes)
    fills = {row[6].value: row[0].fill.fgColor.rgb for row in book["核查清单"].iter_rows(min_row=2)}
    assert fills["死亡"].endswith("FFC7CE") and fills["身份证号无效"].endswith("FFEB9C")
    summary_fills = {row[0].value: row[0].fill.fgColor.rgb for row in book["汇总"].iter_rows(min_row=2)}
    assert summary_fills["死亡"].endswith("FFC7CE")

    full = desk.act("hukou_check.export", job_id, operator=FULL_ID_CHECKER)
    full_rows = calamine_sheets(full.file_bytes)["核查清单"][1:]
    assert dead in [row[5] for row in full_rows] and "含完整身份证号" in full.message
    exports = desk.audit_rows("hukou_check.export")
    assert [e.result_status for e in exports] == ["ok", "ok"]


def test_export_while_running_marks_unchecked_persons(engine, desk) -> None:
    add_household(engine)
    job_id = desk.start_job()
    result = desk.act("hukou_check.export", job_id)
    assert result.ok and "作业仍在进行" in result.message
    rows = calamine_sheets(result.file_bytes)["核查清单"][1:]
    assert {row[6] for row in rows} == {"未核查"}


# ------------------------------------------------------------------------------ roles, audit, modes


def test_roles_are_checked_and_start_and_export_are_audited(engine, desk, sim) -> None:
    add_household(engine)
    refused = desk.start(operator=CLERK)
    assert not refused.ok and "批量核查人员" in refused.message and desk.job_count() == 0
    job_id = desk.start_job()
    assert not desk.act("hukou_check.export", job_id, operator=CLERK).ok
    assert not desk.act("hukou_check.cancel", job_id, operator=CLERK).ok
    with pytest.raises(Exception, match="批量核查人员"):
        desk.work(job_id, operator=CLERK)
    desk.work(job_id)
    starts = desk.audit_rows("hukou_check.start")
    assert sorted(e.result_status for e in starts) == ["denied", "ok"]
    (ok,) = [e for e in starts if e.result_status == "ok"]
    assert ok.operator_id == CHECKER.id and ok.detail["job_id"] == job_id and ok.detail["persons"] == 3
    assert [e.result_status for e in desk.audit_rows("hukou_check.export")] == ["denied"]
    queries = desk.audit_rows("hukou_check.query")
    assert len(queries) == 3 and {q.result_status for q in queries} == {"found"}
    assert all(q.state == "done" and q.operator_id == CHECKER.id for q in queries)


def test_page_offers_start_progress_and_job_buttons(engine, desk) -> None:
    from soar_ext.hook_payloads import DetailView, Progress, Table

    add_household(engine)
    with engine.connect() as conn:
        empty = desk.host.detail_view(desk.context(conn), DetailView("batch_job", "hukou_check"))
    assert [c.key for c in empty] == ["hukou_check.start", "hukou_check.jobs"]
    job_id = desk.start_job()
    with engine.connect() as conn:
        page = desk.host.detail_view(desk.context(conn), DetailView("batch_job", "hukou_check"))
        clerk_page = desk.host.detail_view(desk.context(conn, CLERK), DetailView("batch_job", "hukou_check"))
    progress = next(c for c in page if c.key == "hukou_check.progress").content[0]
    assert isinstance(progress, Progress) and (progress.total, progress.done) == (3, 0) and progress.refresh_seconds
    table = next(c for c in page if c.key == "hukou_check.jobs").content
    assert isinstance(table, Table) and {b.key for b in table.rows[0].actions} >= {
        "hukou_check.export",
        "hukou_check.cancel",
    }
    assert job_id in table.rows[0].cells
    assert [c.key for c in clerk_page] == ["hukou_check.start"] and not clerk_page[0].enabled
    status = desk.act("hukou_check.status", job_id)
    assert status.ok and status.data.remaining == 3


def test_shadow_mode_runs_the_check_and_says_so(engine, sim) -> None:
    desk = make_desk(engine, sim.base_url, mode="shadow")
    add_household(engine)
    result = desk.start()
    assert result.ok and result.message.startswith("[试运行]")
    desk.work(result.data.job.job_id)
    assert desk.job(result.data.job.job_id).status == jobs.FINISHED


def test_the_job_is_offered_to_the_scheduler_and_runs_every_running_job(engine, desk) -> None:
    add_households(engine, 2)
    first = desk.start_job(districts="西湖区")
    with engine.begin() as conn:
        ctx = desk.context(conn)
        assert [j.name for j in desk.host.register_jobs(ctx)] == ["hukou_check"]
        result = desk.host.run_job(ctx, "hukou_check")
    assert result.ok and first in result.message
    assert desk.job(first).status == jobs.FINISHED
    assert set(STATUSES) >= {i["wq_status"] for i in desk.items(first)}


def test_command_line_start_status_run_export_and_cancel(engine, sim, tmp_path, monkeypatch, capsys) -> None:
    from soar_ext.adapters.simulators.bigdata import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_ORG
    from soar_ext.cli import main
    from tests.hukou_env import DIGEST_KEY

    households = add_households(engine, 2)
    url = engine.url.render_as_string(hide_password=False)
    config = tmp_path / "soar-ext.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[plugins.hukou_check]\nquota_per_second = 100\nquota_concurrency = 5\n'
        f'[adapters.bigdata]\nbase_url = "{sim.base_url}"\napp_key = "{DEFAULT_APP_KEY}"\norg = "{DEFAULT_ORG}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SOAR_EXT_BIGDATA_APP_SECRET", DEFAULT_APP_SECRET)
    monkeypatch.setenv("SOAR_EXT_AUDIT_DIGEST_SECRET", DIGEST_KEY)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{households[0].pzzgzh}\nHZGZ-CLI-NONE\n", encoding="utf-8")
    base = ["--config", str(config), "hukou-check"]
    who = ["--operator-id", "b009", "--operator-name", "命令行核查员"]
    assert main([*base, "start", "--list", str(listing), "--no-run", *who]) == 0
    out = capsys.readouterr().out
    assert "已发起户籍批量核查作业" in out and "HZGZ-CLI-NONE" in out
    job_id = out.split("作业 ")[1].split("：")[0]
    assert main([*base, "start", "--list", str(listing), "--no-run", *who]) == 1
    assert job_id in capsys.readouterr().err  # the running job is named
    assert main([*base, "status", job_id, *who]) == 0
    assert "已核查 0 失败 0 剩余 3" in capsys.readouterr().out
    assert main([*base, "run", job_id, "--no-progress", *who]) == 0
    assert "作业已完成" in capsys.readouterr().out
    out_file = tmp_path / "清单.xlsx"
    assert main([*base, "export", job_id, "-o", str(out_file), *who]) == 0
    rows = calamine_sheets(out_file.read_bytes())["核查清单"][1:]
    assert len(rows) == 4 and all("*" in row[5] for row in rows if row[5])
    assert main([*base, "export", job_id, "-o", str(out_file), "--full-ids", *who]) == 0
    assert households[0].ids[0] in [row[5] for row in calamine_sheets(out_file.read_bytes())["核查清单"][1:]]
    capsys.readouterr()
    assert main([*base, "cancel", job_id, *who]) == 1  # finished: nothing to cancel
    assert "已结束" in capsys.readouterr().err
    second = desk_for(engine, sim).start_job(districts="西湖区")
    assert main([*base, "cancel", second, *who]) == 0 and "已取消" in capsys.readouterr().out


def desk_for(engine, sim) -> Desk:
    return make_desk(engine, sim.base_url)
