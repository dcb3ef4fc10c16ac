"""Upsert the django-q2 schedules declared in ``revops.schedules`` by name (run on deploy and by make run)."""

from django.core.management.base import BaseCommand

from revops.schedules import sync_schedules


class Command(BaseCommand):
    help = "Create or update the background job schedules by name; remove retired ones."

    def handle(self, *args, **options):
        created, updated, removed = sync_schedules()
        self.stdout.write(f"schedules: {created} created, {updated} updated, {removed} removed")
