"""Run one adaptation job: the Django side of :func:`alllab.analysis.adaptation.adapt`.

Reads the job's frozen training set (cell ids, cases, labels), fetches those cells' crops from storage (only cells of
the job's own lab), resolves the lab's active model as the base, calls ``adapt`` and stores the candidate in the
registry. Any failure ends the job with a reason and leaves the lab's active model as it was: the registry is
written only after training and scoring have both succeeded.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from PIL import Image

from alllab.analysis.adaptation import AdaptationCancelled, ReviewedCell, adapt
from alllab.analysis.adaptation_rules import AdaptationRefused, Requirements, adaptation_requirements
from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.readiness import weights_path
from alllab.cases.models import Slide
from alllab.labmodels.models import AdaptationJob, LabModel
from alllab.labmodels.selectors import active_model_for_lab
from alllab.labmodels.services import (
    adaptation_job_claim,
    adaptation_job_end,
    adaptation_job_progress,
    adaptation_job_set_base,
    lab_model_create_candidate,
    lab_model_register_shipped,
)
from inference.io import ImageError, load_image
from inference.models import load_checkpoint
from inference.stain import lab_stats

log = logging.getLogger(__name__)


def lab_base_model(*, lab_id: int) -> tuple[LabModel, Path]:
    """The lab's active model row and its checkpoint file; the shipped model (registered on first need) by default."""
    active = active_model_for_lab(lab_id=lab_id)
    if active is not None and active.kind == LabModel.Kind.ADAPTED:
        return active, Path(active.checkpoint.path)
    path = weights_path()
    ck = load_checkpoint(path)  # strict: a tampered shipped file fails the job here
    shipped = lab_model_register_shipped(lab_id=lab_id, name=ck.arch, version=ck.version, sha256=ck.sha256)
    return shipped, path


def _crop_loader(lab_id: int) -> Callable[[Sequence[ReviewedCell]], list[ReviewedCell]]:
    def load(cells: Sequence[ReviewedCell]) -> list[ReviewedCell]:
        ids = [c.cell_id for c in cells]
        # Only this lab's cells: a training set naming another lab's cell id finds nothing for it and is refused.
        rows = Cell.objects.filter(pk__in=ids, run__slide__case__lab_id=lab_id).select_related("run__slide")
        by_id: dict[int | str, Cell] = {row.pk: row for row in rows}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise AdaptationRefused(f"{len(missing)} reviewed cell(s) of the training set no longer exist.")
        stats_by_run: dict[int, dict | None] = {}
        out: list[ReviewedCell] = []
        for c in cells:
            row = by_id[c.cell_id]
            if row.run_id not in stats_by_run:
                stats_by_run[row.run_id] = _smear_stats(row.run)
            with row.crop.open("rb") as fh:
                crop = np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"))
            out.append(replace(c, crop=crop, stain_stats=stats_by_run[row.run_id]))
        return out

    return load


def lab_unlabelled_smears(lab_id: int) -> Callable[[Collection], Iterator[np.ndarray]]:
    """The lab's analysed smears as RGB arrays, one at a time, for the label-free calibration before fine-tuning.

    Only this lab's slides with a finished run, leaving out the cases given (the held-out cases are scored, never
    calibrated on), the latest ``ALLLAB_ADAPT_CALIBRATION_SMEARS`` of them (memory: each is a full smear); a stored
    image that cannot be read is skipped.
    """

    def smears(exclude_case_ids: Collection) -> Iterator[np.ndarray]:
        slides = (
            Slide.objects.filter(case__lab_id=lab_id, runs__status=AnalysisRun.Status.DONE)
            .exclude(case_id__in=list(exclude_case_ids))
            .distinct()
            .order_by("-pk")[: settings.ALLLAB_ADAPT_CALIBRATION_SMEARS]
        )
        for slide in slides:
            try:
                with slide.image.open("rb") as fh:
                    yield load_image(fh.read())
            except (FileNotFoundError, OSError, ImageError):
                log.warning("slide %s: stored image not readable, left out of the calibration", slide.pk)

    return smears


def _smear_stats(run: AnalysisRun) -> dict | None:
    """The smear's LAB stats, as the predictor computes them when it analyses the slide."""
    try:
        with run.slide.image.open("rb") as fh:
            return lab_stats(load_image(fh.read()))
    except (FileNotFoundError, OSError):
        return None  # the crop's own stats are used then (as for a manifest crop)


def _requirements(job: AdaptationJob) -> Requirements:
    """The rules the job was accepted under (frozen into it), else today's settings."""
    default = adaptation_requirements()
    return Requirements(
        min_cases=int(job.params.get("min_cases", default.min_cases)),
        min_cells_per_class=int(job.params.get("min_cells_per_class", default.min_cells_per_class)),
        heldout_fraction=float(job.params.get("heldout_fraction", default.heldout_fraction)),
    )


def _candidate_version(*, job: AdaptationJob, base: LabModel) -> str:
    n = LabModel.objects.filter(lab_id=job.lab_id, kind=LabModel.Kind.ADAPTED).count() + 1
    root = base.version.split("+")[0]
    return f"{root}+{job.lab.slug}.{n}"


def adaptation_job_execute(*, job_id: int) -> AdaptationJob | None:
    """Claim job ``job_id`` and run it to a candidate, a refusal, a cancellation or a failure."""
    job = adaptation_job_claim(job_id=job_id)
    if job is None:
        log.info("adaptation %s: not claimable (taken, finished or cancelled)", job_id)
        return None

    def report(stage: str, fraction: float, row: dict | None) -> None:
        epoch_fields = {}
        if row is not None:
            epoch_fields = {"epoch": row["epoch"], "loss": row["train_loss"], "val_loss": row.get("val_loss")}
        if adaptation_job_progress(job_id=job_id, stage=stage, progress=fraction, history_row=row, **epoch_fields):
            raise AdaptationCancelled

    try:
        base, base_path = lab_base_model(lab_id=job.lab_id)
        adaptation_job_set_base(job_id=job_id, base=base)
        cells = [ReviewedCell(cell_id=r["cell"], case_id=r["case"], label=int(r["label"])) for r in job.training_set]
        with tempfile.TemporaryDirectory(prefix="alllab-adapt-") as tmp:
            out_path = Path(tmp) / "candidate.pt"
            outcome = adapt(
                cells=cells,
                load_crops=_crop_loader(job.lab_id),
                base_path=base_path,
                base_sha256=base.sha256,
                out_path=out_path,
                version=_candidate_version(job=job, base=base),
                requirements=_requirements(job),
                epochs=int(job.params.get("epochs", settings.ALLLAB_ADAPT_EPOCHS)),
                patience=int(job.params.get("patience", settings.ALLLAB_ADAPT_PATIENCE)),
                seed=int(job.params.get("seed", 0)),
                progress=report,
                extra={"lab": job.lab.slug, "adaptation_job": job.pk},
                unlabelled_smears=lab_unlabelled_smears(job.lab_id),
            )
            lab_model_create_candidate(
                job=job,
                base=base,
                name=outcome.name,
                version=outcome.version,
                sha256=outcome.sha256,
                checkpoint_path=str(out_path),
                split=outcome.split,
                evaluation=outcome.evaluation,
            )
    except AdaptationCancelled:
        adaptation_job_end(job_id=job_id, status=AdaptationJob.Status.CANCELLED, reason="Cancelled by a lab admin.")
    except AdaptationRefused as exc:
        adaptation_job_end(job_id=job_id, status=AdaptationJob.Status.FAILED, reason=str(exc))
    except SoftTimeLimitExceeded:
        reason = f"The adaptation took longer than {settings.ALLLAB_TRAINING_TIME_LIMIT} s."
        adaptation_job_end(job_id=job_id, status=AdaptationJob.Status.FAILED, reason=reason)
    except Exception as exc:
        # A broken checkpoint, a crop missing from storage, a bug: fail visibly; the active model is untouched.
        log.exception("adaptation %s failed", job_id)
        reason = f"Training failed ({type(exc).__name__}): {exc}"
        adaptation_job_end(job_id=job_id, status=AdaptationJob.Status.FAILED, reason=reason)
    job.refresh_from_db()
    return job
