"""Run every logged erasure again: after restoring a backup taken before some erasures, their people are erased
again (under the same pseudonyms) before anyone uses the restored data."""

from django.core.management.base import BaseCommand

from labs import services_privacy


class Command(BaseCommand):
    help = "Erase again every person in the erasure log (run after restoring a backup)."

    def handle(self, *args, **options):
        count = services_privacy.erasures_replay()
        self.stdout.write(f"{count} erasures replayed")
