"""Posting webhook deliveries: a background loop takes due deliveries, signs each body with HMAC-SHA256 under
the webhook's secret (``X-ExeML-Signature: sha256=<hex>``), posts it to the address just vetted, and retries
failures with exponential backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import timedelta

import httpx

from gateway.config import Settings
from gateway.destinations import DestinationPolicy, DestinationRefused
from gateway.models import DeliveryStatus, Webhook, WebhookDelivery
from gateway.webhooks.repository import lock_due_deliveries
from shared.db.base import utcnow
from shared.logging import get_logger
from shared.service import ServiceRuntime

__all__ = ["SIGNATURE_HEADER", "deliver_webhooks", "destination_policy", "sign"]

log = get_logger(__name__)
SIGNATURE_HEADER = "X-ExeML-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def destination_policy(settings: Settings) -> DestinationPolicy:
    """Read at each use, so an operator's change of the allow-list applies to the next delivery."""
    return DestinationPolicy(settings.webhook_allowed_destinations)


async def deliver_webhooks(runtime: ServiceRuntime[Settings], stop: asyncio.Event) -> None:
    """Post due deliveries until ``stop``; retry with exponential backoff up to the attempt limit."""
    settings = runtime.settings
    # Each request goes to the address just vetted (no proxy from the environment, no redirect followed) on a
    # fresh connection: a pooled TLS connection made for one host name must not carry another's request.
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        while not stop.is_set():
            try:
                delivered = await _deliver_due(runtime, client)
            except Exception as exc:  # noqa: BLE001  # the loop must survive a database hiccup
                log.warning("webhook delivery round failed", error=repr(exc))
                delivered = 0
            if not delivered:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=0.5)
                except TimeoutError:
                    pass


async def _deliver_due(runtime: ServiceRuntime[Settings], client: httpx.AsyncClient) -> int:
    """One round, in one transaction: the attempts' outcomes are committed with the lock released."""
    async with runtime.db.session() as session:
        due = await lock_due_deliveries(session)
        policy = destination_policy(runtime.settings)
        for delivery, hook in due:
            await _attempt(client, policy, delivery, hook, runtime.settings)
        return len(due)


async def _attempt(
    client: httpx.AsyncClient,
    policy: DestinationPolicy,
    delivery: WebhookDelivery,
    hook: Webhook,
    settings: Settings,
) -> None:
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/cloudevents+json",
        SIGNATURE_HEADER: sign(hook.secret, body),
        "X-ExeML-Event-Type": delivery.event_type,
        "X-ExeML-Delivery": delivery.id,
    }
    delivery.attempts += 1
    try:
        target = await policy.vet(hook.url)  # checked again now: DNS answers and the allow-list change
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
        response = await client.post(
            target.url, content=body, headers=headers | {"Host": target.host_header}, extensions=extensions
        )
        delivery.response_status = response.status_code
        ok, error = response.is_success, None if response.is_success else f"HTTP {response.status_code}"
    except DestinationRefused as exc:
        if exc.rule != "webhook_host_unresolved":  # refused, not merely unreachable: no retry
            delivery.status, delivery.last_error = DeliveryStatus.FAILED, f"{exc.rule}: {exc.error_msg}"[:500]
            return
        ok, error = False, f"{exc.rule}: {exc.error_msg}"[:500]
    except httpx.HTTPError as exc:
        ok, error = False, repr(exc)[:500]
    if ok:
        delivery.status, delivery.last_error = DeliveryStatus.DELIVERED, None
    elif delivery.attempts >= settings.webhook_max_attempts:
        delivery.status, delivery.last_error = DeliveryStatus.FAILED, error
    else:
        delay = settings.webhook_backoff_seconds * 2 ** (delivery.attempts - 1)
        delivery.last_error, delivery.next_attempt_at = error, utcnow() + timedelta(seconds=delay)
