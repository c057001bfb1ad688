"""For experquiz/tests/test_gunicorn_worker.py only: a WSGI application whose every answer takes a
while (its thread sleeps, as one waiting for the database would) and says which process gave it."""

import os
import time


def application(environ, start_response):
    hold = float(environ.get("HTTP_X_HOLD", "0.3"))
    if environ.get("HTTP_X_WORK") == "cpu":  # holding the interpreter, as rendering a page does
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            pass
    else:  # waiting, as for the database
        time.sleep(hold)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
