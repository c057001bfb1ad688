from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from accounts.services import import_files_purge


class Command(BaseCommand):
    help = (
        "Delete the files of imports never applied a day after their upload (Celery beat does it every hour; "
        "this is for deployments without beat)."
    )

    def handle(self, *args, **options):
        count = import_files_purge()
        self.stdout.write(
            ngettext("%(count)d import file deleted.", "%(count)d import files deleted.", count) % {"count": count}
        )
