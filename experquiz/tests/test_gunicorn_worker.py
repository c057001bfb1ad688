"""The deploy configuration's gunicorn worker (gunicorn.conf.py, experquiz/gunicorn_worker.py), run for
real: gunicorn in a process of its own with 2 workers of 4 threads, on loopback."""

import os
import re
import socket
import sys
import time

import pytest

from experquiz.tests.processes import Process, free_port, wait_until

pytestmark = pytest.mark.slow

WORKERS, THREADS = 2, 4


@pytest.fixture
def gunicorn_server(tmp_path):
    port = free_port()
    server = Process(
        name="gunicorn",
        command=[sys.executable, "-m", "gunicorn", "experquiz.tests.slow_wsgi:application", "--bind",
                 f"127.0.0.1:{port}", "--workers", str(WORKERS), "--log-level", "info"],
        env={**os.environ, "GUNICORN_THREADS": str(THREADS)},
        log_path=tmp_path / "gunicorn.log",
    )  # fmt: skip
    server.start()
    try:
        # Both workers started, then a second for them to load the (tiny) application.
        wait_until(
            lambda: len(re.findall(r"Booting worker with pid", server.log())) >= WORKERS,
            timeout=30,
            message=f"{WORKERS} gunicorn workers:\n{server.log()}",
        )
        time.sleep(1.0)
        yield port, server
    finally:
        server.stop()


def _answer(sock) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE).group(1))
    while len(body) < length:
        body += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


def test_connections_arriving_together_are_shared_by_the_workers_and_kept(gunicorn_server):
    """gthread's own workers took every connection they were offered, whether or not a thread was
    free: of eight arriving at once, one worker often took five or more (nearly all, under the link
    pages' benchmark) and kept them (keep-alive) while the other had threads idle. Each worker now takes
    only as many as it has free threads, the rest wait for another: four each, every time.

    Six sets of eight connections, two requests on each (the second goes to the worker that kept it),
    each request holding its thread for 0.3 s of work."""
    port, server = gunicorn_server
    for _ in range(6):
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(WORKERS * THREADS)]
        try:
            for _ in range(2):
                for sock in connections:
                    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Hold: 0.3\r\n\r\n")
                served = [_answer(sock) for sock in connections]
                by_worker = {pid: served.count(pid) for pid in set(served)}
                assert sorted(by_worker.values()) == [THREADS] * WORKERS, (by_worker, server.log()[-2000:])
        finally:
            for sock in connections:
                sock.close()
