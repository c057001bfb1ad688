"""Structured logs: one JSON object per line in production, with the request id of what caused it.

The request id is the one the request context holds (experquiz.request_context): set by the
middleware for a request, and carried into the Celery tasks the request enqueues through a header of
their message (`before_task_publish`), restored around the task in the worker (`task_prerun` /
`task_postrun`). So the lines a request logs and those its tasks log in a worker share one id, the
same one the answer carries in X-Request-ID and the audit trail records.
"""

import logging

from celery import signals

from . import request_context

TASK_HEADER = "experquiz_request_id"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (empty outside a request or a task it caused) to every record a handler emits."""

    def filter(self, record):
        if not getattr(record, "request_id", ""):
            record.request_id = request_context.current().request_id
        return True


def _add_request_id(headers=None, **kwargs):
    request_id = request_context.current().request_id
    if request_id and headers is not None:
        headers[TASK_HEADER] = request_id


# task id → the token that restores the worker's context after the task
_restore = {}


def _task_started(task_id=None, task=None, **kwargs):
    request_id = getattr(task.request, TASK_HEADER, None) if task is not None else None
    if request_id and task_id:
        _restore[task_id] = request_context.enter(request_id=request_id)


def _task_finished(task_id=None, **kwargs):
    token = _restore.pop(task_id, None)
    if token is not None:
        request_context.leave(token)


def connect_signals():
    signals.before_task_publish.connect(_add_request_id, dispatch_uid="experquiz.logs.publish", weak=False)
    signals.task_prerun.connect(_task_started, dispatch_uid="experquiz.logs.prerun", weak=False)
    signals.task_postrun.connect(_task_finished, dispatch_uid="experquiz.logs.postrun", weak=False)
