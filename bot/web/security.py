"""Sessions, CSRF and headers for every console request; the login and logout pages.

- The session cookie ``bot_admin`` holds a random token (the database keeps only its hash):
  ``HttpOnly``, ``SameSite=Strict``, ``Path=/admin``, ``Secure`` when served over HTTPS (or
  always, ``admin.secure_cookie: true``). The webhook secret is not needed; the server's IP
  allow-list still applies (its middleware runs first).
- CSRF: every POST carries the session's token (form field ``_csrf`` or header
  ``X-CSRF-Token``) and, when the browser sends ``Origin``, it must be this server. The login
  form uses a double-submit cookie. A multipart form (the catalog upload) is checked by its
  handler, whose first form field is ``_csrf`` (the body is streamed, never buffered).
- Lockout and hashing: :mod:`bot.web.accounts`. Log lines never carry names or passwords.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot.web.accounts import Accounts, Session
from bot.web.forms import read_form
from bot.web.layout import SESSION_KEY, Handler, render
from bot.web.settings import AdminSettings

log = logging.getLogger(__name__)
COOKIE = "bot_admin"
LOGIN_COOKIE = "bot_admin_login"
PUBLIC = ("/admin/login", "/admin/api/")
MULTIPART_PATHS = frozenset({"/admin/catalog/upload"})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; "
        "frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
}


def secure(request: web.Request, settings: AdminSettings) -> bool:
    return settings.secure_cookie if settings.secure_cookie is not None else request.secure


def set_cookie(
    response: web.StreamResponse,
    request: web.Request,
    settings: AdminSettings,
    name: str,
    value: str,
    *,
    path: str = "/admin",
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        max_age=max_age,
        httponly=True,
        samesite="Strict",
        secure=secure(request, settings),
    )


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def _origin_ok(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not sent by this browser (a same-origin GET form, an old browser)
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.host


def csrf_refused(request: web.Request, why: str) -> web.Response:
    log.warning("CSRF check failed", extra={"path": request.path, "why": why})
    return render(request, "csrf.html", {}, status=403)


def session_middleware(accounts: Accounts, settings: AdminSettings) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await _guarded(request, handler)
        except web.HTTPException as exc:
            exc.headers.update(HEADERS)
            raise
        response.headers.update(HEADERS)
        return response

    async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(PUBLIC):
            return await handler(request)
        session = await accounts.session(request.cookies.get(COOKIE, ""))
        if session is None:
            upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
            if request.method in UNSAFE or upgrade:
                raise web.HTTPUnauthorized(text="Сеанс истёк: войдите снова.\n")
            target = request.rel_url.path_qs
            raise web.HTTPSeeOther(f"/admin/login?next={quote(target, safe='')}")
        request[SESSION_KEY] = session
        if request.method in UNSAFE:
            if not _origin_ok(request):
                return csrf_refused(request, "origin")
            if request.content_type.startswith("multipart/"):
                if request.path not in MULTIPART_PATHS:
                    return csrf_refused(request, "multipart")
            else:
                given = request.headers.get("X-CSRF-Token")
                if given is None and request.content_type in (
                    "application/x-www-form-urlencoded",
                    "",
                ):
                    given = (await read_form(request)).get("_csrf")
                if not same_token(given, session.csrf):
                    return csrf_refused(request, "token")
        return await handler(request)

    return middleware


def safe_next(target: str | None) -> str:
    """Only a local console path; anything else goes to the home page."""
    if not target or not target.startswith("/admin") or target.startswith("//"):
        return "/admin/"
    if "\\" in target or "\r" in target or "\n" in target:
        return "/admin/"
    return target


class LoginPages:
    def __init__(self, accounts: Accounts, settings: AdminSettings, audit: object) -> None:
        from bot.web.audit import AuditLog

        assert isinstance(audit, AuditLog)
        self.accounts = accounts
        self.settings = settings
        self.audit = audit

    async def form(self, request: web.Request, error: str = "", status: int = 200) -> web.Response:
        token = secrets.token_urlsafe(24)
        no_users = await self.accounts.count() == 0
        context = {
            "login_csrf": token,
            "error": error,
            "next": safe_next(request.query.get("next")),
            "no_users": no_users,
            "name": "",
        }
        response = render(request, "login.html", context, status=status)
        set_cookie(response, request, self.settings, LOGIN_COOKIE, token, path="/admin/login")
        return response

    async def show(self, request: web.Request) -> web.StreamResponse:
        return await self.form(request)

    async def submit(self, request: web.Request) -> web.StreamResponse:
        form = await read_form(request)
        if not _origin_ok(request) or not same_token(
            str(form.get("_csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
        ):
            log.warning("CSRF check failed", extra={"path": request.path, "why": "login"})
            return await self.form(request, "Форма устарела: попробуйте ещё раз.", 403)
        name = str(form.get("name", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        result = await self.accounts.authenticate(name, password)
        if result.user is None:
            if result.locked_minutes:
                await self.audit.record(
                    name.strip() or "?", "вход заблокирован", remote=request.remote or ""
                )
                error = (
                    "Слишком много неудачных попыток: вход заблокирован на "
                    f"{result.locked_minutes} мин."
                )
            else:
                error = "Неверное имя или пароль."
            return await self.form(request, error, 401)
        token, _session = await self.accounts.open_session(result.user)
        await self.audit.record(result.user.name, "вход", remote=request.remote or "")
        response = web.HTTPSeeOther(safe_next(str(form.get("next", ""))))
        set_cookie(
            response,
            request,
            self.settings,
            COOKIE,
            token,
            max_age=int(self.settings.session_hours * 3600),
        )
        response.del_cookie(LOGIN_COOKIE, path="/admin/login")
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session: Session = request[SESSION_KEY]
        await self.accounts.close_session(request.cookies.get(COOKIE, ""))
        await self.audit.record(session.user.name, "выход", remote=request.remote or "")
        response = web.HTTPSeeOther("/admin/login")
        response.del_cookie(COOKIE, path="/admin")
        raise response
