"""Reading the console's urlencoded forms (up to 1 MiB, whatever the server's body limit)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

FORM_LIMIT = 1024 * 1024
FORM_KEY = web.RequestKey("admin_form", MultiDictProxy)


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The urlencoded body (up to 1 MiB, whatever the server's small body limit), once."""
    cached = request.get(FORM_KEY)
    if cached is not None:
        return cached
    form: MultiDict[str] = MultiDict()
    if request.content_type == "application/x-www-form-urlencoded":
        body = bytearray()
        async for chunk in request.content.iter_chunked(65536):
            body.extend(chunk)
            if len(body) > FORM_LIMIT:
                raise web.HTTPRequestEntityTooLarge(max_size=FORM_LIMIT, actual_size=len(body))
        form.extend(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    proxy = MultiDictProxy(form)
    request[FORM_KEY] = proxy
    return proxy


def text(form: MultiDictProxy[str], name: str, limit: int = 10_000) -> str:
    return str(form.get(name, ""))[:limit]
