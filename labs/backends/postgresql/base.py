"""Django's PostgreSQL backend with a health check that costs no round trip while the connection is quiet, and
batches that respect the 65,535 parameters of a server-bound statement.

``CONN_HEALTH_CHECKS`` makes Django send ``SELECT 1`` before the first query of every request on a reused
connection: one more round trip per request, 13 % of a booking create's time under load (bench/bookings.py,
py-spy). When PostgreSQL ends a connection (a restart, a failover, ``pg_terminate_backend``) it tells the client
and closes the socket, so an idle connection it ended has something to read. Here the health check first looks at
the socket without waiting: nothing to read on an idle, unbroken connection means nothing has happened to it, and
the request goes on; anything else (data waiting, a transaction left open, a connection psycopg knows is broken)
runs Django's own check, which closes a dead connection so the request opens a new one.

Statements that match a column against a whole list (``field__any``, labs/lookups.py) are not prepared: PostgreSQL
plans each with the list in hand. A generic plan cannot hash the list and keeps the plan made for the table's size
when it was made; the lookup's docstring has the figures.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base, features, operations
from django.utils.functional import cached_property
from psycopg import pq

from labs.lookups import ARRAY_PARAMETER

# With parameters bound by the server (DATABASE_PREPARED_STATEMENTS) a statement carries at most 65,535 of them (the
# protocol's 16-bit count); Django knows that limit for SQLite, not here, and would send a bulk_create of 8,000
# ten-column rows as one statement PostgreSQL refuses.
MAX_QUERY_PARAMS = 65_535


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self):  # QuerySet.in_bulk() batches by it
        return MAX_QUERY_PARAMS if self.uses_server_side_binding else None


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        """bulk_create() and the deletion collector batch by it."""
        if not self.connection.features.uses_server_side_binding:
            return super().bulk_batch_size(fields, objs)
        return max(1, min(len(objs), MAX_QUERY_PARAMS // max(1, len(fields))))


class ServerBindingCursor(base.ServerBindingCursor):
    """Django's cursor for server-bound parameters, which leaves the statements with a list parameter unprepared."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if prepare is None and isinstance(query, str) and ARRAY_PARAMETER in query:
            prepare = False
        return super().execute(query, params, prepare=prepare, binary=binary)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations

    def get_connection_params(self):
        params = super().get_connection_params()
        if params.get("cursor_factory") is base.ServerBindingCursor:
            params["cursor_factory"] = ServerBindingCursor
        return params

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and self._quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _quiet(self) -> bool:
        """Idle, not known to be broken, and nothing from the server waiting to be read."""
        connection = self.connection
        if connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:  # poll(), not select(): a process holding over 1,023 descriptors would fail select() every time
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
