"""Queue a task that the request must neither wait for nor learn anything from.

Some work must not show in the response, not even in how long it takes: looking up whether the
account behind a forgotten-password request exists, then sending it a link. With a broker, a Celery
worker does it. On the embedded default (no broker, tasks run in-process) running it inside the
request would answer known accounts later than unknown ones, so it runs in a thread of its own,
started once the response has been sent (before that, even a thread would compete with the
response for the interpreter, and show in its timing).
"""

import contextvars
import logging
import threading

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections, transaction

logger = logging.getLogger(__name__)

# Tasks waiting for the end of the current request, per request thread (None outside a request).
_after_response = threading.local()


def enqueue_detached(task, *args) -> None:
    """Queue `task(*args)` once the current transaction commits, outside the request.

    A broker that is down is logged, not raised: the request has answered the same way whatever
    happens to the task, and must go on doing so.
    """

    def publish():
        if task.app.conf.task_always_eager and settings.EMBEDDED_TASKS_IN_BACKGROUND:
            # The thread runs in a copy of this context: the request id goes into its log lines.
            context = contextvars.copy_context()
            waiting = getattr(_after_response, "tasks", None)
            if waiting is None:  # not in a request (a command, a shell): nothing to wait for
                _start_thread(task, args, context)
            else:
                waiting.append((task, args, context))
            return
        from kombu.exceptions import OperationalError

        try:
            task.delay(*args)
        except OperationalError:
            logger.error("Broker unavailable: task %s was not queued", task.name)

    transaction.on_commit(publish)


def _start_thread(task, args, context):
    threading.Thread(target=context.run, args=(_run_here, task, args), name=f"task {task.name}", daemon=True).start()


def _run_here(task, args):
    try:
        task.apply(args=args)
    except Exception:
        logger.exception("Task %s failed", task.name)
    finally:
        # This thread's own database connection: nobody else would ever close it.
        connections.close_all()


def _request_started(**kwargs):
    _after_response.tasks = []


def _request_finished(**kwargs):
    # Sent when the server closes the response, after its last byte went out.
    waiting, _after_response.tasks = getattr(_after_response, "tasks", None), None
    for task, args, context in waiting or ():
        _start_thread(task, args, context)


def connect_signals():
    request_started.connect(_request_started, dispatch_uid="experquiz.queueing.started")
    request_finished.connect(_request_finished, dispatch_uid="experquiz.queueing.finished")
