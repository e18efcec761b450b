"""Events for clients that do not speak AMQP: a server-sent-events stream (here) and signed webhooks
(:mod:`gateway.webhooks`).

The gateway's consumer is bound to every event type of ``shared.events`` (:mod:`gateway.consumers`). Each event
is (1) turned into one delivery row per matching webhook, in the same transaction as the inbox claim, so a
delivery is never lost, and (2) handed to the in-process :class:`~gateway.events.hub.EventHub`, which fans it
out to the open ``GET /v1/events`` streams of the event's tenant.

The hub lives in one process: with several gateway replicas a stream sees the events its replica consumed.
"""
