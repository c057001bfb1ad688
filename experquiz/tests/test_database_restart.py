"""A kept database connection that the server closed (a restart, a terminated backend) costs no failed
request, and checking a kept connection before a request sends no query (experquiz/postgresql)."""

import io
import sys
import time
from unittest import mock

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's kept connections")


def get(handler, path, host="acme.localhost"):
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": host,
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": host, "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }  # fmt: skip
    statuses = []
    body = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(body)
    body.close()  # request_finished: the connection is kept (CONN_MAX_AGE)
    return int(statuses[0].split()[0])


@pytest.fixture
def kept_connections():
    """Production's settings: connections kept between requests and checked before reuse."""
    saved = {key: connection.settings_dict[key] for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS")}
    connection.close()
    connection.settings_dict.update(CONN_MAX_AGE=300, CONN_HEALTH_CHECKS=True)
    yield
    connection.close()
    connection.settings_dict.update(saved)


def terminate(backend_pid):
    """What a restart does to every backend (SIGTERM: a FATAL message, then the socket closes)."""
    dsn = connection.get_connection_params()
    dsn.pop("cursor_factory", None)
    dsn.pop("context", None)
    dsn.pop("prepare_threshold", None)
    with psycopg.connect(**dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
        for _ in range(100):
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend_pid]).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError("the backend did not stop")


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_between_requests_costs_no_failed_request(acme, kept_connections):
    handler = WSGIHandler()
    assert get(handler, "/login/") == 200
    kept = connection.connection.info.backend_pid
    assert get(handler, "/login/") == 200
    assert connection.connection.info.backend_pid == kept  # kept between requests

    terminate(kept)

    assert get(handler, "/login/") == 200
    assert connection.connection.info.backend_pid != kept


@pytest.mark.django_db(transaction=True)
def test_checking_a_kept_connection_sends_no_query(acme, kept_connections):
    handler = WSGIHandler()
    assert get(handler, "/login/") == 200
    kept = connection.connection
    connection.health_check_done = False  # as at the start of the next request
    with (
        mock.patch.object(psycopg.Connection, "execute", side_effect=AssertionError("a query")) as execute,
        mock.patch.object(psycopg.Connection, "cursor", side_effect=AssertionError("a query")) as cursor,
    ):
        connection.close_if_health_check_failed()
    assert execute.call_count == cursor.call_count == 0
    assert connection.connection is kept
