"""Queue a task that the request must neither wait for nor learn anything from.

Some work must not show in the response, not even in how long it takes: looking up whether the
account behind a forgotten-password request exists, then sending it a link. With a broker, a Celery
worker does it. On the embedded default (no broker, tasks run in-process) running it inside the
request would answer known accounts later than unknown ones, so it runs in a thread of its own,
started once the transaction commits, while the response goes out.
"""

import logging
import threading

from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger(__name__)


def enqueue_detached(task, *args) -> None:
    """Queue `task(*args)` once the current transaction commits, outside the request.

    A broker that is down is logged, not raised: the request has answered the same way whatever
    happens to the task, and must go on doing so.
    """

    def publish():
        if task.app.conf.task_always_eager and settings.EMBEDDED_TASKS_IN_BACKGROUND:
            threading.Thread(target=_run_here, args=(task, args), name=f"task {task.name}", daemon=True).start()
            return
        from kombu.exceptions import OperationalError

        try:
            task.delay(*args)
        except OperationalError:
            logger.error("Broker unavailable: task %s was not queued", task.name)

    transaction.on_commit(publish)


def _run_here(task, args):
    try:
        task.apply(args=args)
    except Exception:
        logger.exception("Task %s failed", task.name)
    finally:
        # This thread's own database connection: nobody else would ever close it.
        connections.close_all()
