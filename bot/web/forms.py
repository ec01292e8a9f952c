"""Reading the console's urlencoded forms (up to 1 MiB, whatever the server's body limit)."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from aiohttp import MultipartReader, StreamReader, web
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
        body = bytearray(pre_read(request) or b"")
        if pre_read(request) is None:
            async for chunk in request.content.iter_chunked(65536):
                body.extend(chunk)
                if len(body) > FORM_LIMIT:
                    raise web.HTTPRequestEntityTooLarge(max_size=FORM_LIMIT, actual_size=len(body))
        form.extend(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    proxy = MultiDictProxy(form)
    request[FORM_KEY] = proxy
    return proxy


def pre_read(request: web.Request) -> bytes | None:
    """The body, when a middleware before ours (the server's edge) has read it already."""
    cached = getattr(request, "_read_bytes", None)
    return cached if isinstance(cached, bytes) else None


async def multipart(request: web.Request) -> MultipartReader:
    """A streaming multipart reader, also over a body the edge has read into memory."""
    cached = pre_read(request)
    if cached is None:
        return await request.multipart()
    stream = StreamReader(
        request.protocol, 2 * max(len(cached), 1), loop=asyncio.get_running_loop()
    )
    stream.feed_data(cached)
    stream.feed_eof()
    return MultipartReader(request.headers, stream)


def text(form: MultiDictProxy[str], name: str, limit: int = 10_000) -> str:
    return str(form.get(name, ""))[:limit]
