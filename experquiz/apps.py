from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExperquizConfig(AppConfig):
    name = "experquiz"
    verbose_name = _("ExperQuiz")

    def ready(self):
        from . import checks, logs, queueing  # noqa: F401  (checks register themselves)

        queueing.connect_signals()
        logs.connect_signals()
