"""factory_boy factories for the web app's models (shared by the app's and the API's tests)."""

from __future__ import annotations

import hashlib

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from alllab.accounts.models import Lab, Membership
from alllab.analysis.models import AnalysisRun, Cell
from alllab.cases.models import Case, Slide
from tests.alllab.smear import smear_png

PASSWORD = "correct-horse-battery"


class LabFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lab
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Lab {n}")
    slug = factory.Sequence(lambda n: f"lab-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    lab = factory.SubFactory(LabFactory)
    role = Membership.Role.TECHNICIAN


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    lab = factory.SubFactory(LabFactory)
    accession_number = factory.Sequence(lambda n: f"ACC-{n:05d}")
    patient_pseudonym = factory.Sequence(lambda n: f"PSN-{n}")
    created_by = factory.SubFactory(UserFactory)


def _png_bytes() -> bytes:
    return smear_png(seed=0, size=(160, 120))


class SlideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slide

    case = factory.SubFactory(CaseFactory)
    image = factory.LazyFunction(lambda: ContentFile(_png_bytes(), name="smear.png"))
    original_filename = "smear.png"
    size_bytes = factory.LazyFunction(lambda: len(_png_bytes()))
    sha256 = factory.LazyFunction(lambda: hashlib.sha256(_png_bytes()).hexdigest())
    uploaded_by = factory.SelfAttribute("case.created_by")


class AnalysisRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnalysisRun

    slide = factory.SubFactory(SlideFactory)


class CellFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cell

    run = factory.SubFactory(AnalysisRunFactory, status=AnalysisRun.Status.DONE)
    index = factory.Sequence(lambda n: n)
    bbox_x, bbox_y, bbox_w, bbox_h = 10, 10, 30, 30
    centroid_x, centroid_y = 25.0, 25.0
    area_px = 700
    contour = factory.LazyFunction(lambda: [[10, 10], [40, 10], [40, 40], [10, 40]])
    crop = factory.LazyAttribute(lambda o: ContentFile(smear_png(seed=o.index, size=(32, 32)), name="crop.png"))
    p_blast = 0.2
    ai_label = factory.LazyAttribute(lambda o: "blast" if o.p_blast >= 0.5 else "non_blast")
