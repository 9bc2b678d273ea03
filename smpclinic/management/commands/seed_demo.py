from django.core.management.base import BaseCommand

from smpclinic.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo clinic (locations, technicians, catalogue, clients). Safe to run again."

    def handle(self, *args, **options):
        report = seed_demo()
        if report.created:
            self.stdout.write(self.style.SUCCESS("Demo clinic seeded."))
        else:
            self.stdout.write("Demo clinic already present: nothing changed.")
