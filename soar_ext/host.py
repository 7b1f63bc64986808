"""The facade SOAR uses to call plugins: the only code that calls hooks.

pluggy stops at the first exception and gives no per-plugin switch, so the facade calls
every implementation on its own and adds what SOAR needs:

- error isolation: a failing plugin in a display or query hook is logged and skipped; in
  ``soar_pre_contract`` a failure blocks the contract (fail-safe) unless the plugin
  provides ``pre_contract_fallback(ctx, contract, error)``;
- per-plugin mode from the configuration: ``off`` (not called), ``shadow`` (called,
  decision recorded, not enforced), ``on``;
- entry points loaded one at a time; a broken one is named and skipped (re-raised in
  strict mode); ``check_pending()`` after registration;
- hook tracing to the log with ``SOAR_EXT_TRACE_HOOKS=1``.
"""

from __future__ import annotations

import importlib.metadata as md
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import pluggy
from sqlalchemy import Connection, Select

from soar_ext import hookspecs
from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.audit import DIGEST_KEY_SETTING
from soar_ext.audit_store import DatabaseAuditSink, record_plugin_decision
from soar_ext.clock import Clock, beijing_now
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.errors import PluginLoadError, SoarUserError
from soar_ext.hook_payloads import (
    ActionRequest,
    ActionResult,
    AllocationSelection,
    ContractDecision,
    ContractDraft,
    Contribution,
    DetailView,
    DocumentReceipt,
    JobSpec,
    PreContractVerdict,
    ProjectChange,
    QueryBuild,
    QueryField,
)
from soar_ext.log_masking import get_logger

log = get_logger(__name__)

ENTRY_POINT_GROUP = "soar"
OWN_DISTRIBUTION = "soar-ext"

PLUGIN_FAILED_BLOCK = "系统校验「{label}」运行出错，为保证业务安全，本合同暂不能签订。请稍后重试或联系系统管理员。"
QUERY_PLUGIN_WARNING = "扩展查询条件「{label}」暂不可用，结果未按该条件处理，请联系系统管理员。"


@dataclass(frozen=True)
class PluginInfo:
    """A registered plugin, as ``soar-ext plugins`` shows it."""

    name: str
    label: str
    version: str
    distribution: str | None
    mode: str
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class LoadFailure:
    """An entry point that could not be loaded."""

    name: str
    value: str
    error: str


def _label(plugin: object, name: str) -> str:
    return str(getattr(plugin, "PLUGIN_LABEL", name))


class SoarHost:
    """Typed facade over the pluggy plugin manager."""

    def __init__(
        self,
        config: Config,
        *,
        plugins: Iterable[tuple[str, object]] = (),
        load_entry_points: bool = True,
        strict: bool | None = None,
        adapters: AdapterRegistry | None = None,
    ) -> None:
        self.config = config
        self.adapters = adapters or AdapterRegistry(config)
        self.strict = config.strict_plugins if strict is None else strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.load_failures: list[LoadFailure] = []
        self._distributions: dict[str, tuple[str | None, str]] = {}
        if load_entry_points:
            self._load_entry_points()
        for name, plugin in plugins:
            self.register(plugin, name)
        self.pm.check_pending()

    def context(self, operator: Operator, connection: Connection, *, clock: Clock = beijing_now) -> SoarContext:
        """The context for one hook call: SOAR passes its operator and its connection (in its transaction).

        Audit entries go to ``sx_audit_log`` through the same connection, with the subject's
        digest keyed by ``[audit] digest_secret``.
        """
        sink = DatabaseAuditSink(
            connection,
            digest_key=self.config.audit.get(DIGEST_KEY_SETTING),
            operator_name=operator.name,
            clock=clock,
        )
        return SoarContext(
            operator=operator,
            connection=connection,
            config=self.config,
            adapters=self.adapters,
            audit=sink,
            clock=clock,
        )

    # ------------------------------------------------------------------ loading

    def _load_entry_points(self) -> None:
        eps = sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
        for ep in eps:
            dist = ep.dist.name if ep.dist is not None else None
            if self.config.disable_external_plugins and dist != OWN_DISTRIBUTION:
                log.info("external plugin %s skipped (external plugins disabled)", ep.name)
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                self.register(plugin, ep.name)
            except Exception as exc:
                failure = LoadFailure(ep.name, ep.value, f"{type(exc).__name__}: {exc}")
                self.load_failures.append(failure)
                log.error("plugin %s (%s) failed to load and is skipped: %s", ep.name, ep.value, failure.error)
                if self.strict:
                    raise PluginLoadError(f"plugin {ep.name} ({ep.value}) failed to load: {failure.error}") from exc
                continue
            version = ep.dist.version if ep.dist is not None else "unknown"
            self._distributions[ep.name] = (dist, version)

    def register(self, plugin: object, name: str) -> None:
        """Register a plugin object (module or instance) under ``name``; validates its hooks."""
        self.pm.register(plugin, name=name)
        try:
            for impl in self._impls_of(name):
                if impl.hookwrapper or impl.wrapper:
                    raise PluginLoadError(f"plugin {name}: hook wrappers are not supported on SOAR hooks")
            self.pm.check_pending()
        except Exception:
            self.pm.unregister(name=name)
            raise

    def _impls_of(self, name: str) -> list[pluggy.HookImpl]:
        plugin = self.pm.get_plugin(name)
        return [
            impl
            for caller in self.pm.get_hookcallers(plugin) or []
            for impl in caller.get_hookimpls()
            if impl.plugin_name == name
        ]

    def plugin_infos(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in sorted(self.pm.list_name_plugin()):
            callers = self.pm.get_hookcallers(plugin) or []
            dist, version = self._distributions.get(name, (None, getattr(plugin, "__version__", "")))
            infos.append(
                PluginInfo(
                    name=name,
                    label=_label(plugin, name),
                    version=str(version or ""),
                    distribution=dist,
                    mode=self.config.mode_of(name),
                    hooks=tuple(sorted(c.name for c in callers)),
                )
            )
        return infos

    # ------------------------------------------------------------------ calling

    def _active(self, hook_name: str) -> list[tuple[pluggy.HookImpl, str]]:
        """Implementations to call, in pluggy's order, with their mode (``off`` skipped)."""
        caller = getattr(self.pm.hook, hook_name)
        out = []
        for impl in reversed(caller.get_hookimpls()):
            mode = self.config.mode_of(impl.plugin_name)
            if mode != "off":
                out.append((impl, mode))
        return out

    def _invoke(self, impl: pluggy.HookImpl, ctx: SoarContext, mode: str, hook_name: str, **kwargs: Any) -> Any:
        """Call one implementation inside a savepoint of SOAR's transaction.

        A failing plugin's writes are rolled back to the savepoint, and on PostgreSQL the
        transaction stays usable for SOAR's next statement.
        """
        pctx = ctx.for_plugin(impl.plugin_name, mode)
        args = {"ctx": pctx, **kwargs}
        started = time.perf_counter()
        outcome = "error"
        try:
            with ctx.connection.begin_nested():
                result = impl.function(*(args[a] for a in impl.argnames))
            outcome = "None" if result is None else type(result).__name__
            return result
        finally:
            if self.config.trace_hooks:
                log.info(
                    "hook %s plugin=%s mode=%s -> %s in %.1f ms",
                    hook_name,
                    impl.plugin_name,
                    mode,
                    outcome,
                    (time.perf_counter() - started) * 1000,
                )

    def _each(
        self, hook_name: str, ctx: SoarContext, *, user_errors_pass: bool = True, **kwargs: Any
    ) -> list[tuple[str, str, Any]]:
        """Call every active implementation, isolating failures: [(plugin, mode, result)]."""
        results = []
        for impl, mode in self._active(hook_name):
            try:
                result = self._invoke(impl, ctx, mode, hook_name, **kwargs)
            except SoarUserError:
                if user_errors_pass:
                    raise
                continue
            except Exception as exc:
                if self.strict:
                    raise
                log.exception("plugin %s failed in %s and was skipped: %s", impl.plugin_name, hook_name, exc)
                results.append((impl.plugin_name, mode, exc))
                continue
            results.append((impl.plugin_name, mode, result))
        return results

    def _label_of(self, name: str) -> str:
        return _label(self.pm.get_plugin(name), name)

    # ------------------------------------------------------------------ lifecycle

    def startup(self, ctx: SoarContext) -> list[str]:
        problems = []
        for name, _mode, result in self._each("soar_startup", ctx, user_errors_pass=False):
            if isinstance(result, Exception):
                problems.append(f"{name}: start-up failed: {result}")
            elif result:
                problems.extend(f"{name}: {p}" for p in result)
        return problems

    def shutdown(self, ctx: SoarContext) -> None:
        self._each("soar_shutdown", ctx, user_errors_pass=False)
        self.adapters.close()

    # ------------------------------------------------------------------ contracts

    def pre_contract(self, ctx: SoarContext, contract: ContractDraft) -> ContractDecision:
        """Ask every plugin about a contract; block on any enforced refusal or failure."""
        messages: list[str] = []
        blocked_by: list[str] = []
        shadow_notes: list[str] = []
        deposit = None
        recheck = False
        for impl, mode in self._active("soar_pre_contract"):
            name = impl.plugin_name
            verdict: PreContractVerdict | None
            try:
                verdict = self._invoke(impl, ctx, mode, "soar_pre_contract", contract=contract)
                outcome = "allow" if verdict is None or verdict.allow else "block"
            except SoarUserError as exc:
                verdict = PreContractVerdict(allow=False, message=str(exc))
                outcome = "block"
            except Exception as exc:
                if self.strict:
                    raise
                log.exception("plugin %s failed in soar_pre_contract: %s", name, exc)
                verdict = self._fallback(name, ctx, mode, contract, exc)
                outcome = "error"
            if verdict is None:
                continue
            enforced = mode == "on"
            self._record(
                ctx,
                name,
                "soar_pre_contract",
                verdict.subject_key or contract.contract_id,
                mode,
                outcome,
                enforced,
                verdict.message,
            )
            if not enforced:
                if verdict.message:
                    shadow_notes.append(f"[试运行]{self._label_of(name)}：{verdict.message}")
                continue
            if not verdict.allow:
                blocked_by.append(name)
            if verdict.message:
                messages.append(verdict.message)
            if verdict.deposit is not None:
                deposit = verdict.deposit if deposit is None else min(deposit, verdict.deposit)
            recheck = recheck or verdict.needs_recheck
        return ContractDecision(
            allowed=not blocked_by,
            messages=tuple(messages),
            deposit=deposit,
            blocked_by=tuple(blocked_by),
            shadow_notes=tuple(shadow_notes),
            needs_recheck=recheck,
        )

    def _fallback(
        self, name: str, ctx: SoarContext, mode: str, contract: ContractDraft, error: Exception
    ) -> PreContractVerdict:
        plugin = self.pm.get_plugin(name)
        fallback: Callable[..., PreContractVerdict] | None = getattr(plugin, "pre_contract_fallback", None)
        if fallback is not None:
            try:
                return fallback(ctx.for_plugin(name, mode), contract, error)
            except Exception:
                log.exception("fallback of plugin %s failed too", name)
        return PreContractVerdict(allow=False, message=PLUGIN_FAILED_BLOCK.format(label=self._label_of(name)))

    def _record(
        self,
        ctx: SoarContext,
        plugin: str,
        hook: str,
        subject: str | None,
        mode: str,
        verdict: str,
        enforced: bool,
        reason: str | None,
    ) -> None:
        try:
            with ctx.connection.begin_nested():
                record_plugin_decision(
                    ctx.connection,
                    plugin=plugin,
                    hook=hook,
                    subject_key=subject,
                    mode=mode,
                    verdict=verdict,
                    enforced=enforced,
                    reason=reason,
                    operator_id=ctx.operator.id,
                    at=ctx.now(),
                )
        except Exception:
            if self.strict:
                raise
            log.exception("could not record the decision of plugin %s", plugin)

    # ------------------------------------------------------------------ query screens

    def query_fields(self, ctx: SoarContext, screen: str) -> list[QueryField]:
        fields: list[QueryField] = []
        for name, mode, result in self._each("soar_query_fields", ctx, screen=screen):
            if isinstance(result, Exception) or not result or mode != "on":
                continue
            fields.extend(replace(f, plugin=name) for f in result)
        return fields

    def query_build(self, ctx: SoarContext, screen: str, query: Select, filters: dict[str, object]) -> QueryBuild:
        warnings: list[str] = []
        for impl, mode in self._active("soar_query_build"):
            try:
                result = self._invoke(
                    impl, ctx, mode, "soar_query_build", screen=screen, query=query, filters=dict(filters)
                )
            except SoarUserError:
                raise
            except Exception as exc:
                if self.strict:
                    raise
                log.exception("plugin %s failed in soar_query_build on %s: %s", impl.plugin_name, screen, exc)
                warnings.append(QUERY_PLUGIN_WARNING.format(label=self._label_of(impl.plugin_name)))
                continue
            if result is not None and mode == "on":
                query = result
        return QueryBuild(statement=query, warnings=tuple(warnings))

    # ------------------------------------------------------------------ pages and actions

    def _contributions(self, hook: str, ctx: SoarContext, **kwargs: Any) -> list[Contribution]:
        out: list[Contribution] = []
        for name, mode, result in self._each(hook, ctx, **kwargs):
            if isinstance(result, Exception) or not result or mode != "on":
                continue
            out.extend(replace(c, plugin=name) for c in result)
        return out

    def detail_view(self, ctx: SoarContext, view: DetailView) -> list[Contribution]:
        return self._contributions("soar_detail_view", ctx, view=view)

    def allocation_selected(self, ctx: SoarContext, allocation: AllocationSelection) -> list[Contribution]:
        return self._contributions("soar_allocation_selected", ctx, allocation=allocation)

    def action(self, ctx: SoarContext, request: ActionRequest) -> ActionResult:
        """Route an action click to the plugin that owns it; user errors become a failed result."""
        for impl, mode in self._active("soar_action"):
            try:
                result = self._invoke(impl, ctx, mode, "soar_action", request=request)
            except SoarUserError as exc:
                return ActionResult(ok=False, message=str(exc))
            except Exception as exc:
                if self.strict:
                    raise
                log.exception("plugin %s failed in soar_action %s: %s", impl.plugin_name, request.key, exc)
                return ActionResult(ok=False, message=f"操作「{request.key}」执行出错，请稍后重试或联系系统管理员。")
            if result is not None:
                return result
        return ActionResult(ok=False, message=f"未找到操作「{request.key}」，相关功能可能未启用。")

    # ------------------------------------------------------------------ projects and jobs

    def project_saved(self, ctx: SoarContext, project: ProjectChange) -> None:
        self._each("soar_project_saved", ctx, user_errors_pass=False, project=project)

    def documents_received(self, ctx: SoarContext, receipt: DocumentReceipt) -> None:
        self._each("soar_documents_received", ctx, user_errors_pass=False, receipt=receipt)

    def register_jobs(self, ctx: SoarContext) -> list[JobSpec]:
        jobs: list[JobSpec] = []
        for name, _mode, result in self._each("soar_register_jobs", ctx, user_errors_pass=False):
            if isinstance(result, Exception) or not result:
                continue
            jobs.extend(replace(j, plugin=name) for j in result)
        return jobs
