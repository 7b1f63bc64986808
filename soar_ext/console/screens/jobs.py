"""批量作业: the jobs plugins offer (``SoarHost.register_jobs``, asked once at start-up).

Each job has a page drawn from what the plugins contribute to ``DetailView("batch_job",
JobSpec.name)`` — its start, progress, cancel and download controls come from the plugin.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext import roles
from soar_ext.console.detail import detail_contributions
from soar_ext.console.screens import Screen
from soar_ext.console.web import current_operator, render, runtime, soar_call
from soar_ext.console.widgets import Link
from soar_ext.hook_payloads import Badge, DetailView, JobSpec, KeyValues, Table, TableRow

ENTITY = "batch_job"


def _role(job: JobSpec) -> str:
    return roles.LABELS.get(job.required_role, job.required_role) if job.required_role else "无"


def _allowed(request: Request, job: JobSpec) -> Badge:
    if job.required_role is None or current_operator(request).has_role(job.required_role):
        return Badge("可使用", "ok")
    return Badge("无权限", "muted")


def list_page(request: Request) -> Response:
    rt = runtime(request)
    labels = rt.plugin_labels()
    rows = [
        TableRow(
            cells=[
                job.label,
                job.name,
                labels.get(job.plugin or "", job.plugin or ""),
                _role(job),
                _allowed(request, job),
            ],
            key=job.name,
        )
        for job in rt.jobs
    ]
    table = Table(
        columns=["作业名称", "标识", "所属扩展功能", "所需权限", "当前操作员"],
        rows=rows,
        title="可用的批量作业",
        empty_text="当前没有扩展功能提供批量作业。",
    )
    links = [Link(f"进入：{job.label}", f"/jobs/{quote(job.name, safe='')}") for job in rt.jobs]
    return render(request, "record.html", title="批量作业", blocks=[table], controls=links)


def job_page(request: Request) -> Response:
    rt = runtime(request)
    name = request.path_params["name"]
    job = next((j for j in rt.jobs if j.name == name), None)
    if job is None:
        raise HTTPException(404, "未找到该批量作业。")
    info = KeyValues(
        title="作业信息",
        items=[
            ("作业名称", job.label),
            ("标识", job.name),
            ("所属扩展功能", rt.plugin_labels().get(job.plugin or "", job.plugin or "")),
            ("所需权限", _role(job)),
        ],
        badge=_allowed(request, job),
    )
    with soar_call(request) as ctx:
        page = detail_contributions(ctx, rt.host, DetailView(ENTITY, job.name))
    return render(
        request,
        "record.html",
        title=f"批量作业：{job.label}",
        blocks=[info],
        page=page,
        controls=[Link("返回批量作业", "/jobs")],
    )


SCREENS = (
    Screen(
        key="jobs",
        title="批量作业",
        path="/jobs",
        summary="扩展功能提供的批量作业（如户籍批量核查）：启动、进度与结果下载。",
        routes=(Route("/jobs", list_page), Route("/jobs/{name}", job_page)),
    ),
)
