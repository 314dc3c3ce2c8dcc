"""What a lab admin does on the Models page: start an adaptation, cancel it, activate, roll back, re-analyse.

This app sits above ``review`` because starting an adaptation freezes the lab's reviewed cells (labelled as
``review.export`` labels them for retraining) into the job, and activation and rollback are audit events.
Every function takes the acting user and refuses a lab they do not administer, with the same answer as for a lab that
does not exist.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet

from alllab.accounts.scope import scope_for_user
from alllab.analysis.adaptation_rules import AdaptationRefused, adaptation_requirements, adaptation_shortfall
from alllab.analysis.dispatch import run_enqueue
from alllab.analysis.models import AnalysisRun
from alllab.analysis.tasks import adapt_lab_model
from alllab.cases.models import Case, Slide
from alllab.labmodels.models import AdaptationJob, LabModel
from alllab.labmodels.selectors import adaptation_job_get, admin_lab_ids, lab_model_get
from alllab.labmodels.services import (
    adaptation_job_cancel,
    adaptation_job_create,
    lab_model_activate,
    lab_model_rollback,
)
from alllab.review.export import EXPORT_LABELS, exportable_reviews
from alllab.review.models import AuditEvent
from alllab.review.services import audit_record


def _require_admin(user: User, lab_id: int) -> None:
    if lab_id not in admin_lab_ids(scope=scope_for_user(user), user=user):
        raise PermissionDenied("Only the lab's admins adapt, activate and roll back its models.")


def training_set_for_lab(*, user: User, lab_id: int) -> list[dict]:
    """The lab's reviewed white cells as ``{"cell", "case", "label"}`` rows (1 = blast), by cell id."""
    rows = exportable_reviews(scope=scope_for_user(user), user=user, lab_id=lab_id).values_list(
        "cell_id", "cell__run__slide__case_id", "label"
    )
    return [{"cell": cell, "case": case, "label": EXPORT_LABELS[label]} for cell, case, label in rows]


def adaptation_readiness(*, user: User, lab_id: int) -> dict:
    """What the lab has reviewed and what is still missing, for the page (and the refusal)."""
    rows = training_set_for_lab(user=user, lab_id=lab_id)
    labels = [r["label"] for r in rows]
    cases = [r["case"] for r in rows]
    requirements = adaptation_requirements()
    return {
        "n_cells": len(rows),
        "n_blast": sum(labels),
        "n_normal": len(labels) - sum(labels),
        "n_cases": len(set(cases)),
        "requirements": requirements,
        "missing": adaptation_shortfall(labels=labels, case_ids=cases, requirements=requirements),
    }


def adaptation_params() -> dict:
    """The rules a new job is accepted and trained under (from settings; frozen into the job)."""
    requirements = adaptation_requirements()
    return {
        "min_cases": requirements.min_cases,
        "min_cells_per_class": requirements.min_cells_per_class,
        "heldout_fraction": requirements.heldout_fraction,
        "epochs": settings.ALLLAB_ADAPT_EPOCHS,
        "patience": settings.ALLLAB_ADAPT_PATIENCE,
        "seed": 0,
    }


def adaptation_start(*, user: User, lab_id: int) -> AdaptationJob:
    """Freeze the lab's reviewed cells into a queued job and send it to the training queue after commit.

    Raises:
        PermissionDenied: ``user`` does not administer the lab.
        AdaptationRefused: too few reviewed cells or cases (the message says how many more).
        labmodels.services.AdaptationBusy: an adaptation is already queued or running for the lab.
    """
    _require_admin(user, lab_id)
    rows = training_set_for_lab(user=user, lab_id=lab_id)
    missing = adaptation_shortfall(
        labels=[r["label"] for r in rows], case_ids=[r["case"] for r in rows], requirements=adaptation_requirements()
    )
    if missing:
        raise AdaptationRefused("Not enough reviewed cells to adapt: " + "; ".join(missing) + ".")
    with transaction.atomic():
        job = adaptation_job_create(
            lab_id=lab_id,
            user=user,
            training_set=rows,
            params=adaptation_params(),
            stale_after_s=settings.ALLLAB_TRAINING_TIME_LIMIT + 120,
        )
        audit_record(
            action=AuditEvent.Action.MODEL_ADAPT,
            actor=user,
            lab_id=lab_id,
            object_type="adaptation_job",
            object_id=job.pk,
            detail={"n_cells": job.n_cells, "n_cases": job.n_cases},
        )
        transaction.on_commit(partial(adapt_lab_model.delay, job.pk))
    return job


def adaptation_cancel(*, user: User, job_id: int) -> AdaptationJob:
    """Cancel a job of a lab the user administers (``AdaptationJob.DoesNotExist`` for any other)."""
    return adaptation_job_cancel(job=adaptation_job_get(scope=scope_for_user(user), user=user, job_id=job_id))


def model_activate(*, user: User, model_id: int) -> LabModel:
    """Activate a model of the user's lab after its gate; an ``activate_model`` audit event records it."""
    model = lab_model_get(scope=scope_for_user(user), model_id=model_id)
    _require_admin(user, model.lab_id)
    with transaction.atomic():
        previous = LabModel.objects.filter(lab_id=model.lab_id, status=LabModel.Status.ACTIVE).first()
        model = lab_model_activate(user=user, model=model)
        audit_record(
            action=AuditEvent.Action.MODEL_ACTIVATE,
            actor=user,
            lab_id=model.lab_id,
            object_type="lab_model",
            object_id=model.pk,
            detail={
                "version": model.version,
                "sha256": model.sha256,
                "replaced_version": previous.version if previous else "",
                "replaced_sha256": previous.sha256 if previous else "",
                "gate": model.evaluation.get("gate", {}),
            },
        )
    return model


def model_rollback(*, user: User, lab_id: int) -> LabModel:
    """Return the lab to the model its active one replaced; a ``rollback_model`` audit event records it."""
    _require_admin(user, lab_id)
    with transaction.atomic():
        old, restored = lab_model_rollback(user=user, lab_id=lab_id)
        audit_record(
            action=AuditEvent.Action.MODEL_ROLLBACK,
            actor=user,
            lab_id=lab_id,
            object_type="lab_model",
            object_id=restored.pk,
            detail={
                "version": restored.version,
                "sha256": restored.sha256,
                "from_version": old.version,
                "from_sha256": old.sha256,
            },
        )
    return restored


def open_case_slides(*, lab_id: int) -> QuerySet[Slide]:
    """Slides of the lab's cases that are not signed off: what "re-analyse with the active model" would queue."""
    return Slide.objects.filter(case__lab_id=lab_id).exclude(case__status=Case.Status.SIGNED_OFF)


def reanalyse_open_cases(*, user: User, lab_id: int) -> list[AnalysisRun]:
    """Queue a new run for every slide of the lab's open cases (signed reports never change; old runs are kept)."""
    _require_admin(user, lab_id)
    with transaction.atomic():
        return [run_enqueue(slide=slide) for slide in open_case_slides(lab_id=lab_id).select_related("case")]
