"""SOAR's extension points, as pluggy hook specifications.

SOAR calls these through :class:`soar_ext.host.SoarHost` only; no other code calls
``pm.hook`` directly. Every hook receives ``ctx`` (:class:`soar_ext.context.SoarContext`):
the operator, SOAR's database connection *inside SOAR's own transaction* (plugins never
commit in screen hooks), the clock, configuration, adapters, the audit sink and the
plugin's mode (``ctx.mode``: ``on`` or ``shadow``; ``off`` plugins are not even imported).
What an implementation returns is checked against the hook's ``:return:`` contract
(:mod:`soar_ext.hook_results`); a wrong type counts as that plugin's failure.

Implementations may take any subset of a hook's arguments, in any order, by name.
New-style wrappers are not supported on these hooks: the facade calls every
implementation on its own to isolate failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from sqlalchemy import Select

    from soar_ext.context import SoarContext
    from soar_ext.hook_payloads import (
        ActionRequest,
        ActionResult,
        AllocationSelection,
        ContractDraft,
        Contribution,
        DetailView,
        DocumentReceipt,
        JobSpec,
        PreContractVerdict,
        ProjectChange,
        QueryField,
    )

PROJECT_NAME = "soar"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

# -------------------------------------------------------------------------
# Lifecycle
# -------------------------------------------------------------------------


@hookspec
def soar_startup(ctx: SoarContext) -> list[str] | None:
    """Prepare a plugin when SOAR starts.

    Called once after all plugins are registered, before any screen hook. Check the
    schema objects the plugin needs and open adapters here.

    :param ctx: context with a connection outside any business transaction.
    :return: a list of problems (English, for maintainers' logs) or ``None`` when ready.
        A problem does not stop SOAR; the plugin stays registered.
    """


@hookspec
def soar_shutdown(ctx: SoarContext) -> None:
    """Release what a plugin holds when SOAR stops.

    Called once, in reverse registration order; errors are logged and ignored.

    :param ctx: context with a connection outside any business transaction.
    :return: ``None``.
    """


# -------------------------------------------------------------------------
# Contracts
# -------------------------------------------------------------------------


@hookspec
def soar_pre_contract(ctx: SoarContext, contract: ContractDraft) -> PreContractVerdict | None:
    """Check (and possibly adjust) a lease contract before it is signed.

    Called when a clerk signs a 新配租, 续租, 换房 or 调房 contract; the draft row already
    exists in ``TPG_ZLHT`` inside SOAR's transaction. A plugin may block signing or set
    the deposit; in ``shadow`` mode it only records what it would do.

    May block: yes. Every plugin is asked; the contract is blocked when any plugin in
    ``on`` mode returns ``allow=False``. A plugin that raises (or returns something that is
    not a verdict) blocks the contract with a Chinese message (fail-safe), unless it
    implements :func:`soar_pre_contract_fallback`. The host has checked that the contract
    exists in ``TPG_ZLHT`` and belongs to ``contract.family_id`` before any plugin is asked.

    :param ctx: the call context (SOAR's transaction).
    :param contract: the contract about to be signed.
    :return: a :class:`~soar_ext.hook_payloads.PreContractVerdict`, or ``None`` when the
        plugin has nothing to say about this contract (for example, another contract type).
    """


@hookspec
def soar_pre_contract_fallback(
    ctx: SoarContext, contract: ContractDraft, error: Exception
) -> PreContractVerdict | None:
    """Decide a contract after this plugin's own ``soar_pre_contract`` failed.

    Called only for the plugin whose ``soar_pre_contract`` raised or returned a value of the
    wrong type, right after the host rolled back what that call wrote; other plugins'
    implementations are not called. Use it for a safe default that lets the contract through
    (the deposit waiver: deposit required, decision flagged for re-check).

    :param ctx: the call context (SOAR's transaction).
    :param contract: the contract about to be signed.
    :param error: the exception of the failed call.
    :return: the verdict to use instead, or ``None`` (or a failure here too) for the fail-safe
        block with the host's Chinese message.
    """


# -------------------------------------------------------------------------
# Query screens
# -------------------------------------------------------------------------


@hookspec
def soar_query_fields(ctx: SoarContext, screen: str) -> list[QueryField] | None:
    """Contribute filter conditions and result columns to a query screen.

    Called when SOAR draws a query screen (e.g. ``exchange.business``,
    ``exchange.inspection``, ``housing.query``). Results of all plugins are concatenated.

    May block: no. A raising plugin is logged and skipped.

    :param ctx: the call context.
    :param screen: the screen's identifier.
    :return: the fields to add, or ``None`` when the plugin adds nothing to this screen.
    """


@hookspec
def soar_query_build(ctx: SoarContext, screen: str, query: Select, filters: dict[str, object]) -> Select | None:
    """Amend the statement a query screen is about to run.

    Called with SOAR's ``Select`` (SQLAlchemy Core) for the screen and the filter values
    the clerk entered (keys of the fields contributed by ``soar_query_fields``). Plugins are
    chained: each receives the statement returned by the previous one. Plugins may add
    result columns, so SOAR passes its row query (not a ``COUNT``) and counts by wrapping
    the amended statement: ``select(func.count()).select_from(statement.subquery())``. Raise
    :class:`~soar_ext.errors.InvalidInput` for a filter value outside its allowed set.

    May block: no. A raising plugin (other than for invalid input) is logged and skipped,
    and the screen shows a warning.

    :param ctx: the call context.
    :param screen: the screen's identifier.
    :param query: the statement so far.
    :param filters: filter values by field key; absent or ``None`` means "not filtered".
    :return: the amended statement, or ``None`` to leave it unchanged.
    """


# -------------------------------------------------------------------------
# Detail views and actions
# -------------------------------------------------------------------------


@hookspec
def soar_detail_view(ctx: SoarContext, view: DetailView) -> list[Contribution] | None:
    """Contribute buttons and panels to a detail page (e.g. a person's 查看详情).

    Called when SOAR draws the page. Results of all plugins are concatenated.
    May block: no; a raising plugin is skipped.

    :param ctx: the call context.
    :param view: which page and which record.
    :return: actions and panels to show, or ``None`` for nothing.
    """


@hookspec(firstresult=True)
def soar_action(ctx: SoarContext, request: ActionRequest) -> ActionResult | None:
    """Handle a click on an action a plugin contributed (核查, 导出, 关联 …).

    Called when the clerk clicks the button. The host routes the click to the plugin named by
    ``request.plugin`` (the ``plugin`` the host set on the contribution or result the button
    came from) and calls no other plugin. Only when SOAR sends no plugin are plugins asked in
    turn. Stops at first non-None result; a plugin that raises is logged and skipped without
    affecting the others. Raise :class:`~soar_ext.errors.SoarUserError`
    subclasses for problems the clerk should read (no permission, bad input).

    :param ctx: the call context.
    :param request: the action key, target record and parameters.
    :return: the result, or ``None`` when the action is not this plugin's.
    """


@hookspec
def soar_allocation_selected(ctx: SoarContext, allocation: AllocationSelection) -> list[Contribution] | None:
    """React after applicants and houses are chosen in 调房划拨 or 选房划拨.

    Called when the clerk confirms the selection. Results of all plugins are concatenated. May block: no.

    :param ctx: the call context (SOAR's transaction).
    :param allocation: the batch and what was chosen.
    :return: follow-up actions or panels to show, or ``None``.
    """


# -------------------------------------------------------------------------
# Co-construction projects
# -------------------------------------------------------------------------


@hookspec
def soar_project_saved(ctx: SoarContext, project: ProjectChange) -> None:
    """React after a co-construction project (配建项目) is created or changed.

    Called after SOAR saved the project, inside the same transaction.
    May block: no; failures are logged.

    :param ctx: the call context (SOAR's transaction).
    :param project: the project and whether it was just created.
    :return: ``None``.
    """


@hookspec
def soar_documents_received(ctx: SoarContext, receipt: DocumentReceipt) -> None:
    """React after documents are received (收件) for a co-construction project.

    Called after SOAR stored the received documents, inside the same transaction.
    May block: no; failures are logged.

    :param ctx: the call context (SOAR's transaction).
    :param receipt: the project and the received documents.
    :return: ``None``.
    """


# -------------------------------------------------------------------------
# Batch jobs
# -------------------------------------------------------------------------


@hookspec
def soar_register_jobs(ctx: SoarContext) -> list[JobSpec] | None:
    """Offer batch jobs SOAR can schedule or run on request.

    Called once at start-up. Results of all plugins are concatenated. SOAR runs a job as
    ``job.run(ctx, **params)`` with a context of its own (a connection in a transaction SOAR
    commits afterwards); the job checks ``ctx.operator`` against ``job.required_role`` and
    returns an :class:`~soar_ext.hook_payloads.ActionResult` (message, content, optional file).

    :param ctx: the call context.
    :return: job specifications, or ``None`` when the plugin has no jobs.
    """


ALL_HOOKS: tuple[str, ...] = (
    "soar_startup",
    "soar_shutdown",
    "soar_pre_contract",
    "soar_pre_contract_fallback",
    "soar_query_fields",
    "soar_query_build",
    "soar_detail_view",
    "soar_action",
    "soar_allocation_selected",
    "soar_project_saved",
    "soar_documents_received",
    "soar_register_jobs",
)
