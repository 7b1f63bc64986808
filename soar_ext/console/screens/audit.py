"""审计日志: the audit trail of personal-data access, masked, for system administrators."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext import roles
from soar_ext.console import formatting as fmt
from soar_ext.console.audit_reader import AuditFilter, read_audit_log
from soar_ext.console.screens import Screen
from soar_ext.console.web import current_operator, query_args, render, runtime
from soar_ext.hook_payloads import Table, TableRow

DETAIL_CHARS = 160


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def log_page(request: Request) -> Response:
    rt = runtime(request)
    if not current_operator(request).has_role(roles.ADMIN):
        return render(request, "audit.html", title="审计日志", allowed=False, args={}, table=None, pager=None)
    args = {k: v.strip()[:60] for k, v in query_args(request).items()}
    page = int(args["page"]) if args.get("page", "").isdigit() and 0 < int(args["page"]) < 100_000 else 1
    filters = AuditFilter(
        action=args.get("action") or None,
        operator_id=args.get("operator") or None,
        since=_date(args.get("since")),
        until=_date(args.get("until")),
    )
    result = read_audit_log(rt.audit_store(), filters, page=page, page_size=rt.settings.page_size)
    rows = [
        TableRow(
            cells=[
                fmt.datetime(e.at),
                f"{e.operator_name or ''}（{e.operator_id or '—'}）",
                e.action,
                fmt.text(e.purpose),
                fmt.text(e.subject_masked),
                fmt.text(e.interfaces),
                e.result_status,
                fmt.text(e.detail[:DETAIL_CHARS] if e.detail else None),
            ]
        )
        for e in result.entries
    ]
    table = Table(
        columns=["时间", "操作员", "操作类型", "事由", "对象（脱敏）", "接口", "结果", "详情"],
        rows=rows,
        title=f"共 {result.total} 条",
        empty_text="无符合条件的审计记录。",
    )
    kept = {k: v for k, v in args.items() if v and k != "page"}
    pager = {
        "page": page,
        "prev": "?" + urlencode({**kept, "page": page - 1}) if page > 1 else None,
        "next": "?" + urlencode({**kept, "page": page + 1}) if result.has_next else None,
    }
    return render(request, "audit.html", title="审计日志", allowed=True, args=args, table=table, pager=pager)


SCREENS = (
    Screen(
        key="audit",
        title="审计日志",
        path="/audit",
        summary="查询市民个人信息的审计记录（对象脱敏显示），仅系统管理员可查看。",
        routes=(Route("/audit", log_page),),
    ),
)
