"""Demo operators (演示) for the console's operator picker: different roles and districts."""

from __future__ import annotations

from dataclasses import dataclass

from soar_ext import roles
from soar_ext.context import Operator


@dataclass(frozen=True)
class DemoOperator:
    """An operator the picker offers, with the post shown beside the name."""

    operator: Operator
    post: str

    @property
    def id(self) -> str:
        return self.operator.id


def _op(op_id: str, name: str, post: str, district: str | None, *granted: str) -> DemoOperator:
    return DemoOperator(Operator(id=op_id, name=name, roles=frozenset(granted), district=district), post)


DEMO_OPERATORS: tuple[DemoOperator, ...] = (
    _op(
        "demo-clerk",
        "王晓燕",
        "业务经办",
        "330106",
        roles.CLERK,
        roles.INSPECTOR,
        roles.VERIFIER,
        roles.BATCH_CHECKER,
        roles.EXPORTER,
    ),
    _op("demo-inspector", "李建国", "验房人员", "330105", roles.INSPECTOR),
    _op("demo-trainee", "周小川", "实习人员（无权限）", "330108"),
    _op(
        "demo-chief",
        "陈立群",
        "科长",
        "330102",
        roles.CLERK,
        roles.INSPECTOR,
        roles.VERIFIER,
        roles.BATCH_CHECKER,
        roles.EXPORTER,
        roles.FULL_ID,
    ),
    _op("demo-admin", "孙志刚", "系统管理员", None, roles.ADMIN),
)
"""The default operator is the first one."""

SYSTEM_OPERATOR = Operator(id="console", name="控制台")
"""Who start-up, shutdown and job registration run as (no roles)."""


def role_labels(operator: Operator) -> list[str]:
    """The operator's roles as Chinese labels, in :data:`roles.LABELS` order."""
    return [label for role, label in roles.LABELS.items() if role in operator.roles]
