"""The console over real HTTP (no browser): screens, CSRF, SOAR's own writes, transactions, safety."""

from __future__ import annotations

import re
import socket

import httpx
import pytest
from sqlalchemy import func, insert, select

from soar_ext import hookimpl
from soar_ext.audit_store import read_entries
from soar_ext.config import Config
from soar_ext.console.app import create_app
from soar_ext.console.operators import DEMO_OPERATORS
from soar_ext.console.serve import ServeOptions, serve
from soar_ext.console.tour import batch_with_houses, first_project, person_with_family, waivable_renewal
from soar_ext.db.codes import AllocationKind, ContractStatus, DocumentType, HouseStatus
from soar_ext.db.legacy import (
    allocation_applicants,
    allocation_houses,
    applications,
    coconstruction_projects,
    contracts,
    houses,
)
from soar_ext.db.oracle_lint import StatementRecorder
from soar_ext.hook_payloads import (
    AllocationSelection,
    Contribution,
    DocumentReceipt,
    Notice,
    ProjectChange,
)
from soar_ext.idnumber import is_valid_id_number
from tests.console_env import RunningConsole, csrf_of

SCREEN_PATHS = (
    "/",
    "/contracts",
    "/exchange",
    "/exchange/business",
    "/persons",
    "/projects",
    "/projects/new",
    "/allocation/adjustment",
    "/allocation/selection",
    "/housing",
    "/jobs",
    "/plugins",
    "/audit",
)
ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


class Recorder:
    """Records what SOAR's workflow hooks receive and answers allocation with a panel."""

    PLUGIN_LABEL = "记录器"

    def __init__(self) -> None:
        self.saved: list[ProjectChange] = []
        self.received: list[DocumentReceipt] = []
        self.selected: list[AllocationSelection] = []

    @hookimpl
    def soar_project_saved(self, project: ProjectChange) -> None:
        self.saved.append(project)

    @hookimpl
    def soar_documents_received(self, receipt: DocumentReceipt) -> None:
        self.received.append(receipt)

    @hookimpl
    def soar_allocation_selected(self, allocation: AllocationSelection) -> list[Contribution]:
        self.selected.append(allocation)
        text = f"共 {len(allocation.application_ids)} 人、{len(allocation.house_ids)} 套"
        return [Contribution("panel", "recorder.summary", "关联情况", content=Notice(text))]


def login(client: httpx.Client, operator_id: str) -> str:
    token = csrf_of(client.get("/").text)
    answer = client.post("/operator", data={"csrf_token": token, "operator": operator_id, "return_to": "/"})
    assert answer.status_code == 303
    return token


def follow(client: httpx.Client, answer: httpx.Response) -> httpx.Response:
    assert answer.status_code == 303, answer.text[:500]
    return client.get(answer.headers["location"])


def full_ids(html: str) -> list[str]:
    return [m for m in ID_SHAPED.findall(html) if is_valid_id_number(m.upper())]


def test_every_screen_answers_for_every_demo_operator(console: RunningConsole) -> None:
    with console.http() as client:
        for demo in DEMO_OPERATORS:
            login(client, demo.id)
            for path in SCREEN_PATHS:
                answer = client.get(path)
                assert answer.status_code == 200, (demo.id, path)
                assert demo.operator.name in answer.text
                assert answer.headers["cache-control"] == "no-store"
                assert "script-src 'self'" in answer.headers["content-security-policy"]
                assert answer.headers["server-timing"].startswith("app;dur=")


def post_routes(console: RunningConsole) -> list[str]:
    app = create_app(console.runtime)
    return [route.path for route in app.routes if "POST" in (getattr(route, "methods", None) or ())]


def test_every_post_route_refuses_a_request_without_the_csrf_token(console: RunningConsole) -> None:
    contract = console.lookup(waivable_renewal)
    paths = post_routes(console)
    assert len(paths) >= 10
    with console.http() as client:
        token = login(client, "demo-clerk")
        for path in paths:
            concrete = re.sub(r"\{(\w+)\}", lambda m: contract.htid if m.group(1) == "htid" else "X", path)
            for data in ({}, {"csrf_token": "wrong"}):
                answer = client.post(concrete, data=data)
                assert answer.status_code == 403, (path, data)
                assert "安全校验未通过" in answer.text
        foreign = client.post(
            f"/contracts/{contract.htid}/sign", data={"csrf_token": token}, headers={"Origin": "http://evil.example"}
        )
        assert foreign.status_code == 403
    with console.engine.connect() as conn:
        assert conn.execute(select(contracts.c.htzt).where(contracts.c.htid == contract.htid)).scalar() == "00"


def test_pages_for_other_hosts_are_refused(console: RunningConsole) -> None:
    with console.http() as client:
        assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400


def test_unknown_pages_and_wrong_methods_answer_in_chinese(console: RunningConsole) -> None:
    with console.http() as client:
        missing = client.get("/persons/NO-SUCH-PERSON")
        assert missing.status_code == 404 and "未找到" in missing.text
        wrong = client.get("/action")
        assert wrong.status_code == 405 and "请求方式" in wrong.text


def test_an_expired_action_token_says_so_and_calls_no_plugin(console: RunningConsole) -> None:
    with console.http() as client:
        token = login(client, "demo-clerk")
        answer = client.post("/action", data={"csrf_token": token, "action": "0" * 40, "return_to": "/persons"})
        assert "该操作已失效" in follow(client, answer).text


def test_signing_in_shadow_mode_shows_the_trial_note_and_keeps_the_deposit(console_factory) -> None:
    running = console_factory(modes={"deposit_waiver": "shadow"})
    contract = running.lookup(waivable_renewal)
    before = running.lookup(
        lambda c: c.execute(select(contracts.c.yj).where(contracts.c.htid == contract.htid)).scalar()
    )
    with running.http() as client:
        token = login(client, "demo-clerk")
        page = follow(client, client.post(f"/contracts/{contract.htid}/sign", data={"csrf_token": token})).text
    assert "试运行提示" in page and "[试运行]钱江分押金减免" in page and "已签订" in page
    row = running.lookup(lambda c: c.execute(select(contracts).where(contracts.c.htid == contract.htid)).one())
    assert row.htzt == ContractStatus.SIGNED and row.yj == before


def test_a_signed_contract_cannot_be_signed_again(console: RunningConsole) -> None:
    contract = console.lookup(waivable_renewal)
    with console.http() as client:
        token = login(client, "demo-clerk")
        follow(client, client.post(f"/contracts/{contract.htid}/sign", data={"csrf_token": token}))
        again = client.post(f"/contracts/{contract.htid}/sign", data={"csrf_token": token, "return_to": "/contracts"})
        assert "当前状态为「已签订」，不能再次签订" in follow(client, again).text


def test_project_form_checks_fields_then_saves_and_tells_the_plugins(console_factory) -> None:
    recorder = Recorder()
    running = console_factory(plugins=[("recorder", recorder)])
    with running.http() as client:
        token = login(client, "demo-clerk")
        form = {"csrf_token": token, "xmbh": "PJ-T-001", "xmmc": "", "pjts": "12", "pjmj": "880.5"}
        blank = client.post("/projects", data=form)
        assert blank.status_code == 400 and "请填写项目名称" in blank.text and 'value="PJ-T-001"' in blank.text
        long_name = client.post("/projects", data={**form, "xmmc": "项" * 67})
        assert long_name.status_code == 400 and "超过长度限制" in long_name.text
        bad_units = client.post("/projects", data={**form, "xmmc": "测试项目", "pjts": "十二"})
        assert bad_units.status_code == 400 and "应配建套数必须是整数" in bad_units.text
        assert recorder.saved == []
        saved = follow(client, client.post("/projects", data={**form, "xmmc": "测试配建项目"}))
        assert "已保存" in saved.text
    with running.engine.connect() as conn:
        row = conn.execute(select(coconstruction_projects).where(coconstruction_projects.c.xmbh == "PJ-T-001")).one()
        assert conn.execute(select(func.count()).select_from(coconstruction_projects)).scalar_one() > 1
    assert row.xmmc == "测试配建项目" and row.pjts == 12 and str(row.pjmj) == "880.50"
    assert recorder.saved == [ProjectChange(project_id=row.pjxmid, created=True)]


def test_received_documents_reach_the_hook_with_their_types(console_factory) -> None:
    recorder = Recorder()
    running = console_factory(plugins=[("recorder", recorder)])
    project = running.lookup(first_project)
    with running.http() as client:
        token = login(client, "demo-clerk")
        url = f"/projects/{project}/documents"
        empty = client.post(url, data={"csrf_token": token, "return_to": f"/projects/{project}"})
        assert "请至少选择一份" in follow(client, empty).text
        zero = client.post(url, data={"csrf_token": token}, files={"doc.02": ("承诺书.pdf", b"", "application/pdf")})
        assert "是空文件" in follow(client, zero).text
        files = {
            "doc.01": ("配建协议书.pdf", b"%PDF-1.4 agreement", "application/pdf"),
            "doc.04": ("联系单.pdf", b"%PDF-1.4 release", "application/pdf"),
        }
        done = follow(client, client.post(url, data={"csrf_token": token}, files=files)).text
    assert "已收件 2 份材料" in done and DocumentType.LABELS["04"] in done
    (receipt,) = recorder.received
    assert receipt.project_id == project
    assert [(d.doc_type, d.file_name, d.content) for d in receipt.documents] == [
        ("01", "配建协议书.pdf", b"%PDF-1.4 agreement"),
        ("04", "联系单.pdf", b"%PDF-1.4 release"),
    ]


def test_allocation_choice_is_written_by_soar_and_the_hook_gets_the_whole_selection(console_factory) -> None:
    recorder = Recorder()
    running = console_factory(plugins=[("recorder", recorder)])
    pcid = running.lookup(lambda c: batch_with_houses(c, AllocationKind.SELECTION))
    with running.engine.connect() as conn:
        before_apps = set(
            conn.execute(select(allocation_applicants.c.sqid).where(allocation_applicants.c.pcid == pcid)).scalars()
        )
        before_houses = set(
            conn.execute(select(allocation_houses.c.fyid).where(allocation_houses.c.pcid == pcid)).scalars()
        )
        qualified = (
            conn.execute(
                select(applications.c.sqid)
                .where(applications.c.spzt == "04", applications.c.sqid.not_in(before_apps or {""}))
                .order_by(applications.c.sqid)
                .limit(2)
            )
            .scalars()
            .all()
        )
        vacant = (
            conn.execute(
                select(houses.c.fyid)
                .where(houses.c.fyzt == HouseStatus.VACANT, houses.c.fyid.not_in(before_houses or {""}))
                .limit(1)
            )
            .scalars()
            .all()
        )
    page = f"/allocation/selection/{pcid}"
    with running.http() as client:
        token = login(client, "demo-clerk")
        assert client.get(page).status_code == 200
        data = {"csrf_token": token, "app": list(qualified), "house": list(vacant), "return_to": page}
        shown = follow(client, client.post(f"{page}/select", data=data)).text
        assert "已加入本批次：申请人 2 名，房源 1 套" in shown and "关联情况" in shown
        let = {"csrf_token": token, "house": ["NO-SUCH-HOUSE"], "return_to": page}
        assert "不是空置状态" in follow(client, client.post(f"{page}/select", data=let)).text
        removed = follow(client, client.post(f"{page}/remove", data={"csrf_token": token, "app": [qualified[0]]})).text
        assert "已从本批次移出 1 条记录" in removed
    first, second = recorder.selected
    assert set(first.application_ids) == before_apps | set(qualified) and set(first.house_ids) == before_houses | set(
        vacant
    )
    assert first.kind == AllocationKind.SELECTION and first.batch_id == pcid
    assert set(second.application_ids) == before_apps | {qualified[1]}
    with running.engine.connect() as conn:
        rows = conn.execute(select(allocation_applicants.c.sqid).where(allocation_applicants.c.pcid == pcid)).scalars()
        assert set(rows) == before_apps | {qualified[1]}


def test_a_request_commits_on_success_and_rolls_back_on_error(console: RunningConsole) -> None:
    rt = console.runtime
    operator = DEMO_OPERATORS[0].operator
    values = {"xmbh": "TX-1", "xmmc": "事务测试"}
    with pytest.raises(RuntimeError), rt.soar_call(operator) as ctx:
        ctx.connection.execute(insert(coconstruction_projects).values(pjxmid="TX1", **values))
        raise RuntimeError("SOAR's work failed")
    with rt.soar_call(operator) as ctx:
        assert (
            ctx.connection.execute(
                select(coconstruction_projects).where(coconstruction_projects.c.pjxmid == "TX1")
            ).first()
            is None
        )
        ctx.connection.execute(insert(coconstruction_projects).values(pjxmid="TX2", **{**values, "xmbh": "TX-2"}))
    with console.engine.connect() as conn:
        assert (
            conn.execute(
                select(coconstruction_projects.c.xmmc).where(coconstruction_projects.c.pjxmid == "TX2")
            ).scalar()
            == "事务测试"
        )


def test_audit_log_is_for_administrators_and_shows_subjects_masked(console: RunningConsole) -> None:
    contract = console.lookup(waivable_renewal)
    with console.http() as client:
        token = login(client, "demo-clerk")
        follow(client, client.post(f"/contracts/{contract.htid}/sign", data={"csrf_token": token}))
        assert "您没有「系统管理员」权限" in client.get("/audit").text
        login(client, "demo-admin")
        page = client.get("/audit?action=qianjiang.score").text
    entries = [e.subject_masked for e in read_entries(console.runtime.audit_store(), action="qianjiang.score")]
    assert entries and all(masked in page for masked in entries)
    assert "qianjiang.score" in page and full_ids(page) == []


def test_serve_refuses_an_address_outside_loopback(tmp_path, capsys) -> None:
    options = ServeOptions(url=f"sqlite:///{tmp_path / 'x.db'}", host="0.0.0.0", port=0)
    assert serve(options, Config()) == 2
    assert "回环地址" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_serve_refuses_an_impossible_household_count(tmp_path, capsys) -> None:
    options = ServeOptions(url=f"sqlite:///{tmp_path / 'x.db'}", port=0, households=0)
    assert serve(options, Config()) == 2
    assert "households must be between" in capsys.readouterr().err


def test_serve_says_which_port_is_taken_and_what_to_do(tmp_path, capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        options = ServeOptions(url=f"sqlite:///{tmp_path / 'x.db'}", port=port)
        assert serve(options, Config()) == 2
    err = capsys.readouterr().err
    assert f"端口 {port} 已被占用" in err and "--port" in err


def test_console_statements_compile_cleanly_for_oracle(console_factory) -> None:
    running = console_factory(plugins=[("recorder", Recorder())])
    person_id, _name = running.lookup(person_with_family)
    contract = running.lookup(waivable_renewal)
    project = running.lookup(first_project)
    pcid = running.lookup(lambda c: batch_with_houses(c, AllocationKind.ADJUSTMENT))
    with StatementRecorder(running.engine) as recorder, running.http() as client:
        token = login(client, "demo-admin")
        for path in (
            *SCREEN_PATHS,
            f"/persons/{person_id}",
            "/persons?q.xm=王&q.sfzh=",
            f"/contracts/{contract.htid}",
            f"/projects/{project}",
            f"/projects/{project}/edit",
            f"/allocation/adjustment/{pcid}",
            "/exchange/business?x.inspection_status=01&x.contract_signed=0&q.hflx=01",
            "/housing?q.fyzt=01&q.qx=330106&q.xmmc=公寓",
        ):
            assert client.get(path).status_code == 200, path
        client.post(f"/contracts/{contract.htid}/sign", data={"csrf_token": token})
        client.post(f"/projects/{project}", data={"csrf_token": token, "xmbh": "PJ-LINT", "xmmc": "改名"})
        client.post(
            f"/projects/{project}/documents", data={"csrf_token": token}, files={"doc.01": ("a.pdf", b"%PDF", "x")}
        )
        client.post("/allocation/adjustment/batches", data={"csrf_token": token, "pcmc": "测试批次"})
        vacant = running.lookup(
            lambda c: c.execute(select(houses.c.fyid).where(houses.c.fyzt == HouseStatus.VACANT).limit(1)).scalar()
        )
        client.post(f"/allocation/adjustment/{pcid}/select", data={"csrf_token": token, "house": [vacant]})
        client.post(f"/allocation/adjustment/{pcid}/remove", data={"csrf_token": token, "house": [vacant]})
    assert len(recorder.recorded) > 50
    assert recorder.lint() == []


def test_the_console_commands_are_on_the_command_line(capsys) -> None:
    from soar_ext.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["console", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out and "screenshots" in out
    with pytest.raises(SystemExit):
        main(["console", "serve", "--help"])
    assert "--reset" in capsys.readouterr().out
