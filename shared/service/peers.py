"""Calls from one service to another's REST API, on behalf of a tenant.

A service never reads another's tables; when an event is not enough it calls the owner's API with an
internal token for the tenant (subject ``service:<caller>``). In the distributed mode the peer is reached at
``EXEML_<PEER>_URL`` (``settings.<peer>_url``); in the embedded mode and in tests the peer's app is
registered in-process (:meth:`Peers.register_app`) and reached through ``httpx.ASGITransport``.

Errors map to ours: a transport failure or a 5xx is :class:`PeerUnavailable` (503, retryable); a 4xx
from the peer is re-raised as an :class:`ExeMLError` of the same status, with the peer's code and message.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import INTERNAL_TOKEN_HEADER, Principal, TokenCodec
from shared.context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, current_context
from shared.errors import ErrorDetail, ExeMLError, InvalidInput, PeerUnavailable
from shared.settings import ServiceSettings

__all__ = ["PEER_NAMES", "PeerError", "Peers"]

PEER_NAMES = ("dataset", "labeling", "trainer", "registry", "inference", "workflow")


class PeerError(ExeMLError):
    """A 4xx answer of a peer service, carried through with its status and body."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        self.status_code = status_code  # type: ignore[misc]  # the peer's status, not the class default
        details = [
            ErrorDetail(
                rule=str(d.get("rule", "")),
                msg=str(d.get("msg", "")),
                field=d.get("field"),
                file=d.get("file"),
                value=d.get("value"),
            )
            for d in body.get("details", [])
            if isinstance(d, dict)
        ]
        super().__init__(
            str(body.get("error_msg", "peer service refused the request")),
            details=details,
            error_code=str(body.get("error_code", InvalidInput.default_code)),
        )


class Peers:
    """HTTP clients to the other services, one per peer, created on first use."""

    def __init__(self, caller: str, settings: ServiceSettings, token_codec: TokenCodec) -> None:
        self.caller = caller
        self._settings = settings
        self._codec = token_codec
        self._clients: dict[str, httpx.AsyncClient] = {}

    def register_app(self, peer: str, app: Any) -> None:
        """Reach ``peer`` in-process (embedded mode, tests): ``app`` is its ASGI application."""
        self._clients[peer] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://{peer}",
            timeout=self._settings.request_timeout_seconds,
        )

    def client(self, peer: str) -> httpx.AsyncClient:
        if peer not in self._clients:
            url = getattr(self._settings, f"{peer}_url", None)
            if not url:
                raise PeerUnavailable(f"service {peer} is not configured: set EXEML_{peer.upper()}_URL")
            self._clients[peer] = httpx.AsyncClient(
                base_url=url, timeout=self._settings.request_timeout_seconds
            )
        return self._clients[peer]

    def headers(self, tenant_id: str) -> dict[str, str]:
        ctx = current_context()
        principal = Principal(tenant_id=tenant_id, subject=f"service:{self.caller}", roles=("admin",))
        headers = {INTERNAL_TOKEN_HEADER: self._codec.issue(principal)}
        if ctx.request_id:
            headers[REQUEST_ID_HEADER] = ctx.request_id
        if ctx.correlation_id:
            headers[CORRELATION_ID_HEADER] = ctx.correlation_id
        return headers

    async def request(
        self,
        peer: str,
        method: str,
        path: str,
        *,
        tenant_id: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        files: Any = None,
        data: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request; return the 2xx response or raise (see the module docstring)."""
        try:
            response = await self.client(peer).request(
                method,
                path,
                headers=self.headers(tenant_id),
                json=json,
                params=params,
                content=content,
                files=files,
                data=data,
            )
        except httpx.TransportError as exc:
            raise PeerUnavailable(f"service {peer} unreachable: {exc!r}") from exc
        if response.status_code >= 500:
            raise PeerUnavailable(f"service {peer} failed: {response.status_code} {response.text[:300]}")
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"error_msg": response.text[:300]}
            raise PeerError(
                response.status_code, body if isinstance(body, dict) else {"error_msg": str(body)}
            )
        return response

    async def get_json(
        self, peer: str, path: str, *, tenant_id: str, params: dict[str, Any] | None = None
    ) -> Any:
        return (await self.request(peer, "GET", path, tenant_id=tenant_id, params=params)).json()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
