"""Re-check of 待复核 deposit-waiver decisions and the 押金退还 list (simulator over loopback HTTP)."""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from soar_ext.audit_store import read_entries
from soar_ext.config import Config
from soar_ext.context import Operator
from soar_ext.db.codes import ContractStatus, ContractType, Relation
from soar_ext.db.extension import deposit_decisions
from soar_ext.db.legacy import contracts, persons
from soar_ext.deposit_recheck import JOB_NAME, REFUND_HEADERS, REFUND_TITLE, RUN_ACTION, RefundRow, refund_sheet
from soar_ext.export.xlsx import XLSX_CONTENT_TYPE, write_xlsx
from soar_ext.hook_payloads import ActionRequest, ContractDraft, DetailView
from soar_ext.hooks import deposit_waiver
from soar_ext.host import SoarHost
from tests.export_readers import assert_no_formulas, calamine_sheets, openpyxl_book
from tests.soar_builders import ADULT, add_contract, add_family
from tests.soar_env import soar_database

NOW = dt.datetime(2024, 7, 1, 10, 0)
LATER = dt.datetime(2024, 7, 8, 9, 0)
CLERK = Operator(id="u001", name="王经办", roles=frozenset({"clerk"}))
# the job's role only: no 数据导出 (exporter), no 查看完整身份证号 (full_id)
CHECKER = Operator(id="b001", name="复核员", roles=frozenset({"batch_checker"}))


pytestmark = pytest.mark.usefixtures("fresh_sim")


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'soar.db'}"


@pytest.fixture
def engine(url: str):
    engine = soar_database(url)
    yield engine
    engine.dispose()


def _host(sim) -> SoarHost:
    # generous time limits: the shared test machine may be slow, and a timeout would leave a household flagged
    config = Config(plugin_settings={"deposit_waiver": {"time_budget_seconds": 20}})
    return SoarHost(
        config,
        plugins=[("deposit_waiver", deposit_waiver)],
        load_entry_points=False,
        adapters=sim.registry(config, read_timeout=10.0),
    )


def _sign(engine, host, htid, family_id, at=NOW):
    with engine.begin() as conn:
        return host.pre_contract(
            host.context(CLERK, conn, clock=lambda: at),
            ContractDraft(contract_id=htid, contract_type=ContractType.NEW, family_id=family_id),
        )


def _family(engine, n: int = 1):
    members = [("张伟", Relation.SELF, ADULT), ("李娜", Relation.SPOUSE, dt.date(1987, 8, 9))][:n]
    with engine.begin() as conn:
        family_id, people = add_family(conn, members)
        htid = add_contract(conn, family_id, ContractType.NEW)
    return family_id, people, htid


def _decision(engine, htid):
    with engine.connect() as conn:
        return conn.execute(select(deposit_decisions).where(deposit_decisions.c.htid == htid)).mappings().one()


def _contract(engine, htid):
    with engine.connect() as conn:
        return conn.execute(select(contracts).where(contracts.c.htid == htid)).mappings().one()


def _run(engine, sim, operator=CHECKER, at=LATER, **params):
    """Run the job as SOAR's scheduler does, later and with adapters of its own (so the circuit breaker
    the outage opened during signing is not the job's)."""
    host = _host(sim)
    with engine.begin() as conn:
        return host.run_job(host.context(operator, conn, clock=lambda: at), JOB_NAME, **params)


def _flagged_households(engine, sim, host):
    """Four households signed while the service was down: all flagged 待复核."""
    a = _family(engine)  # draft, will score 720 → waived
    b = _family(engine)  # signed by SOAR afterwards, will score 760 → refundable
    c = _family(engine, 2)  # will score 650 / no score → required
    sim.state.plan.set("status_5xx", status=503)
    for family_id, _people, htid in (a, b, c):
        decision = _sign(engine, host, htid, family_id)
        assert decision.needs_recheck and decision.deposit == Decimal("2400.00")
    sim.state.reset()
    with engine.begin() as conn:  # SOAR signs b: the deposit of 2400 is paid
        conn.execute(update(contracts).where(contracts.c.htid == b[2]).values(htzt=ContractStatus.SIGNED))
    sim.state.set_score(a[1][0][1], 720)
    sim.state.set_score(b[1][0][1], 760)
    sim.state.set_score(c[1][0][1], 650)
    sim.state.set_score(c[1][1][1], None)  # no score (never the simulator's own pick for that ID)
    return a, b, c


def _one_flagged_household(engine, sim, score: int = 720):
    """One household signed while the service was down (待复核); the member scores ``score`` afterwards."""
    host = _host(sim)
    family_id, people, htid = _family(engine)
    sim.state.plan.set("status_5xx", status=503)
    _sign(engine, host, htid, family_id)
    sim.state.reset()
    sim.state.set_score(people[0][1], score)
    return host, htid


def _refund_rows_read_back(source: Path | bytes) -> list[list[object]]:
    """The refund list's rows as python-calamine reads them (the header first); it is the only sheet."""
    sheets = calamine_sheets(source)
    assert list(sheets) == [REFUND_TITLE]
    return sheets[REFUND_TITLE]


def _export_entries(engine_url: str, host: SoarHost):
    return [e for e in read_entries(host.audit_store(engine_url)) if e.action == "export.refund_list"]


def test_recheck_decides_flagged_households_and_lists_refundable_signed_contracts(engine, sim, url) -> None:
    host = _host(sim)
    a, b, c = _flagged_households(engine, sim, host)
    signed_before = _contract(engine, b[2])
    draft_before = _contract(engine, a[2])
    calls = sim.state.plan.calls("score")

    result = _run(engine, sim)

    assert result.ok and result.plugin == "deposit_waiver"
    assert "待复核记录 3 条" in result.message and "可退还押金的已签合同 1 份" in result.message
    assert sim.state.plan.calls("score") >= calls + 4  # a, b and both members of c
    assert (_decision(engine, a[2])["decision"], _decision(engine, a[2])["needs_recheck"]) == ("waived", 0)
    assert (_decision(engine, b[2])["decision"], _decision(engine, b[2])["max_score"]) == ("waived", 760)
    assert (_decision(engine, c[2])["decision"], _decision(engine, c[2])["needs_recheck"]) == ("required", 0)
    assert _decision(engine, b[2])["message"].startswith("复核：")
    # SOAR's contracts are never changed by the re-check
    assert _contract(engine, b[2]) == signed_before and _contract(engine, a[2]) == draft_before
    # the refund list: only the signed contract whose deposit was paid
    (row,) = result.data.refundable
    assert row.contract_id == b[2] and row.deposit == Decimal("2400.00") and row.max_score == 760
    assert row.applicant == "张*"
    # ... handed out as a workbook of the export module, to the batch checker (who has no exporter role)
    assert result.file_name == "押金退还清单-20240708-090000.xlsx" and result.content_type == XLSX_CONTENT_TYPE
    rows = _refund_rows_read_back(result.file_bytes)
    assert rows == [
        list(REFUND_HEADERS),
        [
            signed_before["htcode"],
            b[2],
            b[0],
            "张*",
            ContractType.LABELS[ContractType.NEW],
            2400.0,
            760.0,
            700.0,
            LATER,
        ],
    ]
    sheet = openpyxl_book(result.file_bytes)[REFUND_TITLE]
    assert [c.value for c in sheet[1]] == list(REFUND_HEADERS) and sheet.max_row == 2
    code, _htid, _jtid, _name, _type, deposit, score, threshold, at = sheet[2]
    assert (code.value, code.data_type) == (signed_before["htcode"], "s")
    assert (deposit.value, deposit.data_type, deposit.number_format) == (2400, "n", "#,##0.00")
    assert (score.value, score.number_format) == (760, "0") and (threshold.value, threshold.number_format) == (700, "0")
    assert (at.value, at.number_format) == (LATER, "yyyy-mm-dd hh:mm:ss")
    assert_no_formulas(result.file_bytes)
    # every query audited write-ahead, for the re-check's purpose, plus the job, and the list once as an export
    entries = read_entries(host.audit_store(url))
    rechecks = [e for e in entries if e.purpose == "公租房押金减免复核" and e.action == "qianjiang.score"]
    assert len(rechecks) == 4 and all(e.state == "done" for e in rechecks)
    assert {e.action for e in entries} >= {"qianjiang.score", JOB_NAME}
    (export,) = _export_entries(url, host)
    assert (export.operator_id, export.purpose, export.interfaces, export.result_status) == (
        "b001",
        "押金退还清单导出",
        ("excel",),
        "ok",
    )
    assert export.detail["file_name"] == result.file_name and export.detail["rows"] == 1
    assert export.detail["contracts"] == [b[2]] and export.detail["full_ids"] is False


def test_recheck_is_idempotent(engine, sim) -> None:
    host = _host(sim)
    _a, b, _c = _flagged_households(engine, sim, host)
    first = _run(engine, sim)
    calls = sim.state.plan.calls("score")
    decisions = {r: _decision(engine, r) for r in (b[2],)}
    second = _run(engine, sim, at=LATER + dt.timedelta(days=1))
    assert second.ok and "待复核记录 0 条" in second.message
    assert sim.state.plan.calls("score") == calls  # nobody asked twice
    assert _decision(engine, b[2]) == decisions[b[2]]
    assert [r.contract_id for r in second.data.refundable] == [r.contract_id for r in first.data.refundable]


def test_still_unavailable_service_leaves_the_decision_flagged_and_unchanged(engine, sim) -> None:
    host = _host(sim)
    family_id, _people, htid = _family(engine)
    sim.state.plan.set("status_5xx", status=503)
    _sign(engine, host, htid, family_id)
    stored = _decision(engine, htid)
    result = _run(engine, sim)
    assert result.ok and "仍待复核 1 条" in result.message
    assert _decision(engine, htid) == stored


def test_household_whose_adults_all_have_invalid_ids_is_told_which_and_flagged(engine, sim) -> None:
    host = _host(sim)
    family_id, people, htid = _family(engine, 2)
    with engine.begin() as conn:
        conn.execute(update(persons).where(persons.c.ryid == people[0][0]).values(sfzh="33010619850312001A"))
        conn.execute(update(persons).where(persons.c.ryid == people[1][0]).values(sfzh="3301061987"))
    decision = _sign(engine, host, htid, family_id)
    assert decision.needs_recheck and decision.allowed and decision.deposit == Decimal("2400.00")
    message = decision.messages[0]
    assert "张*（本人）" in message and "李*（配偶）" in message
    assert "前17位必须是数字" in message and "应为18位" in message and "待复核" in message
    assert "33010619850312001A" not in message and sim.state.plan.calls("score") == 0
    stored = _decision(engine, htid)
    assert stored["needs_recheck"] == 1
    # once SOAR's data is corrected, the re-check decides it
    with engine.begin() as conn:
        conn.execute(update(persons).where(persons.c.ryid == people[0][0]).values(sfzh=people[0][1]))
    sim.state.set_score(people[0][1], 705)
    result = _run(engine, sim)
    assert result.ok and _decision(engine, htid)["decision"] == "waived"
    members = json.loads(_decision(engine, htid)["members"])
    assert [m["status"] for m in members] == ["scored", "invalid_id"]


def test_recheck_needs_the_batch_checker_role_and_changes_nothing_without_it(engine, sim) -> None:
    _unused, htid = _one_flagged_household(engine, sim)
    result = _run(engine, sim, operator=CLERK)
    assert not result.ok and "批量核查人员" in result.message
    assert _decision(engine, htid)["needs_recheck"] == 1 and sim.state.plan.calls("score") == 0


def test_since_limits_the_recheck_to_recent_decisions(engine, sim) -> None:
    host = _host(sim)
    old_family, old_people, old_htid = _family(engine)
    new_family, new_people, new_htid = _family(engine)
    sim.state.plan.set("status_5xx", status=503)
    _sign(engine, host, old_htid, old_family, at=dt.datetime(2024, 6, 1, 9, 0))
    _sign(engine, host, new_htid, new_family, at=dt.datetime(2024, 6, 20, 9, 0))
    sim.state.reset()
    for people in (old_people, new_people):
        sim.state.set_score(people[0][1], 720)
    result = _run(engine, sim, since="2024-06-15")
    assert "待复核记录 1 条" in result.message
    assert _decision(engine, old_htid)["needs_recheck"] == 1 and _decision(engine, new_htid)["needs_recheck"] == 0
    bad = _run(engine, sim, since="15/06/2024")
    assert not bad.ok and "复核起始日期" in bad.message


def test_refund_list_cells_that_look_like_formulas_stay_text() -> None:
    row = RefundRow("=HYPERLINK(1)", "HT1", "+JT1", "-张*", "@新配租", Decimal("1"), None, 700, NOW)
    buffer = io.BytesIO()
    assert write_xlsx(buffer, [refund_sheet([row])], full_ids=False).rows == 1
    data = buffer.getvalue()
    assert_no_formulas(data)
    assert _refund_rows_read_back(data) == [
        list(REFUND_HEADERS),
        ["=HYPERLINK(1)", "HT1", "+JT1", "-张*", "@新配租", 1.0, "", 700.0, NOW],
    ]
    sheet = openpyxl_book(data)[REFUND_TITLE]
    assert all(sheet.cell(2, column).quotePrefix for column in (1, 3, 4, 5)) and not sheet["B2"].quotePrefix


def test_refund_workbook_keeps_formula_like_contract_codes_and_names_as_text(engine, sim, url) -> None:
    host = _host(sim)
    _a, b, _c = _flagged_households(engine, sim, host)
    with engine.begin() as conn:  # what a hostile or careless entry in SOAR could hold
        conn.execute(update(contracts).where(contracts.c.htid == b[2]).values(htcode='=HYPERLINK("http://x","y")'))
        conn.execute(update(persons).where(persons.c.ryid == b[1][0][0]).values(xm="=1+2"))
    result = _run(engine, sim)
    assert result.ok
    assert_no_formulas(result.file_bytes)
    _header, values = _refund_rows_read_back(result.file_bytes)
    assert values[0] == '=HYPERLINK("http://x","y")' and values[3] == "=***"
    sheet = openpyxl_book(result.file_bytes)[REFUND_TITLE]
    assert sheet["A2"].data_type == "s" and sheet["A2"].quotePrefix and sheet["D2"].quotePrefix


def test_nothing_to_refund_means_no_file_and_no_export(engine, sim, url) -> None:
    host = _host(sim)
    family_id, people, htid = _family(engine)
    sim.state.plan.set("status_5xx", status=503)
    _sign(engine, host, htid, family_id)
    sim.state.reset()
    sim.state.set_score(people[0][1], 720)  # waived, but the draft was never signed: nothing was paid
    result = _run(engine, sim)
    assert result.ok and "可退还押金的已签合同 0 份" in result.message
    assert (result.file_name, result.file_bytes, result.content_type) == (None, None, None)
    assert _export_entries(url, host) == []


def test_register_jobs_offers_the_recheck(engine, sim) -> None:
    host = _host(sim)
    with engine.connect() as conn:
        (job,) = host.register_jobs(host.context(CLERK, conn))
    assert (job.name, job.plugin, job.required_role) == (JOB_NAME, "deposit_waiver", "batch_checker")


def test_cli_deposit_recheck_writes_the_refund_list(engine, sim, url, tmp_path, monkeypatch, capsys) -> None:
    from soar_ext.adapters.simulators.qianjiang import DEFAULT_APP_ID, DEFAULT_APP_SECRET
    from soar_ext.cli import main

    host = _host(sim)
    _a, b, _c = _flagged_households(engine, sim, host)
    monkeypatch.setenv("SOAR_EXT_QIANJIANG_BASE_URL", sim.server.base_url)
    monkeypatch.setenv("SOAR_EXT_QIANJIANG_APP_ID", DEFAULT_APP_ID)
    monkeypatch.setenv("SOAR_EXT_QIANJIANG_APP_SECRET", DEFAULT_APP_SECRET)
    monkeypatch.setenv("SOAR_EXT_DISABLE_EXTERNAL_PLUGINS", "1")
    out = tmp_path / "refunds.xlsx"
    assert main(["deposit", "recheck", "--url", url, "--operator-id", "admin1", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "可退还押金的已签合同 1 份" in printed and str(out) in printed
    rows = _refund_rows_read_back(out)
    assert rows[0] == list(REFUND_HEADERS) and [row[1] for row in rows[1:]] == [b[2]]
    assert openpyxl_book(out)[REFUND_TITLE]["B2"].value == b[2]
    assert_no_formulas(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds personal data
    (export,) = _export_entries(url, host)
    assert export.operator_id == "admin1" and export.detail["file_name"].endswith(".xlsx")

    # without -o: 押金退还清单-<time>.xlsx in the current directory (the list is derived again, nobody re-asked)
    monkeypatch.chdir(tmp_path)
    assert main(["deposit", "recheck", "--url", url, "--operator-id", "admin1"]) == 0
    (default,) = tmp_path.glob("押金退还清单-*.xlsx")
    assert default.name in capsys.readouterr().out
    assert [row[1] for row in _refund_rows_read_back(default)[1:]] == [b[2]]
    assert len(_export_entries(url, host)) == 2
    # -o DIR: the default name inside that directory
    lists = tmp_path / "lists"
    lists.mkdir()
    assert main(["deposit", "recheck", "--url", url, "--operator-id", "admin1", "-o", str(lists)]) == 0
    (in_dir,) = lists.glob("押金退还清单-*.xlsx")
    assert str(in_dir) in capsys.readouterr().out and len(_refund_rows_read_back(in_dir)) == 2

    missing = tmp_path / "no-such-dir" / "refunds.xlsx"
    assert main(["deposit", "recheck", "--url", url, "--operator-id", "admin1", "-o", str(missing)]) == 2
    assert "no-such-dir" in capsys.readouterr().err and len(_export_entries(url, host)) == 3
    assert main(["deposit", "recheck", "--url", url, "--operator-id", "admin1", "--since", "yesterday"]) == 2


def _job_page(engine, host, operator):
    with engine.connect() as conn:
        return host.detail_view(host.context(operator, conn), DetailView("batch_job", JOB_NAME))


def test_job_page_shows_the_waiting_count_and_runs_the_recheck_from_its_button(engine, sim) -> None:
    host, htid = _one_flagged_household(engine, sim)
    panel, button = _job_page(engine, host, CHECKER)
    assert (panel.kind, panel.content.items) == ("panel", [("待复核记录", "1")])
    assert (button.kind, button.key, button.enabled, button.plugin) == ("action", RUN_ACTION, True, "deposit_waiver")
    with engine.begin() as conn:
        result = host.action(
            host.context(CHECKER, conn, clock=lambda: LATER),
            ActionRequest(RUN_ACTION, params={"since": ""}, plugin=button.plugin),
        )
    assert result.ok and "复核后减免 1 条" in result.message
    assert _decision(engine, htid)["needs_recheck"] == 0
    _panel, after = _job_page(engine, host, CHECKER)
    assert not after.enabled and after.hint == "暂无待复核记录。"


def test_job_page_button_is_disabled_and_refused_without_the_batch_checker_role(engine, sim) -> None:
    host, htid = _one_flagged_household(engine, sim)
    _panel, button = _job_page(engine, host, CLERK)
    assert not button.enabled and "批量核查人员" in (button.hint or "")
    with engine.begin() as conn:
        result = host.action(host.context(CLERK, conn), ActionRequest(RUN_ACTION, plugin="deposit_waiver"))
    assert not result.ok and "批量核查人员" in result.message
    assert _decision(engine, htid)["needs_recheck"] == 1 and sim.state.plan.calls("score") == 0


def test_other_pages_get_nothing_from_the_recheck(engine, sim) -> None:
    host = _host(sim)
    with engine.connect() as conn:
        ctx = host.context(CHECKER, conn)
        assert host.detail_view(ctx, DetailView("batch_job", "other.job")) == []
        assert host.detail_view(ctx, DetailView("person", JOB_NAME)) == []
