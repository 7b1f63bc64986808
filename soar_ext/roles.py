"""Operator roles soar-ext checks before it touches personal data."""

from __future__ import annotations

from typing import Final

from soar_ext.errors import PermissionDenied

CLERK: Final = "clerk"
INSPECTOR: Final = "inspector"
VERIFIER: Final = "verifier"
BATCH_CHECKER: Final = "batch_checker"
EXPORTER: Final = "exporter"
#: May see full ID numbers on screens and in exports (everyone else sees them masked, ``330106********123X``).
FULL_ID: Final = "full_id"
ADMIN: Final = "admin"

LABELS: Final = {
    CLERK: "业务经办",
    INSPECTOR: "验房人员",
    VERIFIER: "核查人员",
    BATCH_CHECKER: "批量核查人员",
    EXPORTER: "数据导出",
    FULL_ID: "查看完整身份证号",
    ADMIN: "系统管理员",
}


def require_role(roles: frozenset[str], role: str, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``role`` (or admin) is among ``roles``."""
    if role in roles or ADMIN in roles:
        return
    raise PermissionDenied(f"您没有「{LABELS.get(role, role)}」权限，不能{action}。请联系系统管理员开通。")
