"""Role-checked, audited Excel export for plugins: the workbook comes back in an :class:`ActionResult`.

The order is fixed: the operator's role is checked before any row is read; ID numbers are full
only for operators with :data:`soar_ext.roles.FULL_ID`; the workbook is built completely (nothing
is returned if any row is bad); then the export is audited through ``ctx.audit.record`` with its
row counts and whether IDs were full. Refused and failed exports are audited too.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from soar_ext import roles
from soar_ext.audit import AuditEvent
from soar_ext.errors import InvalidInput, PermissionDenied
from soar_ext.export.xlsx import XLSX_CONTENT_TYPE, ExportSummary, SheetSpec, write_xlsx
from soar_ext.hook_payloads import ActionResult
from soar_ext.idnumber import mask_in_text

if TYPE_CHECKING:
    from soar_ext.context import SoarContext

log = logging.getLogger(__name__)

#: ``AuditEvent.interfaces`` of an export: the channel the data left through.
EXPORT_INTERFACES: Final = ("excel",)
#: Sheets named in the result message before it says "等".
_SHEETS_IN_MESSAGE = 5
_MAX_NAME_CHARS = 100
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def download_name(file_name: str) -> str:
    """``file_name`` made safe to offer as a download: no path or reserved characters, ending ``.xlsx``."""
    if not isinstance(file_name, str):
        raise InvalidInput(f"导出文件名必须是文本，实际为 {type(file_name).__name__}")
    stem = _UNSAFE_NAME_CHARS.sub("_", file_name).strip().strip(".")
    if stem.lower().endswith(".xlsx"):
        stem = stem[:-5].rstrip()
    return f"{stem[:_MAX_NAME_CHARS] or '导出'}.xlsx"


def export_workbook(
    ctx: SoarContext,
    *,
    file_name: str,
    purpose: str,
    sheets: Iterable[SheetSpec],
    required_role: str = roles.EXPORTER,
    action: str = "export.excel",
    detail: Mapping[str, object] | None = None,
) -> ActionResult:
    """Export ``sheets`` as ``file_name`` for the operator of ``ctx``, role-checked and audited.

    :param purpose: why the data leaves SOAR (Chinese, e.g. ``"调房划拨清单导出"``); stored in the audit.
    :param required_role: the role the operator needs (:data:`soar_ext.roles.EXPORTER` by default).
    :param action: the audit action name.
    :param detail: extra audit detail (e.g. the batch id); row counts and ID handling are added.
    :raises PermissionDenied: the operator lacks ``required_role`` (before any row is read).
    :raises ExportDataError: a bad sheet, row or value (nothing is returned).
    :returns: ``ActionResult(ok=True)`` with the workbook bytes and a Chinese message with the row counts.
    """
    name = download_name(file_name)
    if not isinstance(purpose, str) or not purpose.strip():
        raise InvalidInput("导出用途（purpose）不能为空")
    extra = dict(detail or {})
    extra["file_name"] = name

    def audit(result_status: str, outcome: Mapping[str, object]) -> None:
        ctx.audit.record(
            AuditEvent(
                action=action,
                operator_id=ctx.operator.id,
                purpose=purpose,
                interfaces=EXPORT_INTERFACES,
                result_status=result_status,
                detail={**extra, **outcome},
                at=ctx.now(),
            )
        )

    try:
        ctx.operator.require(required_role, f"导出「{name}」")
    except PermissionDenied:
        _audit_quietly(audit, "denied", {"required_role": required_role})
        raise
    full_ids = ctx.operator.has_role(roles.FULL_ID)
    # Built on disk and read once: the workbook is held in memory only as the returned bytes.
    with tempfile.TemporaryDirectory(prefix="soar-ext-export-") as scratch:
        try:
            summary = write_xlsx(Path(scratch) / "export.xlsx", sheets, full_ids=full_ids)
        except Exception as exc:
            _audit_quietly(audit, "error", {"full_ids": full_ids, "error": mask_in_text(str(exc))[:500]})
            raise
        file_bytes = (Path(scratch) / "export.xlsx").read_bytes()
    # A failure to audit must not hand out an unaudited file: it propagates.
    audit("ok", summary.audit_detail())
    return ActionResult(
        ok=True,
        message=_message(name, summary),
        data=summary,
        file_name=name,
        file_bytes=file_bytes,
        content_type=XLSX_CONTENT_TYPE,
    )


def _audit_quietly(
    audit: Callable[[str, Mapping[str, object]], None], result_status: str, outcome: Mapping[str, object]
) -> None:
    # On the refusal and failure paths the original error is what the caller must see.
    try:
        audit(result_status, outcome)
    except Exception:
        log.exception("could not audit a %s export", result_status)


def _message(name: str, summary: ExportSummary) -> str:
    parts = [f"{sheet.sheet_titles[0]} {sheet.rows:,} 行" for sheet in summary.sheets[:_SHEETS_IN_MESSAGE]]
    listed = "，".join(parts) + ("等" if len(summary.sheets) > _SHEETS_IN_MESSAGE else "")
    ids = "含完整身份证号" if summary.full_ids else "身份证号已脱敏"
    message = f"已导出「{name}」，共 {summary.rows:,} 行（{listed}），{ids}。"
    if summary.clipped_cells:
        message += f"{summary.clipped_cells:,} 个单元格内容超过 Excel 上限，已截断并注明。"
    return message
