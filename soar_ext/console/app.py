"""The console's Starlette application: routes of every screen, sessions, CSRF, safety headers, errors."""

from __future__ import annotations

import html
import time
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from soar_ext.console.actions import ROUTES as ACTION_ROUTES
from soar_ext.console.blocks import notice
from soar_ext.console.runtime import ConsoleRuntime
from soar_ext.console.screens import all_screens
from soar_ext.console.templating import make_environment
from soar_ext.console.web import SESSION_OPERATOR, form_text, post_route, redirect, render, return_path, runtime
from soar_ext.errors import InvalidInput
from soar_ext.log_masking import get_logger

log = get_logger(__name__)

SESSION_COOKIE = "soar_console"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
ERROR_TITLES = {400: "请求有误", 403: "无法处理该请求", 404: "页面不存在", 405: "请求方式不正确"}


class SafetyHeaders:
    """Security headers on every answer, no caching of pages (they hold personal data), and the
    server-side time of each answer in ``Server-Timing`` (``app;dur=<ms>``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
                if not str(scope.get("path", "")).startswith("/static/"):
                    headers["Cache-Control"] = "no-store"
                headers.append("Server-Timing", f"app;dur={(time.perf_counter() - started) * 1000:.1f}")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def home(request: Request) -> Response:
    rt = runtime(request)
    return render(
        request,
        "home.html",
        title="首页",
        screens=request.app.state.nav,
        problems=len(rt.startup_problems) + len(rt.load_failures()),
    )


def switch_operator(request: Request, form: FormData) -> Response:
    rt = runtime(request)
    chosen = form_text(form, "operator", limit=64)
    demo = rt.operators.get(chosen or "")
    if demo is None:
        raise InvalidInput("未知的演示操作员，请在列表中选择。")
    request.session[SESSION_OPERATOR] = demo.id
    return redirect(
        request, return_path(request, form), [notice(f"已切换为演示操作员：{demo.operator.name}（{demo.post}）。")]
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = ERROR_TITLES.get(exc.status_code, "出错了")
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else "未找到您要访问的页面或记录。"
    if exc.status_code == 405:
        detail = "该地址不接受这种请求方式；修改数据的操作请通过页面上的按钮提交。"
    return render(request, "error.html", title=title, status_code=exc.status_code, message=detail)


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("console request %s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    page = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>系统出错</title>"
        "<link rel='stylesheet' href='/static/console.css'></head><body><main class='error-page'>"
        "<h1>系统出错</h1><p>处理请求时出现内部错误，本次操作未保存。请返回重试；如多次出现，请联系系统管理员。</p>"
        f"<p><a href='/'>返回首页</a></p><p class='muted'>{html.escape(type(exc).__name__)}</p></main></body></html>"
    )
    return HTMLResponse(page, status_code=500)


def create_app(rt: ConsoleRuntime) -> Starlette:
    """The console for ``rt`` (call ``rt.start()`` before serving it)."""
    screens = all_screens()
    routes: list[Any] = [
        Route("/", home, name="home"),
        post_route("/operator", switch_operator, name="operator"),
        *ACTION_ROUTES,
        Mount("/static", StaticFiles(packages=[("soar_ext.console", "static")]), name="static"),
    ]
    for screen in screens:
        routes.extend(screen.routes)
    middleware = [
        Middleware(SafetyHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(rt.settings.allowed_hosts)),
        Middleware(
            SessionMiddleware,
            secret_key=rt.secret.hex(),
            session_cookie=SESSION_COOKIE,
            same_site="strict",
            https_only=False,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.runtime = rt
    app.state.templates = make_environment(rt.actions)
    app.state.nav = screens
    return app
