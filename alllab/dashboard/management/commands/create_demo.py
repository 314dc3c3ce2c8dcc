"""``manage.py create_demo``: a demo lab, one user per role, and a case with the BCCD sample smears.

Running it again changes nothing: every object is looked up by its natural key first, and slides are only added to
a case that has none.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from alllab.accounts.models import Lab, Membership
from alllab.accounts.scope import scope_for_user
from alllab.accounts.services import lab_create, user_create
from alllab.analysis.intake import slide_create
from alllab.cases.models import Case
from alllab.cases.services import case_create

DEMO_LAB_SLUG = "demo"
DEMO_PASSWORD = "alllab-demo"  # printed on every run; demo data only, never on a real lab's server
DEMO_USERS = [
    ("technician", Membership.Role.TECHNICIAN),
    ("pathologist", Membership.Role.PATHOLOGIST),
    ("labadmin", Membership.Role.LAB_ADMIN),
]
DEMO_IMAGES = Path(settings.BASE_DIR) / "demo" / "bccd"
DEMO_ACCESSION = "DEMO-0001"


class Command(BaseCommand):
    help = "Create the demo lab, its users and a case with the BCCD sample images (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        lab = Lab.objects.filter(slug=DEMO_LAB_SLUG).first() or lab_create(name="Demo lab", slug=DEMO_LAB_SLUG)
        users = {}
        User = get_user_model()
        for username, role in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(username=username, password=DEMO_PASSWORD, lab=lab, role=role)
            users[role] = user
        case = Case.objects.filter(lab=lab, accession_number=DEMO_ACCESSION).first()
        if case is None:
            case = case_create(
                scope=scope_for_user(users[Membership.Role.TECHNICIAN]),
                lab=lab,
                accession_number=DEMO_ACCESSION,
                patient_pseudonym="DEMO-PATIENT-1",
                created_by=users[Membership.Role.TECHNICIAN],
            )
        if not case.slides.exists():
            for path in sorted(DEMO_IMAGES.glob("*.jpg")):
                upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/jpeg")
                technician = users[Membership.Role.TECHNICIAN]
                slide_create(scope=scope_for_user(technician), case=case, uploaded_file=upload, uploaded_by=technician)
        self.stdout.write(f"Demo lab '{lab.slug}', case {case.accession_number} ({case.slides.count()} slides).")
        self.stdout.write("Demo logins (password for all: " + DEMO_PASSWORD + "):")
        for username, role in DEMO_USERS:
            self.stdout.write(f"  {username:<12} {Membership.Role(role).label}")
