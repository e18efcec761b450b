"""``/v1/webhooks``: register, list and delete webhooks, and list a webhook's deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gateway.keys import PrincipalDep, authenticate, require_admin
from gateway.webhooks.schemas import (
    DeliveryList,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
)
from gateway.webhooks.service import WebhookService
from shared.service import tenant_service
from shared.service.params import Offset, limit_query

__all__ = ["router"]

# Tagged with events too: webhooks are the other way to receive them.
router = APIRouter(prefix="/v1/webhooks", tags=["events", "webhooks"])
ServiceDep = Annotated[WebhookService, Depends(tenant_service(WebhookService, authenticate))]
PageLimit = Annotated[int, limit_query(100, 1000)]


@router.post("", status_code=201, response_model=WebhookCreated, summary="Register a webhook (admins)")
async def create_webhook(body: WebhookCreate, principal: PrincipalDep, service: ServiceDep) -> WebhookCreated:
    """Events of the matching types are POSTed to `url` as CloudEvents JSON, signed with the returned
    secret (`X-ExeML-Signature: sha256=<hex HMAC of the body>`), retried with backoff until a 2xx.
    Redirects are not followed. `url` must be a public internet address: loopback, private, link-local,
    multicast and reserved destinations (and names such as `localhost` or `*.internal`) are refused with
    400, here and again at each delivery, unless the operator allows them."""
    require_admin(principal)
    hook = await service.create(body)
    return WebhookCreated(**WebhookRead.model_validate(hook).model_dump(), secret=hook.secret)


@router.get("", summary="List webhooks", response_model=WebhookList)
async def list_webhooks(service: ServiceDep, offset: Offset = 0, limit: PageLimit = 100) -> WebhookList:
    """The tenant's webhooks, newest first (secrets are not shown again); `total` counts them all."""
    page = await service.search(offset=offset, limit=limit)
    return WebhookList(items=[WebhookRead.model_validate(h) for h in page.items], total=page.total)


@router.get("/{webhook_id}/deliveries", summary="Deliveries of a webhook", response_model=DeliveryList)
async def list_deliveries(
    webhook_id: str, service: ServiceDep, offset: Offset = 0, limit: PageLimit = 100
) -> DeliveryList:
    """The webhook's deliveries, latest first, with their status, attempts and last error; `total` counts
    them all."""
    page = await service.deliveries_of(webhook_id, offset=offset, limit=limit)
    return DeliveryList(items=[DeliveryRead.model_validate(d) for d in page.items], total=page.total)


@router.delete("/{webhook_id}", status_code=204, summary="Delete a webhook")
async def delete_webhook(webhook_id: str, principal: PrincipalDep, service: ServiceDep) -> None:
    """Stop deliveries to this webhook and forget it (admins)."""
    require_admin(principal)
    await service.delete(webhook_id)
