"""Reads of the lab model registry. The model reads take the caller's ``Scope``; the adaptation reads (lab admins
only) take the scope for lab access and the user for the role: the labs of the scope that the user administers.

``active_model_for_lab`` is the one unscoped read: the worker analysing a run of lab X asks for lab X's model (the
run's own lab is the scope), never for a model by id.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from alllab.accounts.models import ADMIN_ROLES
from alllab.accounts.scope import Scope, scope_role_lab_ids
from alllab.labmodels.models import AdaptationJob, LabModel

Caller = User | AnonymousUser


def lab_model_list(*, scope: Scope, lab_id: int | None = None) -> QuerySet[LabModel]:
    """The models of the scope's labs (any role: everyone may see which model made a result), or of one of them."""
    qs = scope.narrow(LabModel.objects.select_related("lab", "base", "created_by", "activated_by"))
    return qs.filter(lab_id=lab_id) if lab_id is not None else qs


def lab_model_get(*, scope: Scope, model_id: int) -> LabModel:
    """One model of the scope's labs; ``LabModel.DoesNotExist`` for another lab's id, the same as a missing one."""
    return lab_model_list(scope=scope).get(pk=model_id)


def lab_model_active(*, scope: Scope, lab_id: int) -> LabModel | None:
    """The active model row of a lab in the scope; None while the lab uses the shipped model unregistered."""
    return lab_model_list(scope=scope, lab_id=lab_id).filter(status=LabModel.Status.ACTIVE).first()


def active_model_for_lab(*, lab_id: int) -> LabModel | None:
    """The worker's read: lab ``lab_id``'s active model, None for the shipped default."""
    return LabModel.objects.filter(lab_id=lab_id, status=LabModel.Status.ACTIVE).first()


def admin_lab_ids(*, scope: Scope, user: Caller) -> list[int]:
    """The labs of ``scope`` whose models ``user`` may adapt, activate and roll back (lab admins only)."""
    return scope_role_lab_ids(scope=scope, user=user, roles=ADMIN_ROLES)


def adaptation_job_list(*, scope: Scope, user: Caller, lab_id: int | None = None) -> QuerySet[AdaptationJob]:
    """Adaptation jobs of the labs of ``scope`` that ``user`` administers (the training set is lab data: admins
    only)."""
    labs = admin_lab_ids(scope=scope, user=user)
    if lab_id is not None:
        labs = [i for i in labs if i == lab_id]
    return AdaptationJob.objects.filter(lab_id__in=labs).select_related("candidate", "base_model", "created_by")


def adaptation_job_get(*, scope: Scope, user: Caller, job_id: int) -> AdaptationJob:
    """One job of a lab of ``scope`` the user administers; ``AdaptationJob.DoesNotExist`` otherwise."""
    return adaptation_job_list(scope=scope, user=user).get(pk=job_id)


def adaptation_job_open(*, lab_id: int) -> AdaptationJob | None:
    """The lab's queued or running job, if any."""
    return AdaptationJob.objects.filter(
        lab_id=lab_id, status__in=[AdaptationJob.Status.QUEUED, AdaptationJob.Status.RUNNING]
    ).first()
