"""The facade SOAR uses to call plugins: the only code that calls hooks.

pluggy stops at the first exception and gives no per-plugin switch, so the facade calls
every implementation on its own and adds what SOAR needs:

- error isolation: a failing plugin in a display or query hook is logged and skipped; in
  ``soar_pre_contract`` a failure blocks the contract (fail-safe) unless the plugin
  implements ``soar_pre_contract_fallback``;
- every return value checked (:mod:`soar_ext.hook_results`): a wrong type is that plugin's
  failure, named in the log;
- actions routed to the plugin named in ``ActionRequest.plugin``; ``plugin`` set on every
  contribution, result and job the host returns;
- SOAR's input checked before any plugin runs (a missing contract or request, a key that is
  not text, a contract that is not in ``TPG_ZLHT``: a Chinese ``InvalidInput``);
- every message returned to SOAR masked (ID numbers) and capped;
- per-plugin mode from the configuration: ``off`` (module not even imported), ``shadow``
  (called, decision recorded, not enforced), ``on``;
- entry points loaded one at a time; a broken one is named and skipped (re-raised in
  strict mode); ``check_pending()`` after registration;
- the durable audit sink of every context (:mod:`soar_ext.audit_store`);
- hook tracing to the log with ``SOAR_EXT_TRACE_HOOKS=1``.
"""

from __future__ import annotations

import importlib.metadata as md
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pluggy
from sqlalchemy import Connection, Select, select

from soar_ext import hookspecs
from soar_ext.adapter_registry import AdapterRegistry
from soar_ext.audit import DIGEST_KEY_SETTING
from soar_ext.audit_store import AuditStore, DurableAuditSink, audit_database_url, record_plugin_decision
from soar_ext.clock import Clock, beijing_now
from soar_ext.config import Config
from soar_ext.context import Operator, SoarContext
from soar_ext.db.legacy import contracts
from soar_ext.errors import InvalidInput, PluginLoadError, SoarUserError, echo
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
from soar_ext.hook_results import CHECKS, HookResultError, check_action_result
from soar_ext.idnumber import mask_in_text
from soar_ext.log_masking import get_logger

log = get_logger(__name__)

ENTRY_POINT_GROUP = "soar"
OWN_DISTRIBUTION = "soar-ext"

PLUGIN_FAILED_BLOCK = "系统校验「{label}」运行出错，为保证业务安全，本合同暂不能签订。请稍后重试或联系系统管理员。"
QUERY_PLUGIN_WARNING = "扩展查询条件「{label}」暂不可用，结果未按该条件处理，请联系系统管理员。"
ACTION_NOT_FOUND = "未找到操作「{key}」，相关功能可能未启用。"
ACTION_FAILED = "操作「{key}」执行出错，请稍后重试或联系系统管理员。"
JOB_FAILED = "批量作业「{label}」运行出错，请稍后重试或联系系统管理员。"
#: Longest message the host returns to SOAR, in characters.
MAX_MESSAGE_CHARS = 500


def safe_message(text: object) -> str:
    """A message as SOAR may show it: ID numbers masked, at most :data:`MAX_MESSAGE_CHARS` characters."""
    message = mask_in_text(str(text)[: MAX_MESSAGE_CHARS * 4])
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


def _require(value: object, type_: type, what: str) -> None:
    if not isinstance(value, type_):
        missing = f"{what}无效：未收到{what}内容，请重新操作。"
        raise InvalidInput(missing if value is None else f"{what}无效，请重新操作。")


def _require_key(value: object, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what}无效：必须是非空文本（收到「{echo(value)}」）。")


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
        self.not_loaded: list[str] = []  # entry points of plugins in mode off: never imported
        self._distributions: dict[str, tuple[str | None, str]] = {}
        self._audit_stores: dict[str, AuditStore] = {}
        self._audit_lock = threading.Lock()
        if load_entry_points:
            self._load_entry_points()
        for name, plugin in plugins:
            self.register(plugin, name)
        self.pm.check_pending()

    def audit_store(self, soar_url: str) -> AuditStore:
        """The audit store for SOAR's database ``soar_url``: built once per host and database."""
        url = audit_database_url(self.config, soar_url)
        with self._audit_lock:
            store = self._audit_stores.get(url)
            if store is None:
                store = self._audit_stores[url] = AuditStore(url)
            return store

    def context(self, operator: Operator, connection: Connection, *, clock: Clock = beijing_now) -> SoarContext:
        """The context for one hook call: SOAR passes its operator and its connection (in its transaction).

        Audit entries are written durably by the audit store of that connection's database (its
        own engine and transactions, never SOAR's), with the subject's digest keyed by
        ``[audit] digest_secret``.
        """
        _require(operator, Operator, "操作员信息")
        soar_url = connection.engine.url.render_as_string(hide_password=False)
        sink = DurableAuditSink(
            self.audit_store(soar_url),
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
            if self.config.mode_of(ep.name) == "off":
                # a switched-off plugin must not affect SOAR: its module is not imported at all
                self.not_loaded.append(ep.name)
                log.info("plugin %s is off and was not loaded", ep.name)
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
        check = CHECKS[hook_name]
        try:
            with ctx.connection.begin_nested():
                result = impl.function(*(args[a] for a in impl.argnames))
                # junk is this plugin's failure: roll its writes back with it
                result = check(result)
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
            except SoarUserError as exc:
                if user_errors_pass:
                    raise
                log.warning("plugin %s raised in %s: %s", impl.plugin_name, hook_name, exc)
                results.append((impl.plugin_name, mode, exc))
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
        """Run every plugin's start-up check; returns the problems (masked, capped), one line each."""
        problems = []
        for name, _mode, result in self._each("soar_startup", ctx, user_errors_pass=False):
            if isinstance(result, Exception):
                problems.append(safe_message(f"{name}: start-up failed: {result}"))
            elif result:
                problems.extend(safe_message(f"{name}: {p}") for p in result)
        return problems

    def shutdown(self, ctx: SoarContext) -> None:
        """Run every plugin's shutdown, close the adapters and the audit stores' engines."""
        self._each("soar_shutdown", ctx, user_errors_pass=False)
        self.adapters.close()
        with self._audit_lock:
            stores, self._audit_stores = list(self._audit_stores.values()), {}
        for store in stores:
            store.dispose()

    # ------------------------------------------------------------------ contracts

    def pre_contract(self, ctx: SoarContext, contract: ContractDraft) -> ContractDecision:
        """Ask every plugin about a contract; block on any enforced refusal or failure.

        Raises :class:`InvalidInput` (nothing asked, nothing stored) for a missing or malformed
        draft and for a contract id that is not in ``TPG_ZLHT`` or belongs to another family.
        """
        self._check_contract(ctx, contract)
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
            messages=tuple(safe_message(m) for m in messages),
            deposit=deposit,
            blocked_by=tuple(blocked_by),
            shadow_notes=tuple(safe_message(n) for n in shadow_notes),
            needs_recheck=recheck,
        )

    def _check_contract(self, ctx: SoarContext, contract: ContractDraft) -> None:
        _require(contract, ContractDraft, "待签合同信息")
        _require_key(contract.contract_id, "合同ID")
        _require_key(contract.contract_type, "配租类型代码")
        _require_key(contract.family_id, "家庭ID")
        _require_key(contract.application_id, "申请ID", optional=True)
        _require_key(contract.exchange_pairing_id, "换房配对ID", optional=True)
        row = ctx.connection.execute(
            select(contracts.c.jtid).where(contracts.c.htid == contract.contract_id)
        ).one_or_none()
        if row is None:
            raise InvalidInput(f"未找到合同（ID {echo(contract.contract_id)}），请先保存合同后再签订。")
        if row.jtid != contract.family_id:
            raise InvalidInput(
                f"合同（ID {echo(contract.contract_id)}）不属于家庭 {echo(contract.family_id)}，请核对后再签订。"
            )

    def _fallback(
        self, name: str, ctx: SoarContext, mode: str, contract: ContractDraft, error: Exception
    ) -> PreContractVerdict:
        blocked = PreContractVerdict(allow=False, message=PLUGIN_FAILED_BLOCK.format(label=self._label_of(name)))
        impls = [i for i, _m in self._active("soar_pre_contract_fallback") if i.plugin_name == name]
        if not impls:
            return blocked
        try:
            verdict = self._invoke(impls[0], ctx, mode, "soar_pre_contract_fallback", contract=contract, error=error)
        except Exception:
            if self.strict:
                raise
            log.exception("fallback of plugin %s failed too", name)
            return blocked
        return blocked if verdict is None else verdict

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
        _require_key(screen, "查询界面标识")
        fields: list[QueryField] = []
        for name, mode, result in self._each("soar_query_fields", ctx, screen=screen):
            if isinstance(result, Exception) or not result or mode != "on":
                continue
            fields.extend(replace(f, plugin=name) for f in result)
        return fields

    def query_build(self, ctx: SoarContext, screen: str, query: Select, filters: Mapping[str, object]) -> QueryBuild:
        _require_key(screen, "查询界面标识")
        _require(query, Select, "查询语句")
        if filters is None:
            filters = {}
        _require(filters, Mapping, "查询条件")
        if not all(isinstance(k, str) for k in filters):
            raise InvalidInput("查询条件无效：条件名称必须是文本。")
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
        _require(view, DetailView, "详情页面信息")
        _require_key(view.entity, "详情页面类型")
        _require_key(view.key, "记录ID")
        return self._contributions("soar_detail_view", ctx, view=view)

    def allocation_selected(self, ctx: SoarContext, allocation: AllocationSelection) -> list[Contribution]:
        _require(allocation, AllocationSelection, "划拨选择信息")
        _require_key(allocation.batch_id, "划拨批次ID")
        return self._contributions("soar_allocation_selected", ctx, allocation=allocation)

    def action(self, ctx: SoarContext, request: ActionRequest) -> ActionResult:
        """Route an action click to the plugin named in ``request.plugin``; failures become a failed result.

        Only that plugin is called, so another plugin's failure cannot affect it. Without a
        plugin (an older host), plugins are asked in turn, each failure isolated.
        """
        _require(request, ActionRequest, "操作请求")
        _require_key(request.key, "操作标识")
        _require_key(request.plugin, "操作所属插件", optional=True)
        if not isinstance(request.params, Mapping):
            raise InvalidInput("操作请求无效：参数格式不正确。")
        key = echo(request.key)
        active = self._active("soar_action")
        if request.plugin is not None:
            active = [(impl, mode) for impl, mode in active if impl.plugin_name == request.plugin]
        failed = False
        for impl, mode in active:
            name = impl.plugin_name
            try:
                result = self._invoke(impl, ctx, mode, "soar_action", request=request)
            except SoarUserError as exc:
                return ActionResult(ok=False, message=safe_message(exc), plugin=name)
            except Exception as exc:
                if self.strict:
                    raise
                log.exception("plugin %s failed in soar_action %s: %s", name, key, exc)
                if request.plugin is not None:
                    return ActionResult(ok=False, message=ACTION_FAILED.format(key=key), plugin=name)
                failed = True
                continue
            if result is not None:
                return replace(result, message=safe_message(result.message), plugin=name)
        if failed:
            return ActionResult(ok=False, message=ACTION_FAILED.format(key=key))
        return ActionResult(ok=False, message=ACTION_NOT_FOUND.format(key=key), plugin=request.plugin)

    # ------------------------------------------------------------------ projects and jobs

    def project_saved(self, ctx: SoarContext, project: ProjectChange) -> None:
        _require(project, ProjectChange, "配建项目信息")
        _require_key(project.project_id, "配建项目ID")
        self._each("soar_project_saved", ctx, user_errors_pass=False, project=project)

    def documents_received(self, ctx: SoarContext, receipt: DocumentReceipt) -> None:
        _require(receipt, DocumentReceipt, "收件信息")
        _require_key(receipt.project_id, "配建项目ID")
        self._each("soar_documents_received", ctx, user_errors_pass=False, receipt=receipt)

    def register_jobs(self, ctx: SoarContext) -> list[JobSpec]:
        jobs: list[JobSpec] = []
        for name, _mode, result in self._each("soar_register_jobs", ctx, user_errors_pass=False):
            if isinstance(result, Exception) or not result:
                continue
            jobs.extend(replace(j, plugin=name) for j in result)
        return jobs

    def run_job(self, ctx: SoarContext, name: str, **params: Any) -> ActionResult:
        """Run the batch job ``name`` offered by ``soar_register_jobs``, as ``ctx.operator``.

        The operator must hold the job's ``required_role``. The job runs in a savepoint of
        ``ctx.connection`` (the caller commits); a failure becomes a failed result naming the
        job, and its writes are rolled back (audit entries stay: they are durable).
        """
        _require_key(name, "批量作业名称")
        job = next((j for j in self.register_jobs(ctx) if j.name == name), None)
        if job is None:
            return ActionResult(ok=False, message=f"未找到批量作业「{echo(name)}」，相关功能可能未启用。")
        plugin = job.plugin or ""
        try:
            if job.required_role:
                ctx.operator.require(job.required_role, f"运行批量作业「{job.label}」")
            with ctx.connection.begin_nested():
                result = check_action_result(job.run(ctx.for_plugin(plugin, self.config.mode_of(plugin)), **params))
                if result is None:
                    raise HookResultError(f"job {name} returned None, expected an ActionResult")
        except SoarUserError as exc:
            return ActionResult(ok=False, message=safe_message(exc), plugin=plugin)
        except Exception as exc:
            if self.strict:
                raise
            log.exception("job %s of plugin %s failed: %s", name, plugin, exc)
            return ActionResult(ok=False, message=JOB_FAILED.format(label=job.label), plugin=plugin)
        return replace(result, message=safe_message(result.message), plugin=plugin)
