"""Recording that someone took results out of the product (the results pages' CSV and Excel files)."""

from django.db import transaction
from django.utils.translation import gettext as _

from audit.models import Action
from audit.services import audit_record
from experquiz import authorization
from rights.names import Right


@transaction.atomic
def results_export_record(*, questionnaire, actor, fmt: str, filters: dict, rows: int) -> None:
    """Record that `actor` downloaded the results of `questionnaire` (which filters, how many rows): the
    file holds people's scores, so the trail says who took what. The rows are the actor's own scope, so
    holding view_results over anyone is the right it takes."""
    authorization.require_right(actor, Right.VIEW_RESULTS, organization_id=questionnaire.organization_id)
    audit_record(
        organization=questionnaire.organization_id,
        actor=actor,
        action=Action.EXPORT_DOWNLOADED,
        target=questionnaire,
        label=_("Results of “%(title)s”") % {"title": questionnaire.title},
        after={"list": "results", "format": fmt, "filters": filters, "rows": rows},
    )
