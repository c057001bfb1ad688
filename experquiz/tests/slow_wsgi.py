"""For experquiz/tests/test_gunicorn_worker.py only: a WSGI application whose every answer holds the
interpreter for a while (`X-Hold` seconds, 0.3 by default), as rendering a page does, and says which
process gave it."""

import os
import time


def application(environ, start_response):
    deadline = time.monotonic() + float(environ.get("HTTP_X_HOLD", "0.3"))
    while time.monotonic() < deadline:
        pass
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
