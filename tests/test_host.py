"""The host facade: isolation, modes, entry-point loading."""

from __future__ import annotations

import logging
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from soar_ext import hookimpl
from soar_ext.config import Config
from soar_ext.db.engine import make_engine
from soar_ext.db.extension import ext_metadata, plugin_decisions
from soar_ext.errors import InvalidInput, PluginLoadError
from soar_ext.hook_payloads import (
    ActionRequest,
    ActionResult,
    ContractDraft,
    Contribution,
    DetailView,
    PreContractVerdict,
    QueryField,
)
from soar_ext.host import SoarHost
from tests.host_fixtures import add_draft_contract, draft_connection, make_context, make_host

DRAFT = ContractDraft(contract_id="HT1", contract_type="03", family_id="JT1", deposit=Decimal("3000"))


@pytest.fixture
def conn(tmp_path: Path):
    yield from draft_connection(tmp_path)


class Boom:
    PLUGIN_LABEL = "会出错的插件"

    @hookimpl
    def soar_detail_view(self, view):
        raise RuntimeError("display failure")

    @hookimpl
    def soar_query_fields(self, screen):
        raise RuntimeError("fields failure")

    @hookimpl
    def soar_query_build(self, query):
        raise RuntimeError("build failure")

    @hookimpl
    def soar_pre_contract(self, contract):
        raise RuntimeError("contract failure")

    @hookimpl
    def soar_action(self, request):
        raise RuntimeError("action failure")


class Good:
    @hookimpl
    def soar_detail_view(self, view):
        return [Contribution(kind="action", key="good.verify", label="核查")]

    @hookimpl
    def soar_query_fields(self, screen):
        return [QueryField(key="good_f", label="条件", kind="filter")]

    @hookimpl
    def soar_query_build(self, query, filters):
        return query.where(ext_metadata.tables["sx_plugin_decision"].c.plugin == "x")

    @hookimpl
    def soar_action(self, request):
        if request.key == "good.verify":
            return ActionResult(ok=True, message="已核查")
        return None


class Blocker:
    @hookimpl
    def soar_pre_contract(self, ctx, contract):
        return PreContractVerdict(allow=False, message="验房尚未确认", subject_key="PD1")


class Waiver:
    @hookimpl
    def soar_pre_contract(self, ctx, contract):
        if ctx.enforce:
            pass
        return PreContractVerdict(allow=True, message="押金减免", deposit=Decimal("0"))


class FallbackBoom:
    PLUGIN_LABEL = "押金减免"

    @hookimpl
    def soar_pre_contract(self, contract):
        raise RuntimeError("bug")

    @hookimpl
    def soar_pre_contract_fallback(self, ctx, contract, error):
        return PreContractVerdict(allow=True, message="按应缴押金办理，已标记待复核", needs_recheck=True)


def test_raising_plugin_does_not_break_detail_view(conn, caplog) -> None:
    host = make_host([("boom", Boom()), ("good", Good())])
    with caplog.at_level(logging.ERROR):
        result = host.detail_view(make_context(conn, host), DetailView(entity="person", key="RY1"))
    assert [c.key for c in result] == ["good.verify"]
    assert result[0].plugin == "good"
    assert any("boom" in r.getMessage() and "soar_detail_view" in r.getMessage() for r in caplog.records)


def test_raising_plugin_does_not_break_query_screen(conn) -> None:
    host = make_host([("boom", Boom()), ("good", Good())])
    ctx = make_context(conn, host)
    fields = host.query_fields(ctx, "exchange.business")
    assert [f.key for f in fields] == ["good_f"]
    query = select(plugin_decisions.c.id)
    built = host.query_build(ctx, "exchange.business", query, {})
    assert "plugin" in str(built.statement)
    assert built.warnings and "会出错的插件" in built.warnings[0]


def test_raising_plugin_blocks_pre_contract(conn) -> None:
    host = make_host([("boom", Boom())])
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert not decision.allowed
    assert decision.blocked_by == ("boom",)
    assert "会出错的插件" in decision.messages[0] and "暂不能签订" in decision.messages[0]
    rows = conn.execute(select(plugin_decisions)).mappings().all()
    assert [(r["plugin"], r["verdict"], r["enforced"]) for r in rows] == [("boom", "error", 1)]


def test_fallback_lets_contract_through_with_recheck(conn) -> None:
    host = make_host([("deposit_waiver", FallbackBoom())])
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert decision.allowed
    assert decision.needs_recheck
    assert decision.deposit is None


def test_blocking_plugin_blocks_and_message_reaches_clerk(conn) -> None:
    host = make_host([("gate", Blocker()), ("waiver", Waiver())])
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert not decision.allowed
    assert "验房尚未确认" in decision.messages
    assert decision.deposit == Decimal("0")


def test_shadow_mode_records_without_enforcing(conn) -> None:
    host = make_host([("gate", Blocker()), ("waiver", Waiver())], modes={"gate": "shadow", "waiver": "shadow"})
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert decision.allowed
    assert decision.deposit is None
    assert decision.messages == ()
    assert any("验房尚未确认" in n and "试运行" in n for n in decision.shadow_notes)
    rows = conn.execute(select(plugin_decisions).order_by(plugin_decisions.c.plugin)).mappings().all()
    assert [(r["plugin"], r["run_mode"], r["verdict"], r["enforced"]) for r in rows] == [
        ("gate", "shadow", "block", 0),
        ("waiver", "shadow", "allow", 0),
    ]
    assert rows[0]["subject_key"] == "PD1"


def test_off_plugin_is_not_called(conn) -> None:
    host = make_host([("gate", Blocker())], modes={"gate": "off"})
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert decision.allowed
    assert conn.execute(select(plugin_decisions)).first() is None


def test_shadow_display_contributions_are_not_shown(conn) -> None:
    host = make_host([("good", Good())], modes={"good": "shadow"})
    assert host.detail_view(make_context(conn, host), DetailView(entity="person", key="RY1")) == []


def test_action_routed_to_owner_and_failures_become_messages(conn) -> None:
    host = make_host([("good", Good())])
    ctx = make_context(conn, host)
    assert host.action(ctx, ActionRequest(key="good.verify")).ok
    missing = host.action(ctx, ActionRequest(key="nobody.here"))
    assert not missing.ok and "未找到操作" in missing.message
    host_boom = make_host([("boom", Boom())])
    failed = host_boom.action(make_context(conn, host_boom), ActionRequest(key="x"))
    assert not failed.ok and "执行出错" in failed.message


def test_user_error_in_query_build_reaches_screen(conn) -> None:
    class Picky:
        @hookimpl
        def soar_query_build(self, filters):
            raise InvalidInput("验房状态取值不正确")

    host = make_host([("picky", Picky())])
    with pytest.raises(InvalidInput, match="验房状态"):
        host.query_build(make_context(conn, host), "exchange.business", select(plugin_decisions.c.id), {"x": 1})


def test_strict_mode_reraises_plugin_errors(conn) -> None:
    host = make_host([("boom", Boom())], strict=True)
    with pytest.raises(RuntimeError, match="display failure"):
        host.detail_view(make_context(conn, host), DetailView(entity="person", key="RY1"))


def test_unknown_hook_in_plugin_is_rejected() -> None:
    class Typo:
        @hookimpl
        def soar_pre_contrakt(self, contract):
            return None

    with pytest.raises(Exception, match="soar_pre_contrakt"):
        make_host([("typo", Typo())])


def test_wrapper_plugins_are_refused() -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def soar_detail_view(self, view):
            return (yield)

    with pytest.raises(PluginLoadError, match="wrappers"):
        make_host([("wrapper", Wrapper())])


@pytest.fixture
def broken_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution whose ``soar`` entry points are one broken and one working."""
    site = tmp_path / "site"
    dist = site / "soar_ext_demo_plugins-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: soar-ext-demo-plugins\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(
        "[soar]\nzz_broken = soar_ext_missing_module_xyz\nzz_working = soar_ext_demo_working\n"
    )
    (site / "soar_ext_demo_working.py").write_text(
        textwrap.dedent("""
        from soar_ext import hookimpl
        PLUGIN_LABEL = "演示插件"

        @hookimpl
        def soar_startup(ctx):
            return None
    """)
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("soar_ext_demo_working", None)


def test_broken_entry_point_is_named_and_skipped(broken_distribution, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        host = SoarHost(Config(), strict=False)
    assert [f.name for f in host.load_failures] == ["zz_broken"]
    assert host.pm.has_plugin("zz_working")
    assert any("zz_broken" in r.getMessage() for r in caplog.records)
    info = {i.name: i for i in host.plugin_infos()}["zz_working"]
    assert info.version == "1.2.3" and info.hooks == ("soar_startup",)


def test_broken_entry_point_reraised_in_strict_mode(broken_distribution) -> None:
    with pytest.raises(PluginLoadError, match="zz_broken"):
        SoarHost(Config(), strict=True)


def test_external_plugins_can_be_disabled(broken_distribution) -> None:
    host = SoarHost(Config(disable_external_plugins=True), strict=True)
    assert not host.pm.has_plugin("zz_working")


class HalfWriter:
    """Writes a row, then fails: the facade must roll the write back."""

    @hookimpl
    def soar_pre_contract(self, ctx, contract):
        from soar_ext.audit_store import record_plugin_decision

        record_plugin_decision(
            ctx.connection,
            plugin="half",
            hook="x",
            subject_key="partial",
            mode="on",
            verdict="allow",
            enforced=True,
            reason=None,
            operator_id=None,
            at=ctx.now(),
        )
        raise RuntimeError("failed after writing")

    @hookimpl
    def soar_detail_view(self, ctx, view):
        from sqlalchemy import text

        ctx.connection.execute(text("SELECT no_such_column FROM sx_plugin_decision"))


def test_failed_plugin_writes_are_rolled_back(conn) -> None:
    host = make_host([("half", HalfWriter())])
    decision = host.pre_contract(make_context(conn, host), DRAFT)
    assert not decision.allowed
    keys = [r.subject_key for r in conn.execute(select(plugin_decisions.c.subject_key))]
    assert keys == ["HT1"]  # the facade's own record survives, the plugin's partial write does not


def test_trace_logs_every_call(conn, caplog) -> None:
    host = SoarHost(Config(trace_hooks=True), plugins=[("good", Good())], load_entry_points=False)
    with caplog.at_level(logging.INFO, logger="soar_ext.host"):
        host.detail_view(make_context(conn, host), DetailView(entity="person", key="RY1"))
    assert any("soar_detail_view plugin=good mode=on -> list" in r.getMessage() for r in caplog.records)


@pytest.mark.postgres
def test_sql_error_in_display_plugin_leaves_soar_transaction_usable(pg_url) -> None:

    engine = make_engine(pg_url)
    with engine.begin() as connection:
        add_draft_contract(connection)
    host = make_host([("half", HalfWriter()), ("good", Good())])
    with engine.begin() as connection:
        result = host.detail_view(make_context(connection, host), DetailView(entity="person", key="RY1"))
        assert [c.key for c in result] == ["good.verify"]
        assert connection.execute(select(plugin_decisions.c.id)).all() == []  # SOAR's next statement works
    engine.dispose()
