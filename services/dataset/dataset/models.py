"""ORM tables of the dataset service (schema ``dataset`` on PostgreSQL)."""

from shared.db import make_base
from shared.messaging import messaging_tables

Base = make_base()
messaging = messaging_tables(Base.metadata)
