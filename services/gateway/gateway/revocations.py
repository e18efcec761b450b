"""Every gateway API process hears of revoked API keys at once, wherever they were revoked.

The gateway's durable consumer (``gateway.drop_revoked_key``) runs where the gateway's consumers run: the
embedded process, or the distributed mode's ``gateway.worker``, which answers no request. An API process of
the distributed mode (one of several replicas behind a load balancer) runs no consumer, so it subscribes a
queue of its own to ``gateway.api_key.revoked.v1`` (exclusive, gone with the process) and drops each revoked
key from its cache of verified keys (:class:`~gateway.verified_keys.VerifiedKeys`) as the event arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.verified_keys import VerifiedKeys
from shared.events.gateway import ApiKeyRevoked
from shared.logging import get_logger
from shared.messaging import Delivery, Subscription
from shared.messaging.envelope import EnvelopeError, decode_envelope
from shared.service import ServiceRuntime

__all__ = ["hear_revocations"]

log = get_logger(__name__)


@asynccontextmanager
async def hear_revocations(runtime: ServiceRuntime, background: bool) -> AsyncIterator[None]:
    """The gateway's lifespan: in a process without the gateway's consumers, a subscription to revocations.

    A bus that cannot be reached leaves the process serving: revoked keys then leave its cache within
    ``key_cache_seconds``, as before this subscription existed."""
    if background:  # the durable consumer of this process drops revoked keys
        yield
        return
    subscription = await _subscribe(runtime)
    try:
        yield
    finally:
        if subscription is not None:
            await subscription.cancel()
            await runtime.transport.close()


async def _subscribe(runtime: ServiceRuntime) -> Subscription | None:
    verified = runtime.component(VerifiedKeys)

    async def drop(delivery: Delivery) -> None:
        try:
            verified.revoke(decode_envelope(delivery.body).typed(ApiKeyRevoked).data.key_id)
        except EnvelopeError as exc:
            log.warning("ignoring an undecodable revocation", error=str(exc))
        await delivery.ack()

    try:
        await runtime.transport.connect()
        return await runtime.transport.subscribe_broadcast((ApiKeyRevoked.event_type,), drop)
    except Exception as exc:  # noqa: BLE001  # the API serves without it (see hear_revocations)
        log.warning("revocations are not heard: revoked keys leave the cache by age", error=repr(exc))
        await runtime.transport.close()
        return None
