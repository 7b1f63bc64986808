"""The one route every plugin button posts to: ``POST /action`` → ``SoarHost.action``.

The button's request (key, target, plugin, parameters, the inputs it asks for) is looked up by
its token (:class:`~soar_ext.console.blocks.ActionStore`); the clerk's input values are added
to its parameters: ``file`` inputs as ``(file_name, bytes)``, ``multichoice`` as a list, the
rest as stripped text (blank → not sent), and the ticked rows of a table as ``selected``.
An answer with a file is sent as a download; any other answer is shown on the page the button
was on.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from soar_ext.console.blocks import ActionDescriptor, result_flash
from soar_ext.console.web import (
    form_list,
    form_text,
    post_route,
    read_upload,
    redirect,
    return_path,
    runtime,
    soar_call,
)
from soar_ext.errors import InvalidInput
from soar_ext.hook_payloads import ActionRequest

ACTION_FIELD = "action"
INPUT_PREFIX = "in."
SELECTED_FIELD = "selected"
EXPIRED = "该操作已失效（页面已过期或控制台已重启），请刷新页面后重试。"


def input_name(key: str) -> str:
    return INPUT_PREFIX + key


def collect_params(descriptor: ActionDescriptor, form: FormData, max_upload_bytes: int) -> dict[str, Any]:
    """The button's parameters plus what the clerk entered; :class:`InvalidInput` for a missing required value."""
    params: dict[str, Any] = dict(descriptor.params)
    for field in descriptor.inputs:
        name = input_name(field.key)
        value: Any
        if field.type == "file":
            upload = form.get(name)
            has_file = upload is not None and not isinstance(upload, str) and bool(upload.filename)
            value = (upload.filename, read_upload(upload, max_upload_bytes)) if has_file else None  # type: ignore[union-attr]
        elif field.type == "multichoice":
            value = form_list(form, name) or None
        else:
            value = form_text(form, name, limit=20_000)
        if value is None:
            if field.required:
                raise InvalidInput(f"请填写「{field.label}」。")
            continue
        params[field.key] = value
    if descriptor.select:
        chosen = form_list(form, SELECTED_FIELD)
        if not chosen:
            raise InvalidInput("请先勾选要处理的记录。")
        params[SELECTED_FIELD] = chosen
    return params


def attachment(file_name: str, data: bytes, content_type: str | None) -> Response:
    disposition = f"attachment; filename*=UTF-8''{quote(file_name)}"
    return Response(
        data, media_type=content_type or "application/octet-stream", headers={"Content-Disposition": disposition}
    )


def handle_action(request: Request, form: FormData) -> Response:
    rt = runtime(request)
    back = return_path(request, form)
    token = form.get(ACTION_FIELD)
    descriptor = rt.actions.get(token) if isinstance(token, str) else None
    if descriptor is None:
        raise InvalidInput(EXPIRED)
    params = collect_params(descriptor, form, rt.settings.max_upload_bytes)
    action = ActionRequest(key=descriptor.key, target=descriptor.target, params=params, plugin=descriptor.plugin)
    with soar_call(request) as ctx:
        result = rt.host.action(ctx, action)
    if result.file_bytes is not None:
        return attachment(result.file_name or "download.bin", result.file_bytes, result.content_type)
    return redirect(request, back, [result_flash(result)])


ROUTES = [post_route("/action", handle_action, name="action")]
