from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = _("Assessments")

    def ready(self):
        from invitations.messages import register_builder
        from invitations.models import Invitation

        from .messages import AssessmentMessages

        # The invitations floor sends assessment messages; what they say is known here (a hook).
        register_builder(Invitation.Kind.ASSESSMENT, AssessmentMessages())
