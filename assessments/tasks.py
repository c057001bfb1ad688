"""Assessment work that runs without anyone asking: beat submits the attempts whose time is up."""

from celery import shared_task

from .invited import attempts_submit_overdue as submit_overdue


@shared_task(name="assessments.tasks.attempts_submit_overdue")
def attempts_submit_overdue():
    """Every minute: attempts whose time limit passed or whose invitation closed are submitted as they stand."""
    return submit_overdue()
