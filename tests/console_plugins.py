"""Plugins that exercise the console's generic rendering: every block type, a broken plugin, a live job."""

from __future__ import annotations

import itertools
from typing import Any

from soar_ext import hookimpl, roles
from soar_ext.hook_payloads import (
    ActionButton,
    ActionForm,
    ActionRequest,
    ActionResult,
    Badge,
    Contribution,
    DetailView,
    InputField,
    JobSpec,
    KeyValues,
    Notice,
    Progress,
    QueryField,
    Section,
    Table,
    TableRow,
)

CATEGORIES = {"01": "社保", "02": "公积金", "03": "车辆"}
DOWNLOAD_BYTES = "序号,姓名\n1,张三\n".encode()


class BrokenFeature:
    """Raises in every display and query hook."""

    PLUGIN_LABEL = "故障演示"

    @hookimpl
    def soar_query_fields(self, screen: str) -> list[QueryField]:
        raise RuntimeError(f"broken on {screen}")

    @hookimpl
    def soar_query_build(self, screen: str, query: Any) -> Any:
        if screen == "housing.query":
            raise RuntimeError("broken query")
        return None

    @hookimpl
    def soar_detail_view(self, view: DetailView) -> list[Contribution]:
        raise RuntimeError(f"broken on {view.entity}")


class DemoFeature:
    """Contributes an action with a form and a panel holding every generic block; answers its actions."""

    PLUGIN_LABEL = "演示扩展"

    def __init__(self) -> None:
        self.requests: list[ActionRequest] = []
        self._ticks = itertools.count(1)

    @hookimpl
    def soar_detail_view(self, ctx: Any, view: DetailView) -> list[Contribution] | None:
        if view.entity == "batch_job" and view.key == "demo.job":
            done = min(10, next(self._ticks) * 2)
            return [
                Contribution(
                    "panel",
                    "demo.progress",
                    "作业进度",
                    content=Progress(
                        "演示作业", total=10, done=done, refresh_seconds=0.5 if done < 10 else None, rate_per_second=2.0
                    ),
                )
            ]
        if view.entity != "person":
            return None
        allowed = ctx.operator.has_role(roles.VERIFIER)
        form = ActionForm(
            inputs=(
                InputField("purpose", "查询事由", "text", required=True, max_length=50),
                InputField("categories", "核查类别", "multichoice", choices=CATEGORIES),
                InputField("attachment", "附件", "file"),
            ),
            submit_label="开始核查",
        )
        action = Contribution(
            "action",
            "demo.verify",
            "核查",
            enabled=allowed,
            hint=None if allowed else "您没有「核查人员」权限，不能核查。请联系系统管理员开通。",
            content=form,
        )
        panel = Contribution(
            "panel",
            "demo.panel",
            "演示面板",
            content=[
                Badge("正常", "ok"),
                Notice("这是一条提示。", "warn"),
                KeyValues(
                    [("核查时间", "2024-06-30 10:00"), ("结果", "一致")],
                    title="最近一次核查",
                    badge=Badge("已完成", "ok"),
                    note="仅供演示",
                    actions=(ActionButton("demo.row", "重新同步", target="kv"),),
                ),
                Table(
                    columns=["类别", "状态"],
                    rows=[
                        TableRow(
                            ["社保", Badge("正常返回", "ok")],
                            actions=(ActionButton("demo.row", "重试", target="r1"),),
                            key="r1",
                        ),
                        TableRow(["车辆", Badge("查询失败", "error")], tone="error", key="r2"),
                    ],
                    title="分类结果",
                    select_action=ActionButton("demo.pick", "处理所选"),
                ),
                Progress("批量核查", total=200, done=50, failed=2, eta_seconds=95.0, status=Badge("进行中", "info")),
                ActionButton("demo.download", "下载清单", download=True),
                ActionButton("demo.row", "删除记录", target="x1", confirm="确认删除？"),
                Section("分组", [Notice("分组内的提示"), KeyValues([("项", "值")])], badge=Badge("2", "muted")),
            ],
        )
        return [action, panel]

    @hookimpl
    def soar_action(self, request: ActionRequest) -> ActionResult | None:
        if not request.key.startswith("demo."):
            return None
        self.requests.append(request)
        if request.key == "demo.download":
            return ActionResult(
                True, "已导出", file_name="清单.csv", file_bytes=DOWNLOAD_BYTES, content_type="text/csv"
            )
        if request.key == "demo.pick":
            return ActionResult(
                True, f"已处理 {len(request.params['selected'])} 条：{','.join(request.params['selected'])}"
            )
        if request.key == "demo.row":
            return ActionResult(True, f"已处理记录 {request.target}")
        attachment = request.params.get("attachment")
        size = len(attachment[1]) if attachment else 0
        chosen = "、".join(CATEGORIES[c] for c in request.params.get("categories", []))
        return ActionResult(
            True,
            f"核查完成：事由「{request.params['purpose']}」",
            content=[
                KeyValues([("核查类别", chosen or "全部"), ("附件字节数", str(size)), ("对象", request.target or "")])
            ],
        )

    @hookimpl
    def soar_register_jobs(self) -> list[JobSpec]:
        return [JobSpec("demo.job", "演示作业", run=_run_demo_job, required_role=roles.BATCH_CHECKER)]


def _run_demo_job(ctx: Any) -> ActionResult:
    return ActionResult(True, "演示作业已运行")
