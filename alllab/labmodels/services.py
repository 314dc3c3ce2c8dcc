"""Writes of the lab model registry: register, activate, roll back, and an adaptation job's life.

Activation swaps the lab's active row in one transaction under a row lock on the lab's models, so two admins pressing
"Activate" at once leave exactly one active model (the partial unique index would refuse a second anyway). Job rows
are claimed with a conditional UPDATE, so a redelivered task never trains twice.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from alllab.accounts.models import Lab
from alllab.labmodels.models import AdaptationJob, LabModel


class RegistryError(Exception):
    """A registry change that is not allowed; the message says why, for the page."""


class AdaptationBusy(RegistryError):
    """The lab already has an adaptation queued or running."""


def lab_model_register_shipped(*, lab_id: int, name: str, version: str, sha256: str) -> LabModel:
    """The lab's row for the shipped model (created on first need; active when the lab has no active model)."""
    with transaction.atomic():
        Lab.objects.select_for_update().get(pk=lab_id)  # one registration at a time per lab
        row = LabModel.objects.filter(lab_id=lab_id, kind=LabModel.Kind.SHIPPED).first()
        if row is not None and row.sha256 != sha256:
            # A new release of the shipped weights: the row follows the file the deployment ships.
            LabModel.objects.filter(pk=row.pk).update(name=name, version=version, sha256=sha256)
            row.refresh_from_db()
        if row is None:
            has_active = LabModel.objects.filter(lab_id=lab_id, status=LabModel.Status.ACTIVE).exists()
            row = LabModel.objects.create(
                lab_id=lab_id,
                kind=LabModel.Kind.SHIPPED,
                status=LabModel.Status.RETIRED if has_active else LabModel.Status.ACTIVE,
                name=name,
                version=version,
                sha256=sha256,
            )
        return row


def lab_model_create_candidate(
    *,
    job: AdaptationJob,
    base: LabModel,
    name: str,
    version: str,
    sha256: str,
    checkpoint_path: str,
    split: dict,
    evaluation: dict,
) -> LabModel:
    """Store a trained, scored candidate (its checkpoint file copied into storage) and finish the job with it."""
    with open(checkpoint_path, "rb") as fh, transaction.atomic():
        model = LabModel(
            lab_id=job.lab_id,
            kind=LabModel.Kind.ADAPTED,
            status=LabModel.Status.CANDIDATE,
            name=name,
            version=version,
            sha256=sha256,
            base=base,
            n_train_cells=len(split["train_cell_ids"]),
            n_train_cases=len(split["train_case_ids"]),
            n_heldout_cells=len(split["heldout_cell_ids"]),
            n_heldout_cases=len(split["heldout_case_ids"]),
            training_cell_ids=split["train_cell_ids"],
            training_case_ids=split["train_case_ids"],
            heldout_case_ids=split["heldout_case_ids"],
            evaluation=evaluation,
            created_by_id=job.created_by_id,
        )
        model.checkpoint.save(f"{sha256[:16]}.pt", File(fh), save=False)
        model.save()
        AdaptationJob.objects.filter(pk=job.pk).update(
            status=AdaptationJob.Status.DONE, candidate=model, progress=1.0, stage="done", finished_at=timezone.now()
        )
    return model


def lab_model_activate(*, user: User, model: LabModel) -> LabModel:
    """Make ``model`` its lab's active model; refused unless it passed its held-out gate (or is the shipped one).

    The caller has checked that ``user`` administers the model's lab (``selectors.admin_lab_ids``).
    """
    if model.kind == LabModel.Kind.ADAPTED and not model.gate_passed:
        raise RegistryError("This candidate is worse than its base on the held-out cells; it cannot be activated.")
    with transaction.atomic():
        Lab.objects.select_for_update().get(pk=model.lab_id)
        model.refresh_from_db()
        if model.status == LabModel.Status.ACTIVE:
            raise RegistryError("This model is already active.")
        current = LabModel.objects.filter(lab_id=model.lab_id, status=LabModel.Status.ACTIVE).first()
        if current is not None:
            LabModel.objects.filter(pk=current.pk).update(status=LabModel.Status.RETIRED)
        LabModel.objects.filter(pk=model.pk).update(
            status=LabModel.Status.ACTIVE, activated_by=user, activated_at=timezone.now(), replaced=current
        )
    model.refresh_from_db()
    return model


def lab_model_rollback(*, user: User, lab_id: int) -> tuple[LabModel, LabModel]:
    """Re-activate the model the lab's active one replaced; returns (rolled back from, rolled back to)."""
    with transaction.atomic():
        Lab.objects.select_for_update().get(pk=lab_id)
        current = LabModel.objects.filter(lab_id=lab_id, status=LabModel.Status.ACTIVE).first()
        if current is None or current.replaced_id is None:
            raise RegistryError("There is no earlier model to roll back to.")
        previous = current.replaced
        assert previous is not None  # replaced_id is set, and the foreign key protects that row
        LabModel.objects.filter(pk=current.pk).update(status=LabModel.Status.RETIRED)
        # The restored model keeps its own ``replaced``: rolling back again walks further back in time.
        LabModel.objects.filter(pk=previous.pk).update(
            status=LabModel.Status.ACTIVE, activated_by=user, activated_at=timezone.now()
        )
    current.refresh_from_db()
    previous.refresh_from_db()
    return current, previous


def adaptation_job_create(
    *, lab_id: int, user: User, training_set: list[dict], params: dict, stale_after_s: int
) -> AdaptationJob:
    """A queued job with its frozen training set; ``AdaptationBusy`` while another runs for the lab.

    A job still "running" ``stale_after_s`` after it started belonged to a worker that died (the task's hard time
    limit is shorter): it is failed first, so a dead worker cannot block the lab's adaptations for ever.
    """
    stale = timezone.now() - timedelta(seconds=stale_after_s)
    AdaptationJob.objects.filter(lab_id=lab_id, status=AdaptationJob.Status.RUNNING, started_at__lt=stale).update(
        status=AdaptationJob.Status.FAILED,
        error="The worker stopped during training (no progress within the time limit).",
        stage="failed",
        finished_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            return AdaptationJob.objects.create(
                lab_id=lab_id,
                created_by=user,
                training_set=training_set,
                n_cells=len(training_set),
                n_cases=len({row["case"] for row in training_set}),
                max_epochs=params["epochs"],
                params=params,
                stage="queued",
            )
    except IntegrityError:
        raise AdaptationBusy(
            "An adaptation is already queued or running for this lab; wait for it or cancel it."
        ) from None


def adaptation_job_claim(*, job_id: int) -> AdaptationJob | None:
    """Mark a queued job running and return it; None when it is taken, finished or was cancelled while queued."""
    claimed = AdaptationJob.objects.filter(pk=job_id, status=AdaptationJob.Status.QUEUED).update(
        status=AdaptationJob.Status.RUNNING, started_at=timezone.now(), stage="loading cells"
    )
    return AdaptationJob.objects.get(pk=job_id) if claimed else None


def adaptation_job_set_base(*, job_id: int, base: LabModel) -> None:
    AdaptationJob.objects.filter(pk=job_id).update(base_model=base)


def adaptation_job_progress(
    *,
    job_id: int,
    stage: str,
    progress: float,
    epoch: int | None = None,
    loss: float | None = None,
    val_loss: float | None = None,
    history_row: dict | None = None,
) -> bool:
    """Record progress; returns whether a cancel was asked for (the worker stops at the next epoch)."""
    fields: dict = {"stage": stage, "progress": max(0.0, min(1.0, progress))}
    if epoch is not None:
        fields.update(epoch=epoch, loss=loss, val_loss=val_loss)
    with transaction.atomic():
        job = AdaptationJob.objects.select_for_update().get(pk=job_id)
        if history_row is not None:
            fields["history"] = [*job.history, history_row]
        AdaptationJob.objects.filter(pk=job_id, status=AdaptationJob.Status.RUNNING).update(**fields)
    return job.cancel_requested


def adaptation_job_cancel(*, job: AdaptationJob) -> AdaptationJob:
    """Ask a job to stop: a queued one is cancelled at once, a running one at its next epoch."""
    AdaptationJob.objects.filter(pk=job.pk, status=AdaptationJob.Status.QUEUED).update(
        status=AdaptationJob.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now(), stage="cancelled"
    )
    AdaptationJob.objects.filter(pk=job.pk, status=AdaptationJob.Status.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    return job


def adaptation_job_end(*, job_id: int, status: str, reason: str = "") -> None:
    """End a job as failed or cancelled with a reason a person can read; the lab's active model is untouched."""
    AdaptationJob.objects.filter(
        pk=job_id, status__in=[AdaptationJob.Status.QUEUED, AdaptationJob.Status.RUNNING]
    ).update(status=status, error=reason[:2000], stage=status, finished_at=timezone.now())
