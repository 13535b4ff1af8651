"""Run every logged erasure again: after restoring a backup taken before some erasures, their people are erased
again (under the same pseudonyms) before anyone uses the restored data. The erasures the restored database does not
know are read from settings.ERASURE_LOG_FILE (or --file), which lives outside the database's backups."""

from django.conf import settings
from django.core.management.base import BaseCommand

from labs import services_privacy


class Command(BaseCommand):
    help = "Erase again every person in the erasure log and the erasure file (run after restoring a backup)."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=None, help="The JSON-lines erasure file (default: ERASURE_LOG_FILE).")

    def handle(self, *args, **options):
        entries = services_privacy.erasure_file_entries(options["file"] or settings.ERASURE_LOG_FILE)
        count = services_privacy.erasures_replay(file_entries=entries)
        self.stdout.write(f"{count} erasures replayed")
