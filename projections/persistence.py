"""eventsourcing_sqlalchemy, tuned for a registry that must not lose an acknowledged write.

The library builds one SQLAlchemy engine per application; the read tables live in the same
database and are written in the same transactions, so there is one engine per process.
On SQLite every connection gets WAL (readers never block the writer), ``synchronous=FULL``
(a commit is on disk before it returns) and a generous busy timeout (several processes may
write to one file).
"""

from __future__ import annotations

from typing import Any

from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy import event

from .engine import sqlite_pragmas


class Datastore(SQLAlchemyDatastore):
    """The library's datastore, with durable SQLite settings on every connection."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.engine is not None and self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", sqlite_pragmas)
            self.engine.dispose()  # connections opened before the listener lack the pragmas


class Factory(SQLAlchemyFactory):
    """Selected by ``PERSISTENCE_MODULE=projections.persistence:Factory``."""

    datastore_class = Datastore
