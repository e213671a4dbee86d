"""An httpx transport that sends the Graph API's requests to another address.

pywa always talks to ``https://graph.facebook.com/v{version}`` (and media downloads go to
``lookaside.fbsbx.com``). With a bot's ``api_base`` set (the emulator, a test double, a
proxy), this transport rewrites those hosts to ``api_base`` - keeping the path and query - and
leaves pywa itself untouched. Without ``api_base`` the client talks to Meta directly.
"""

from __future__ import annotations

import httpx

META_HOSTS = frozenset({"graph.facebook.com", "lookaside.fbsbx.com"})


class RedirectTransport(httpx.AsyncBaseTransport):
    """Forward requests for Meta's hosts to ``api_base`` (``http://127.0.0.1:8082``)."""

    def __init__(self, api_base: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = httpx.URL(api_base.rstrip("/"))
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in META_HOSTS:
            prefix = self._base.path.rstrip("/")
            request.url = request.url.copy_with(
                scheme=self._base.scheme,
                host=self._base.host,
                port=self._base.port,
                path=prefix + request.url.path,
            )
            request.headers["Host"] = self._base.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def graph_session(api_base: str | None, *, timeout_s: float = 30.0) -> httpx.AsyncClient:
    """A fresh ``httpx.AsyncClient`` for one pywa client (pywa refuses shared sessions)."""
    transport = RedirectTransport(api_base) if api_base else None
    return httpx.AsyncClient(transport=transport, timeout=timeout_s)
