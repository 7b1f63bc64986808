"""插件状态: registered plugins with version, mode and hooks, start-up problems, load failures."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext.console.screens import Screen
from soar_ext.console.templating import MODE_LABELS, MODE_TONES
from soar_ext.console.web import render, runtime
from soar_ext.hook_payloads import Badge, Notice, Section, Table, TableRow
from soar_ext.idnumber import mask_in_text


def status_page(request: Request) -> Response:
    rt = runtime(request)
    rows = [
        TableRow(
            cells=[
                info.label,
                info.name,
                info.version or "—",
                info.distribution or "（直接注册）",
                Badge(MODE_LABELS.get(info.mode, info.mode), MODE_TONES.get(info.mode, "info")),  # type: ignore[arg-type]
                "、".join(info.hooks) or "—",
            ],
            key=info.name,
        )
        for info in rt.plugin_infos()
    ]
    blocks: list[object] = [
        Table(
            columns=["插件", "标识", "版本", "发行包", "模式", "实现的扩展点"],
            rows=rows,
            title="已注册的插件",
            empty_text="没有注册任何插件。",
        )
    ]
    problems = [Notice(text, "warn") for text in rt.startup_problems]
    blocks.append(Section("启动检查", problems or [Notice("各插件启动检查均正常。", "ok")]))  # type: ignore[arg-type]
    failures = [TableRow(cells=[f.name, f.value, mask_in_text(f.error)], tone="error") for f in rt.load_failures()]
    blocks.append(
        Table(
            columns=["入口名称", "模块", "错误"],
            rows=failures,
            title="加载失败的插件",
            empty_text="没有加载失败的插件。",
        )
    )
    return render(request, "record.html", title="插件状态", blocks=blocks)


SCREENS = (
    Screen(
        key="plugins",
        title="插件状态",
        path="/plugins",
        summary="插件、版本、模式（启用 / 试运行 / 关闭）、扩展点、启动检查和加载失败。",
        routes=(Route("/plugins", status_page),),
    ),
)
