"""Django's PostgreSQL backend, with a health check of a kept connection that costs no round trip.

With persistent connections (CONN_MAX_AGE) and CONN_HEALTH_CHECKS, Django checks a connection before
its first use in each request by sending `SELECT 1`: a round trip to the database on every request,
as costly as the link pages' own reads. A connection that the server closed (a restart, a backend
terminated, an idle timeout) has had something written to it that nobody asked for: the server's
last error message, then the end of the stream. Between requests an idle connection waits for
nothing, so a socket with anything to read, a connection psycopg knows to be broken, or one not idle
is closed here, and the request opens a new one: a database restart still costs no failed request
(experquiz/tests/test_database_restart.py). A server gone without a word (a host powered off) is
found by the first query, as it was by `SELECT 1`.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.broken or connection.closed:
            return False
        if connection.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        poller = select.poll()
        try:
            poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
            # Nothing to read, no error, no hang-up: the server still holds the connection open.
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
