"""Request helpers every screen uses: the operator, the SOAR transaction, pages, forms and redirects.

Every change is a POST registered with :func:`post_route`, which checks the CSRF token before
the handler runs; a :class:`~soar_ext.errors.SoarUserError` raised by the handler (SOAR's own
validation, a refused action) rolls its transaction back and comes back as a notice on the page
the form was sent from.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from soar_ext import roles
from soar_ext.console.blocks import Flash, notice
from soar_ext.console.runtime import ConsoleRuntime
from soar_ext.console.templating import Sequencer
from soar_ext.context import Operator, SoarContext
from soar_ext.errors import NotFound, SoarUserError
from soar_ext.idnumber import mask_in_text

SESSION_OPERATOR = "operator"
SESSION_CSRF = "csrf"
SESSION_FLASH = "flash"
CSRF_FIELD = "csrf_token"
RETURN_FIELD = "return_to"

CSRF_REFUSED = "页面已过期或请求来源不明（安全校验未通过），请返回并刷新页面后重试。"


def runtime(request: Request) -> ConsoleRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def current_operator(request: Request) -> Operator:
    return runtime(request).operator(request.session.get(SESSION_OPERATOR))


def full_ids(request: Request) -> bool:
    """Whether this operator may see full ID numbers (role ``full_id``)."""
    return current_operator(request).has_role(roles.FULL_ID)


def notices(request: Request) -> list[str]:
    """Warnings for this request's page (plugins that failed, query warnings)."""
    if not hasattr(request.state, "notices"):
        request.state.notices = []
    return request.state.notices  # type: ignore[no-any-return]


@contextmanager
def soar_call(request: Request) -> Iterator[SoarContext]:
    """The request's SOAR transaction, as the current operator."""
    with runtime(request).soar_call(current_operator(request), notices(request)) as ctx:
        yield ctx


@contextmanager
def record_page(request: Request) -> Iterator[SoarContext]:
    """:func:`soar_call` for a record's page: a record that does not exist is a 404 page."""
    try:
        with soar_call(request) as ctx:
            yield ctx
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


def query_args(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


def safe_return(value: object, default: str = "/") -> str:
    """A local path to go back to (never another site)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def here(request: Request) -> str:
    """The current page's path and query, to come back to after a form."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def render(request: Request, template: str, *, title: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Draw a page. Without the ``full_id`` role, every ID-shaped number in it is masked as a last guard."""
    rt = runtime(request)
    operator = current_operator(request)
    flashes = rt.flash.pop(request.session.pop(SESSION_FLASH, None))
    page = request.app.state.templates.get_template(template).render(
        request=request,
        title=title,
        operator=rt.operators.get(operator.id),
        operators=list(rt.operators.values()),
        csrf_token=csrf_token(request),
        current_path=here(request),
        flashes=flashes,
        notices=notices(request),
        nav=request.app.state.nav,
        full_ids=operator.has_role(roles.FULL_ID),
        seq=Sequencer(),
        **values,
    )
    if not operator.has_role(roles.FULL_ID):
        page = mask_in_text(page)
    return HTMLResponse(page, status_code=status_code)


def redirect(request: Request, to: str, flashes: Sequence[Flash] = ()) -> RedirectResponse:
    """303 to ``to``, showing ``flashes`` (and this request's plugin notices) there once."""
    items = list(flashes) + [notice(text, "warn") for text in notices(request)]
    if items:
        request.session[SESSION_FLASH] = runtime(request).flash.put(items)
    return RedirectResponse(safe_return(to), status_code=303)


def return_path(request: Request, form: FormData, default: str = "/") -> str:
    return safe_return(form.get(RETURN_FIELD), default)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "")


async def read_form(request: Request) -> FormData:
    """The form of a POST, after the CSRF check (403 when the token is missing or wrong)."""
    form = await request.form(max_files=20, max_fields=2000)
    expected = request.session.get(SESSION_CSRF)
    sent = form.get(CSRF_FIELD)
    if (
        not expected
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), str(expected).encode())
        or not _same_origin(request)
    ):
        await form.close()
        raise HTTPException(status_code=403, detail=CSRF_REFUSED)
    return form


PostHandler = Callable[[Request, FormData], Response]


def post_route(path: str, handler: PostHandler, *, name: str | None = None) -> Route:
    """A POST route: CSRF check, then ``handler(request, form)`` in a worker thread."""

    async def endpoint(request: Request) -> Response:
        form = await read_form(request)
        try:
            return await run_in_threadpool(handler, request, form)
        except SoarUserError as exc:
            return redirect(request, return_path(request, form), [notice(str(exc), "error")])
        finally:
            await form.close()

    return Route(path, endpoint, methods=["POST"], name=name)


def form_text(form: FormData, name: str, *, limit: int = 500) -> str | None:
    """A text field of a form, stripped; ``None`` when blank (Oracle has no empty string)."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] if value else None


def form_list(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v]


def uploaded(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


def read_upload(upload: UploadFile, limit: int) -> bytes:
    """The file's bytes; :class:`~soar_ext.errors.InvalidInput` when it is over ``limit``."""
    from soar_ext.console.formatting import file_size
    from soar_ext.errors import InvalidInput

    upload.file.seek(0)
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"文件「{upload.filename}」超过 {file_size(limit)}，请压缩或拆分后再上传。")
    return data
