"""gunicorn's settings wherever it serves this code (it reads ./gunicorn.conf.py by itself; the command
line wins): `gunicorn experquiz.wsgi --bind … --workers N`.

Threaded workers (gthread): each of the N worker processes answers up to GUNICORN_THREADS requests at
once and keeps a client's connection open between its requests (HTTP keep-alive). Sync workers close
every connection after one answer, so each request paid a new TCP connection, and a worker stood idle
while its request waited for PostgreSQL or Redis. Python runs one thread of a process at a time: N
workers still use at most N cores for Python (bench/README.md, the link pages).

The worker class is gthread's, taking a new connection only while one of its threads is free
(experquiz/gunicorn_worker.py): gthread's workers take every connection offered, and kept connections
then stayed with whichever worker woke first, sometimes all of them, the others idle.

Once a worker has loaded the application, its objects (Django, the URL patterns, the templates'
code…) are set aside from the garbage collector (`gc.freeze()`): they live as long as the process,
and a full collection walked every one of them, a pause of tens of milliseconds that fell on
whichever request was running.
"""

import gc
import os

worker_class = "experquiz.gunicorn_worker.BalancedThreadWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5  # seconds a kept connection may wait for its next request


def post_worker_init(worker):
    gc.collect()  # what the loading left behind is not kept for the process's life
    gc.freeze()
