"""One host test per hook spec (``test_hook_<name>``), plus what the host guarantees for every hook.

Modelled on datasette's ``test_plugin_hooks_have_tests``: a hook spec without a
``test_hook_<name>`` here fails :func:`test_every_hook_spec_has_a_host_test`.
"""

from __future__ import annotations

import logging
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import select, text

from soar_ext import hookimpl, hookspecs
from soar_ext.config import Config
from soar_ext.context import Operator
from soar_ext.db.extension import plugin_decisions
from soar_ext.errors import InvalidInput, PermissionDenied
from soar_ext.hook_payloads import (
    ActionForm,
    ActionRequest,
    ActionResult,
    AllocationSelection,
    ContractDraft,
    Contribution,
    DetailView,
    DocumentReceipt,
    JobSpec,
    Notice,
    PreContractVerdict,
    ProjectChange,
    QueryField,
)
from soar_ext.hook_results import CHECKS
from soar_ext.host import MAX_MESSAGE_CHARS, SoarHost
from tests.host_fixtures import draft_connection, make_context, make_host

DRAFT = ContractDraft(contract_id="HT1", contract_type="03", family_id="JT1", deposit=Decimal("3000"))
ID = "11010519491231002X"
FULL_WIDTH_ID = ID.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
JUNK = object()


@pytest.fixture
def conn(tmp_path: Path):
    yield from draft_connection(tmp_path)


def _messages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def _decisions(conn) -> list[tuple[str, str]]:
    return [(r.plugin, r.verdict) for r in conn.execute(select(plugin_decisions.c.plugin, plugin_decisions.c.verdict))]


# ------------------------------------------------------------------------------------- lifecycle


def test_hook_soar_startup(conn, caplog) -> None:
    class Ready:
        @hookimpl
        def soar_startup(self):
            return None

    class Leaky:
        @hookimpl
        def soar_startup(self):
            return [f"bad record sfzh{ID}x", f"全角 {FULL_WIDTH_ID}", "x" * 5000]

    class Junk:
        @hookimpl
        def soar_startup(self):
            return 42

    class UserError:
        @hookimpl
        def soar_startup(self):
            raise InvalidInput("配置的分数线不正确")

    host = make_host([("ready", Ready()), ("leaky", Leaky()), ("junk", Junk()), ("user", UserError())])
    with caplog.at_level(logging.WARNING):
        problems = host.startup(make_context(conn, host))
    text_ = "\n".join(problems)
    assert ID not in text_ and FULL_WIDTH_ID not in text_ and "110105********002X" in text_
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in problems)
    assert any(p.startswith("junk: start-up failed") and "int" in p for p in problems)
    assert any(p.startswith("user: start-up failed") and "分数线" in p for p in problems)
    assert "user" in _messages(caplog) and "soar_startup" in _messages(caplog)
    assert not any(p.startswith("ready") for p in problems)


def test_hook_soar_shutdown(conn, caplog) -> None:
    called: list[str] = []

    class Raises:
        @hookimpl
        def soar_shutdown(self):
            called.append("raises")
            raise RuntimeError("cannot close")

    class Refuses:
        @hookimpl
        def soar_shutdown(self):
            called.append("refuses")
            raise PermissionDenied("不允许")

    class Junk:
        @hookimpl
        def soar_shutdown(self):
            called.append("junk")
            return "done"

    class Clean:
        @hookimpl
        def soar_shutdown(self):
            called.append("clean")

    host = make_host([("raises", Raises()), ("refuses", Refuses()), ("junk", Junk()), ("clean", Clean())])
    store = host.audit_store(str(conn.engine.url))
    with caplog.at_level(logging.WARNING):
        host.shutdown(make_context(conn, host))
    assert sorted(called) == ["clean", "junk", "raises", "refuses"]
    logged = _messages(caplog)
    for name in ("raises", "refuses", "junk"):
        assert f"plugin {name}" in logged and "soar_shutdown" in logged
    assert host._audit_stores == {} and store.engine.pool.checkedout() == 0


# ------------------------------------------------------------------------------------- contracts


class Gate:
    @hookimpl
    def soar_pre_contract(self, contract):
        return PreContractVerdict(allow=False, message=f"请先验房（身份证 sfzh{ID}，{FULL_WIDTH_ID}）")


class Counting:
    calls = 0

    @hookimpl
    def soar_pre_contract(self, contract):
        Counting.calls += 1
        return PreContractVerdict(allow=True)


def test_hook_soar_pre_contract(conn) -> None:
    class JunkVerdict:
        PLUGIN_LABEL = "坏插件"

        @hookimpl
        def soar_pre_contract(self):
            return {"allow": True}

    host = make_host([("gate", Gate()), ("junk", JunkVerdict())])
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert not decision.allowed and set(decision.blocked_by) == {"gate", "junk"}
    joined = " ".join(decision.messages)
    assert ID not in joined and FULL_WIDTH_ID not in joined and "110105********002X" in joined
    assert any("坏插件" in m and "暂不能签订" in m for m in decision.messages)
    assert sorted(_decisions(conn)) == [("gate", "block"), ("junk", "error")]


def test_hook_soar_pre_contract_fallback(conn) -> None:
    seen: list[str] = []

    class Fails:
        @hookimpl
        def soar_pre_contract(self):
            raise RuntimeError("bug")

        @hookimpl
        def soar_pre_contract_fallback(self, ctx, contract, error):
            seen.append(f"fails:{type(error).__name__}:{contract.contract_id}:{ctx.plugin}")
            return PreContractVerdict(allow=True, message="按应缴押金办理，已标记待复核", needs_recheck=True)

    class Healthy:
        @hookimpl
        def soar_pre_contract(self):
            return PreContractVerdict(allow=True)

        @hookimpl
        def soar_pre_contract_fallback(self):
            seen.append("healthy")  # must never run: this plugin did not fail
            return PreContractVerdict(allow=True)

    class JunkFallback:
        @hookimpl
        def soar_pre_contract(self):
            raise RuntimeError("bug")

        @hookimpl
        def soar_pre_contract_fallback(self):
            return "allow"

    host = make_host([("fails", Fails()), ("healthy", Healthy())])
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert decision.allowed and decision.needs_recheck and seen == ["fails:RuntimeError:HT1:fails"]
    host = make_host([("junkfb", JunkFallback())])
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert not decision.allowed and decision.blocked_by == ("junkfb",)


@pytest.mark.parametrize(
    "draft, reason",
    [
        (None, "未收到"),
        ("HT1", "无效"),
        (ContractDraft(contract_id=None, contract_type="03", family_id="JT1"), "合同ID"),  # type: ignore[arg-type]
        (ContractDraft(contract_id=17, contract_type="03", family_id="JT1"), "合同ID"),  # type: ignore[arg-type]
        (ContractDraft(contract_id="HT1", contract_type=3, family_id="JT1"), "配租类型"),  # type: ignore[arg-type]
        (ContractDraft(contract_id="HT404", contract_type="03", family_id="JT1"), "未找到合同"),
        (ContractDraft(contract_id="HT1", contract_type="03", family_id="JT9"), "不属于家庭"),
        (ContractDraft(contract_id="H" * 40_000, contract_type="03", family_id="JT1"), "未找到合同"),
    ],
)
def test_bad_contract_input_is_refused_before_any_plugin_and_nothing_is_stored(conn, draft, reason) -> None:
    Counting.calls = 0
    host = make_host([("counting", Counting()), ("gate", Gate())])
    with pytest.raises(InvalidInput, match=reason) as caught:
        host.pre_contract(make_context(conn, host), draft)
    assert Counting.calls == 0 and _decisions(conn) == []
    assert len(str(caught.value)) < 200  # echoed input is capped


# ------------------------------------------------------------------------------------- query screens


def test_hook_soar_query_fields(conn, caplog) -> None:
    class Fields:
        @hookimpl
        def soar_query_fields(self, screen):
            return [QueryField(key="f1", label="条件", kind="filter")] if screen == "housing.query" else None

    class JunkFields:
        @hookimpl
        def soar_query_fields(self):
            return [QueryField(key="ok", label="好", kind="filter"), "junk"]

    host = make_host([("fields", Fields()), ("junkfields", JunkFields())])
    with caplog.at_level(logging.ERROR):
        fields = host.query_fields(make_context(conn, host), "housing.query")
    assert [(f.key, f.plugin) for f in fields] == [("f1", "fields")]
    assert "junkfields" in _messages(caplog) and "QueryField" in _messages(caplog)
    with pytest.raises(InvalidInput, match="查询界面标识"):
        host.query_fields(make_context(conn, host), None)  # type: ignore[arg-type]


def test_hook_soar_query_build(conn, caplog) -> None:
    class NotASelect:
        PLUGIN_LABEL = "返回错误类型的插件"

        @hookimpl
        def soar_query_build(self, query):
            return str(query)

    class Chained:
        @hookimpl
        def soar_query_build(self, query):
            return query.where(plugin_decisions.c.plugin == "x")

    host = make_host([("notselect", NotASelect()), ("chained", Chained())])
    with caplog.at_level(logging.ERROR):
        built = host.query_build(make_context(conn, host), "exchange.business", select(plugin_decisions.c.id), {})
    assert "plugin" in str(built.statement)  # the chained plugin got a real Select and worked
    assert len(built.warnings) == 1 and "返回错误类型的插件" in built.warnings[0]
    assert "plugin notselect failed" in _messages(caplog) and "plugin chained failed" not in _messages(caplog)
    with pytest.raises(InvalidInput):
        host.query_build(make_context(conn, host), "exchange.business", "SELECT 1", {})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        host.query_build(make_context(conn, host), "exchange.business", select(plugin_decisions.c.id), {1: "x"})


# ------------------------------------------------------------------------------------- pages and actions


class Panel:
    @hookimpl
    def soar_detail_view(self, view):
        return [
            Contribution(kind="panel", key="panel.ok", label="面板", content=[Notice("正常")]),
            Contribution(kind="action", key="panel.act", label="核查", content=ActionForm()),
        ]

    @hookimpl
    def soar_allocation_selected(self, allocation):
        return [Contribution(kind="panel", key=f"alloc.{allocation.batch_id}", label="划拨", content=Notice("好"))]


class BadContent:
    @hookimpl
    def soar_detail_view(self):
        return [Contribution(kind="panel", key="bad", label="坏", content={"html": "<b>x</b>"})]

    @hookimpl
    def soar_allocation_selected(self):
        return Contribution(kind="panel", key="bad", label="坏")  # not a list


def test_hook_soar_detail_view(conn, caplog) -> None:
    host = make_host([("panel", Panel()), ("badcontent", BadContent())])
    with caplog.at_level(logging.ERROR):
        shown = host.detail_view(make_context(conn, host), DetailView(entity="person", key="RY1"))
    assert [(c.key, c.plugin) for c in shown] == [("panel.ok", "panel"), ("panel.act", "panel")]
    assert "badcontent" in _messages(caplog) and "Block" in _messages(caplog)
    with pytest.raises(InvalidInput):
        host.detail_view(make_context(conn, host), DetailView(entity="person", key=None))  # type: ignore[arg-type]


def test_hook_soar_allocation_selected(conn, caplog) -> None:
    host = make_host([("panel", Panel()), ("badcontent", BadContent())])
    with caplog.at_level(logging.ERROR):
        shown = host.allocation_selected(make_context(conn, host), AllocationSelection(batch_id="PC1", kind="01"))
    assert [(c.key, c.plugin) for c in shown] == [("alloc.PC1", "panel")]
    assert "badcontent" in _messages(caplog)


class Confirm:
    @hookimpl
    def soar_action(self, request):
        if request.key == "confirm.go":
            return ActionResult(ok=True, message=f"已确认 {FULL_WIDTH_ID}")
        return None


class BrokenActions:
    @hookimpl
    def soar_action(self, request):
        raise RuntimeError("broken plugin")


def test_hook_soar_action(conn, caplog) -> None:
    host = make_host([("confirm", Confirm()), ("broken", BrokenActions())])  # pluggy asks "broken" first
    ctx = make_context(conn, host)
    # routed by plugin: the broken plugin is never called
    with caplog.at_level(logging.ERROR):
        routed = host.action(ctx, ActionRequest(key="confirm.go", plugin="confirm"))
    assert routed.ok and routed.plugin == "confirm" and FULL_WIDTH_ID not in routed.message
    assert "broken" not in _messages(caplog)
    # no plugin sent: the broken plugin is isolated, the owner still answers
    legacy = host.action(ctx, ActionRequest(key="confirm.go"))
    assert legacy.ok and legacy.plugin == "confirm"
    assert "plugin broken failed in soar_action" in _messages(caplog)
    # the broken plugin's own action fails alone, with a message
    failed = host.action(ctx, ActionRequest(key="broken.x", plugin="broken"))
    assert not failed.ok and "执行出错" in failed.message and failed.plugin == "broken"
    missing = host.action(ctx, ActionRequest(key="confirm.go", plugin="nobody"))
    assert not missing.ok and "未找到操作" in missing.message


def test_junk_action_result_is_that_plugins_failure(conn) -> None:
    class JunkResult:
        @hookimpl
        def soar_action(self):
            return ActionResult(ok=True, message="x", content=["not a block"])

    host = make_host([("junkresult", JunkResult()), ("confirm", Confirm())])
    ctx = make_context(conn, host)
    assert not host.action(ctx, ActionRequest(key="any", plugin="junkresult")).ok
    assert host.action(ctx, ActionRequest(key="confirm.go")).ok


@pytest.mark.parametrize(
    "request_, reason",
    [
        (None, "未收到"),
        (ActionRequest(key=None), "操作标识"),  # type: ignore[arg-type]
        (ActionRequest(key=12), "操作标识"),  # type: ignore[arg-type]
        (ActionRequest(key="confirm.go", plugin=5), "所属插件"),  # type: ignore[arg-type]
        (ActionRequest(key="confirm.go", params="x"), "参数"),  # type: ignore[arg-type]
    ],
)
def test_bad_action_requests_are_refused_before_any_plugin(conn, request_, reason) -> None:
    host = make_host([("confirm", Confirm())])
    with pytest.raises(InvalidInput, match=reason):
        host.action(make_context(conn, host), request_)


def test_echoed_action_keys_are_capped(conn) -> None:
    host = make_host([("confirm", Confirm())])
    result = host.action(make_context(conn, host), ActionRequest(key="k" * 40_000 + ID))
    assert not result.ok and len(result.message) < 100 and ID not in result.message


# ------------------------------------------------------------------------------------- projects and jobs


class Writer:
    """Writes a row, then fails or returns junk: its write must be rolled back with it."""

    def _write(self, ctx, key: str) -> None:
        ctx.connection.execute(
            text(
                "INSERT INTO sx_plugin_decision"
                " (id, plugin, hook, subject_key, run_mode, verdict, enforced, created_at)"
                " VALUES (:id, 'w', 'h', :key, 'on', 'allow', 1, CURRENT_TIMESTAMP)"
            ),
            {"id": key, "key": key},
        )

    @hookimpl
    def soar_project_saved(self, ctx, project):
        self._write(ctx, "project-" + project.project_id)
        return "saved"  # junk: saved hooks return None

    @hookimpl
    def soar_documents_received(self, ctx, receipt):
        self._write(ctx, "docs-" + receipt.project_id)
        raise RuntimeError("repository down")


class Recorder:
    seen: ClassVar[list[str]] = []

    @hookimpl
    def soar_project_saved(self, project):
        Recorder.seen.append("project:" + project.project_id)

    @hookimpl
    def soar_documents_received(self, receipt):
        Recorder.seen.append(f"docs:{receipt.project_id}:{len(receipt.documents)}")


def test_hook_soar_project_saved(conn, caplog) -> None:
    Recorder.seen = []
    host = make_host([("writer", Writer()), ("recorder", Recorder())])
    with caplog.at_level(logging.ERROR):
        host.project_saved(make_context(conn, host), ProjectChange(project_id="PJ1", created=True))
    assert Recorder.seen == ["project:PJ1"]
    assert _decisions(conn) == []  # the junk-returning plugin's write was rolled back
    assert "plugin writer failed in soar_project_saved" in _messages(caplog)
    with pytest.raises(InvalidInput):
        host.project_saved(make_context(conn, host), None)  # type: ignore[arg-type]


def test_hook_soar_documents_received(conn, caplog) -> None:
    Recorder.seen = []
    host = make_host([("writer", Writer()), ("recorder", Recorder())])
    with caplog.at_level(logging.ERROR):
        host.documents_received(make_context(conn, host), DocumentReceipt(project_id="PJ2"))
    assert Recorder.seen == ["docs:PJ2:0"] and _decisions(conn) == []
    assert "plugin writer failed in soar_documents_received" in _messages(caplog)


def test_hook_soar_register_jobs(conn, caplog) -> None:
    def run(ctx, since=None):
        return ActionResult(ok=True, message=f"ran as {ctx.plugin} since {since}", content=[Notice("完成")])

    class Jobs:
        @hookimpl
        def soar_register_jobs(self):
            return [JobSpec(name="jobs.nightly", label="夜间作业", run=run, required_role="batch_checker")]

    class JunkJobs:
        @hookimpl
        def soar_register_jobs(self):
            return [JobSpec(name="junk.job", label="坏", run="not callable")]

    class Refusing:
        @hookimpl
        def soar_register_jobs(self):
            raise PermissionDenied("不提供作业")

    host = make_host([("jobs", Jobs()), ("junkjobs", JunkJobs()), ("refusing", Refusing())])
    ctx = make_context(conn, host)
    with caplog.at_level(logging.WARNING):
        jobs = host.register_jobs(ctx)
    assert [(j.name, j.plugin) for j in jobs] == [("jobs.nightly", "jobs")]
    assert "junkjobs" in _messages(caplog) and "plugin refusing raised in soar_register_jobs" in _messages(caplog)
    denied = host.run_job(ctx, "jobs.nightly")
    assert not denied.ok and "批量核查人员" in denied.message
    checker = Operator(id="b1", name="核查员", roles=frozenset({"batch_checker"}))
    result = host.run_job(make_context(conn, host, operator=checker), "jobs.nightly", since="2024-07-01")
    assert result.ok and result.plugin == "jobs" and result.message == "ran as jobs since 2024-07-01"
    assert not host.run_job(ctx, "no.such.job").ok


# ------------------------------------------------------------------------------------- every hook


def test_every_hook_spec_has_a_host_test() -> None:
    tests = {name for name in globals() if name.startswith("test_hook_")}
    missing = [hook for hook in hookspecs.ALL_HOOKS if f"test_hook_{hook}" not in tests]
    assert missing == [], f"hook specs without a host test in {Path(__file__).name}: {missing}"


def test_every_hook_spec_has_a_result_check() -> None:
    assert set(CHECKS) == set(hookspecs.ALL_HOOKS)


_CALLS = {
    "soar_startup": lambda host, ctx: host.startup(ctx),
    "soar_shutdown": lambda host, ctx: host.shutdown(ctx),
    "soar_pre_contract": lambda host, ctx: host.pre_contract(ctx, DRAFT),
    "soar_query_fields": lambda host, ctx: host.query_fields(ctx, "s"),
    "soar_query_build": lambda host, ctx: host.query_build(ctx, "s", select(plugin_decisions.c.id), {}),
    "soar_detail_view": lambda host, ctx: host.detail_view(ctx, DetailView(entity="person", key="RY1")),
    "soar_action": lambda host, ctx: host.action(ctx, ActionRequest(key="k", plugin="junk")),
    "soar_allocation_selected": lambda host, ctx: host.allocation_selected(ctx, AllocationSelection("PC1", "01")),
    "soar_project_saved": lambda host, ctx: host.project_saved(ctx, ProjectChange("PJ1", True)),
    "soar_documents_received": lambda host, ctx: host.documents_received(ctx, DocumentReceipt("PJ1")),
    "soar_register_jobs": lambda host, ctx: host.register_jobs(ctx),
}


@pytest.mark.parametrize("hook", sorted(_CALLS))
def test_junk_return_values_are_that_plugins_failure(conn, caplog, hook: str) -> None:
    plugin = type("Junk", (), {hook: hookimpl(lambda self: JUNK)})()
    host = make_host([("junk", plugin)])
    with caplog.at_level(logging.ERROR):
        _CALLS[hook](host, make_context(conn, host))  # never raises into SOAR
    assert f"plugin junk failed in {hook}" in _messages(caplog) and "object" in _messages(caplog)
    strict = make_host([("junk", plugin)], strict=True)
    with pytest.raises(TypeError, match="got object"):
        _CALLS[hook](strict, make_context(conn, strict))


# ------------------------------------------------------------------------------------- off plugins


@pytest.fixture
def off_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    site = tmp_path / "site"
    dist = site / "soar_ext_off_plugins-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: soar-ext-off-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[soar]\nzz_switched_off = soar_ext_switched_off_module\n")
    (site / "soar_ext_switched_off_module.py").write_text(
        textwrap.dedent("""
        import time
        time.sleep(5)  # a slow import
        raise RuntimeError("this module must never be imported while it is off")
        """)
    )
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("soar_ext_switched_off_module", None)


def test_off_plugin_module_is_never_imported(off_distribution, capsys, monkeypatch) -> None:
    host = SoarHost(Config(plugin_modes={"zz_switched_off": "off"}), strict=True)
    assert "soar_ext_switched_off_module" not in sys.modules
    assert host.not_loaded == ["zz_switched_off"] and host.load_failures == []
    assert not host.pm.has_plugin("zz_switched_off")
    import os

    from soar_ext.cli import main

    os.environ["SOAR_EXT_PLUGIN_ZZ_SWITCHED_OFF"] = "off"
    try:
        assert main(["plugins"]) == 0
    finally:
        del os.environ["SOAR_EXT_PLUGIN_ZZ_SWITCHED_OFF"]
    assert "zz_switched_off  mode=off  (not loaded" in capsys.readouterr().out
    assert "soar_ext_switched_off_module" not in sys.modules
