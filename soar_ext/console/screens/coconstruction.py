"""配建项目: SOAR's co-construction projects (``TPG_PJXM``): list, create/edit and 收件.

SOAR's own writes are the project row; after saving it calls ``SoarHost.project_saved``, and
after receiving documents (one file per :class:`~soar_ext.db.codes.DocumentType`) it calls
``SoarHost.documents_received``, both inside the same transaction. The project page shows what
the plugins contribute to ``DetailView("co_construction_project", pjxmid)``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soar_ext.audit_store import new_id
from soar_ext.console import formatting as fmt
from soar_ext.console.blocks import Flash, notice
from soar_ext.console.detail import detail_contributions
from soar_ext.console.query_screen import (
    OwnColumn,
    OwnFilter,
    QuerySpec,
    contains,
    district_filter,
    prefix,
    run_query,
)
from soar_ext.console.screens import Screen
from soar_ext.console.web import (
    form_text,
    full_ids,
    post_route,
    query_args,
    read_upload,
    record_page,
    redirect,
    render,
    runtime,
    soar_call,
    uploaded,
)
from soar_ext.console.widgets import Link
from soar_ext.db.codes import DISTRICTS, DocumentType
from soar_ext.db.legacy import coconstruction_projects
from soar_ext.db.portability import check_lengths, normalise_row
from soar_ext.errors import InvalidInput, NotFound
from soar_ext.hook_payloads import DetailView, DocumentReceipt, KeyValues, Notice, ProjectChange, ReceivedDocument

ENTITY = "co_construction_project"
j = coconstruction_projects
MAX_UNITS = 100_000
MAX_AREA = Decimal("9999999999.99")
DOC_FIELD = "doc."


def project_base() -> Select:
    return select(j.c.pjxmid, j.c.xmbh, j.c.xmmc, j.c.kfdw, j.c.qx, j.c.pjts, j.c.pjmj, j.c.cjsj)


LIST = QuerySpec(
    base=project_base,
    key="pjxmid",
    order_by=lambda: [j.c.xmbh],
    filters=[
        OwnFilter("xmbh", "项目编号", prefix(j.c.xmbh), placeholder="编号或开头部分"),
        OwnFilter("xmmc", "项目名称", contains(j.c.xmmc), placeholder="名称中的文字"),
        district_filter(j.c.qx),
    ],
    columns=[
        OwnColumn("项目编号", "xmbh"),
        OwnColumn("项目名称", "xmmc"),
        OwnColumn("开发单位", "kfdw"),
        OwnColumn("区县", show=lambda r, _f: fmt.district(r["qx"])),
        OwnColumn("应配建套数", show=lambda r, _f: fmt.number(r["pjts"])),
        OwnColumn("应配建面积（㎡）", show=lambda r, _f: fmt.money(r["pjmj"])),
    ],
)


def list_page(request: Request) -> Response:
    rt = runtime(request)
    with soar_call(request) as ctx:
        page = run_query(
            ctx, rt.host, LIST, query_args(request), page_size=rt.settings.page_size, full_ids=full_ids(request)
        )
    for row in page.rows:
        row.controls = [Link("查看", f"/projects/{row.key}"), Link("编辑", f"/projects/{row.key}/edit")]
    return render(
        request,
        "query.html",
        title="配建项目",
        query=page,
        top_controls=[Link("新增配建项目", "/projects/new")],
        intro="配建项目的登记、修改与收件。保存项目或收件后，SOAR 调用扩展功能（测绘关联、资料上传等）。",
    )


def _project(conn: Connection, project_id: str) -> Any:
    row = conn.execute(select(j).where(j.c.pjxmid == project_id)).first()
    if row is None:
        raise NotFound(f"未找到配建项目（ID {project_id}）。")
    return row


def project_blocks(row: Any) -> KeyValues:
    return KeyValues(
        title="项目信息",
        items=[
            ("项目编号", row.xmbh),
            ("项目名称", row.xmmc),
            ("开发单位", fmt.text(row.kfdw)),
            ("区县", fmt.district(row.qx)),
            ("应配建套数", fmt.number(row.pjts)),
            ("应配建面积（㎡）", fmt.money(row.pjmj)),
            ("登记时间", fmt.datetime(row.cjsj)),
        ],
    )


def project_page(request: Request) -> Response:
    rt = runtime(request)
    project_id = request.path_params["pjxmid"]
    with record_page(request) as ctx:
        row = _project(ctx.connection, project_id)
        page = detail_contributions(ctx, rt.host, DetailView(ENTITY, project_id))
    return render(
        request,
        "project.html",
        title=f"配建项目：{row.xmmc}",
        blocks=[project_blocks(row)],
        page=page,
        project_id=project_id,
        document_types=DocumentType.LABELS,
        max_upload=fmt.file_size(rt.settings.max_upload_bytes),
        controls=[Link("编辑项目", f"/projects/{project_id}/edit"), Link("返回配建项目", "/projects")],
    )


# ------------------------------------------------------------------------------- edit and save

FIELDS = ("xmbh", "xmmc", "kfdw", "qx", "pjts", "pjmj")


def _form_values(form: FormData) -> dict[str, str]:
    return {name: form_text(form, name, limit=400) or "" for name in FIELDS}


def validated(conn: Connection, raw: dict[str, str], project_id: str | None) -> dict[str, Any]:
    """SOAR's checks of a project form; :class:`InvalidInput` names the field."""
    if not raw["xmbh"]:
        raise InvalidInput("请填写项目编号。")
    if not raw["xmmc"]:
        raise InvalidInput("请填写项目名称。")
    if raw["qx"] and raw["qx"] not in DISTRICTS:
        raise InvalidInput("区县不正确，请在列表中选择。")
    values: dict[str, Any] = normalise_row({k: raw[k] for k in ("xmbh", "xmmc", "kfdw", "qx")})
    try:
        units = int(raw["pjts"]) if raw["pjts"] else None
    except ValueError:
        raise InvalidInput("应配建套数必须是整数。") from None
    if units is not None and not 0 <= units <= MAX_UNITS:
        raise InvalidInput(f"应配建套数应在0到{MAX_UNITS}之间。")
    try:
        area = Decimal(raw["pjmj"]).quantize(Decimal("0.01")) if raw["pjmj"] else None
    except (InvalidOperation, ValueError):
        raise InvalidInput("应配建面积必须是数字（平方米，最多两位小数）。") from None
    if area is not None and not (Decimal(0) <= area <= MAX_AREA):
        raise InvalidInput("应配建面积超出范围。")
    values.update(pjts=units, pjmj=area)
    check_lengths(j, values)
    taken = conn.execute(select(j.c.pjxmid).where(j.c.xmbh == values["xmbh"], j.c.pjxmid != (project_id or ""))).first()
    if taken:
        raise InvalidInput(f"项目编号 {values['xmbh']} 已被其他配建项目使用。")
    return values


def _edit(request: Request, values: dict[str, str], project_id: str | None, error: str | None = None) -> Response:
    return render(
        request,
        "project_edit.html",
        title="新增配建项目" if project_id is None else "编辑配建项目",
        values=values,
        project_id=project_id,
        districts=DISTRICTS,
        error=error,
        status_code=400 if error else 200,
    )


def new_page(request: Request) -> Response:
    return _edit(request, dict.fromkeys(FIELDS, ""), None)


def edit_page(request: Request) -> Response:
    project_id = request.path_params["pjxmid"]
    with record_page(request) as ctx:
        row = _project(ctx.connection, project_id)
    values = {name: "" if getattr(row, name) is None else str(getattr(row, name)) for name in FIELDS}
    return _edit(request, values, project_id)


def save(request: Request, form: FormData) -> Response:
    """SOAR's 保存: write the project, then ``project_saved`` in the same transaction."""
    rt = runtime(request)
    project_id = request.path_params.get("pjxmid")
    raw = _form_values(form)
    try:
        with soar_call(request) as ctx:
            conn = ctx.connection
            if project_id is not None:
                _project(conn, project_id)
            values = validated(conn, raw, project_id)
            created = project_id is None
            if created:
                project_id = new_id().upper()
                conn.execute(insert(j).values(pjxmid=project_id, cjsj=ctx.now(), **values))
            else:
                conn.execute(update(j).where(j.c.pjxmid == project_id).values(**values))
            rt.host.project_saved(ctx, ProjectChange(project_id=project_id, created=created))
    except InvalidInput as exc:
        return _edit(request, raw, request.path_params.get("pjxmid"), str(exc))
    return redirect(request, f"/projects/{project_id}", [notice(f"配建项目「{values['xmmc']}」已保存。", "ok")])


# ------------------------------------------------------------------------------- 收件


def received_documents(form: FormData, limit: int) -> list[ReceivedDocument]:
    """The files of a 收件 form, one per document type; :class:`InvalidInput` for an empty or oversize file."""
    documents = []
    for code, label in DocumentType.LABELS.items():
        upload = uploaded(form, DOC_FIELD + code)
        if upload is None:
            continue
        name = PurePath(str(upload.filename).replace("\\", "/")).name[:200]
        data = read_upload(upload, limit)
        if not data:
            raise InvalidInput(f"「{label}」的文件「{name}」是空文件，请重新选择。")
        documents.append(ReceivedDocument(doc_type=code, file_name=name, content=data))
    if not documents:
        raise InvalidInput("请至少选择一份要收件的材料。")
    return documents


def receive(request: Request, form: FormData) -> Response:
    """SOAR's 收件: the received files go to ``documents_received`` inside SOAR's transaction."""
    rt = runtime(request)
    project_id = request.path_params["pjxmid"]
    documents = received_documents(form, rt.settings.max_upload_bytes)
    with soar_call(request) as ctx:
        row = _project(ctx.connection, project_id)
        rt.host.documents_received(ctx, DocumentReceipt(project_id=project_id, documents=documents))
    lines = [
        Notice(f"{DocumentType.LABELS[d.doc_type]}：{d.file_name}（{fmt.file_size(len(d.content))}）")
        for d in documents
    ]
    done = Flash(blocks=[Notice(f"配建项目「{row.xmmc}」已收件 {len(documents)} 份材料。", "ok"), *lines], title="收件")
    return redirect(request, f"/projects/{project_id}", [done])


SCREENS = (
    Screen(
        key="projects",
        title="配建项目",
        path="/projects",
        summary="配建项目登记与修改、收件上传；测绘关联与资料上传状态由扩展功能提供。",
        routes=(
            Route("/projects", list_page),
            post_route("/projects", save),
            Route("/projects/new", new_page),
            Route("/projects/{pjxmid}", project_page),
            post_route("/projects/{pjxmid}", save),
            Route("/projects/{pjxmid}/edit", edit_page),
            post_route("/projects/{pjxmid}/documents", receive),
        ),
    ),
)
