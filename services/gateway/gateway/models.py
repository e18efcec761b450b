"""ORM tables of the gateway service (schema ``gateway`` on PostgreSQL)."""

from shared.db import make_base
from shared.messaging import messaging_tables

Base = make_base()
messaging = messaging_tables(Base.metadata)
