"""Writes of analysis runs: queue, claim, run the predictor, store cells, refresh the case.

A run is claimed with a conditional UPDATE (``status='queued'``), so two workers handed the same message never both
work on it, and its cells are deleted and rewritten in one transaction, so a redelivered task stores them once.
"""

from __future__ import annotations

import io
import logging
import time
from datetime import timedelta
from functools import partial

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.selectors import current_runs_for_case
from alllab.analysis.sweeper import MAX_ATTEMPTS, run_send
from alllab.cases.models import Case, Slide
from alllab.cases.services import case_set_result
from inference.io import ImageError, load_image
from inference.summary import BLAST_THRESHOLD, summarize
from inference.types import Quality, SmearResult

log = logging.getLogger(__name__)

# Where each predictor stage lands on the 0..1 progress bar (segmentation is the slow part on CPU).
_STAGE_SPAN = {"segment": (0.0, 0.4), "classify": (0.4, 0.7), "heatmap": (0.7, 0.95)}
_PROGRESS_EVERY_S = 0.5  # at most two progress writes a second


def run_enqueue(*, slide: Slide) -> AnalysisRun:
    """Create a queued run for ``slide`` and send it to a worker once the surrounding transaction commits."""
    run = AnalysisRun.objects.create(slide=slide)
    # run_send, not delay_on_commit: a broker outage leaves the run queued for the sweeper instead of failing the
    # upload that has already committed.
    transaction.on_commit(partial(run_send, run_id=run.id))
    case_refresh(case=slide.case)
    return run


def run_claim(*, run_id: int) -> AnalysisRun | None:
    """Mark a queued run as running and return it; None if another worker has it or it is finished.

    A run left ``running`` for longer than the hard time limit belonged to a worker that died; it is claimable
    again, which is what lets a redelivered message (``acks_late``) finish the job.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    # A stale run that already used its attempts is not taken again (a slide that kills workers would loop through
    # Redis redeliveries forever); the sweeper fails it with a reason.
    stale_retry = Q(status=AnalysisRun.Status.RUNNING, started_at__lt=stale, attempts__lt=MAX_ATTEMPTS)
    claimable = Q(status=AnalysisRun.Status.QUEUED) | stale_retry
    claimed = AnalysisRun.objects.filter(claimable, pk=run_id).update(
        status=AnalysisRun.Status.RUNNING, started_at=now, progress=0.0, error="", attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return AnalysisRun.objects.select_related("slide", "slide__case").get(pk=run_id)


def run_requeue(*, run_id: int) -> None:
    """Put a running run back to queued (a transient error: the retry will claim it again)."""
    AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.RUNNING).update(status=AnalysisRun.Status.QUEUED)


def run_fail(*, run_id: int, reason: str) -> None:
    """Mark a run failed with a reason a person can read, and refresh its case."""
    updated = AnalysisRun.objects.filter(pk=run_id).exclude(status=AnalysisRun.Status.DONE)
    if updated.update(status=AnalysisRun.Status.FAILED, error=reason[:2000], finished_at=timezone.now()):
        case_refresh(case=Case.objects.get(slides__runs__pk=run_id))


def _progress_writer(run_id: int):
    last = [0.0]

    def report(stage: str, done: int, total: int) -> None:
        lo, hi = _STAGE_SPAN.get(stage, (0.0, 1.0))
        fraction = lo + (hi - lo) * (done / total if total else 1.0)
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S or done == total:
            last[0] = now
            AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.RUNNING).update(progress=fraction)

    return report


def run_execute(*, run_id: int, predictor) -> AnalysisRun | None:
    """Claim run ``run_id``, analyse its slide with ``predictor`` and store the result.

    Returns the finished run, or None when there was nothing to do (claimed elsewhere or already finished).
    An image that cannot be read marks the run failed with the reason; it is not an error of the worker.
    """
    run = run_claim(run_id=run_id)
    if run is None:
        log.info("run %s: not claimable (finished or taken), skipping", run_id)
        return None
    AnalysisRun.objects.filter(pk=run_id).update(model_name=predictor.model_name, model_version=predictor.model_version)
    try:
        try:
            with run.slide.image.open("rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise ImageError("The stored image file is missing.") from None
        rgb = load_image(data)
        result = predictor.analyze(rgb, with_heatmaps=True, progress=_progress_writer(run_id))
    except ImageError as exc:
        run_fail(run_id=run_id, reason=f"{run.slide.original_filename}: {exc}")
        run.refresh_from_db()
        return run
    return run_store(run=run, result=result, rgb=rgb)


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _heatmap_png(crop: np.ndarray, heat: np.ndarray) -> bytes:
    """The crop with its Grad-CAM blended on top (jet colours), the same size as the crop."""
    heat = cv2.resize(np.clip(heat, 0.0, 1.0).astype(np.float32), (crop.shape[1], crop.shape[0]))
    coloured = cv2.cvtColor(cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return _png(cv2.addWeighted(crop, 0.55, coloured, 0.45, 0.0))


def _write(name: str, content: bytes) -> str:
    """Write ``content`` under exactly ``name`` (replacing it), so a redelivered task rewrites, not duplicates."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(content))


def run_store(*, run: AnalysisRun, result: SmearResult, rgb: np.ndarray) -> AnalysisRun:
    """Store a run's cells, crops, heatmaps and summary, and the slide's size and preview, in one transaction."""
    cells = []
    for index, cell in enumerate(sorted(result.cells, key=lambda c: c.region.id)):
        region = cell.region
        crop_name = _write(f"runs/{run.id}/cell_{index}.png", _png(cell.crop))
        heat_name = ""
        if cell.heatmap is not None:
            heat_name = _write(f"runs/{run.id}/heatmap_{index}.png", _heatmap_png(cell.crop, cell.heatmap))
        x, y, w, h = (int(v) for v in region.bbox)
        cells.append(
            Cell(
                run=run,
                index=index,
                bbox_x=x,
                bbox_y=y,
                bbox_w=w,
                bbox_h=h,
                centroid_x=float(region.centroid[0]),
                centroid_y=float(region.centroid[1]),
                area_px=int(region.area_px),
                touches_border=bool(region.touches_border),
                contour=np.asarray(region.contour).reshape(-1, 2).astype(int).tolist(),
                crop=crop_name,
                heatmap=heat_name,
                p_blast=float(cell.p_blast),
                ai_label=Cell.Label.BLAST if cell.p_blast >= BLAST_THRESHOLD else Cell.Label.NORMAL,
            )
        )
    preview = io.BytesIO()
    Image.fromarray(rgb).save(preview, format="JPEG", quality=88)
    preview_name = _write(f"previews/slide_{run.slide_id}.jpg", preview.getvalue())
    try:
        _run_store_rows(run=run, cells=cells, result=result, rgb=rgb, preview_name=preview_name)
    except Exception:
        # Nothing of this attempt was committed: remove its files too, so a failed run leaves no orphan crops
        # (a retry writes them again under the same names).
        for cell in cells:
            for name in (cell.crop.name, cell.heatmap.name):
                if name:
                    default_storage.delete(name)
        raise
    case_refresh(case=run.slide.case)
    run.refresh_from_db()
    return run


def _run_store_rows(*, run: AnalysisRun, cells: list[Cell], result: SmearResult, rgb: np.ndarray, preview_name: str):
    """The database half of ``run_store``: all of it or none of it."""
    summary = result.summary
    with transaction.atomic():
        Cell.objects.filter(run=run).delete()
        Cell.objects.bulk_create(cells)
        AnalysisRun.objects.filter(pk=run.pk).update(
            status=AnalysisRun.Status.DONE,
            progress=1.0,
            error="",
            model_name=result.model_name,
            model_version=result.model_version,
            timings_ms={k: round(float(v), 1) for k, v in result.timings_ms.items()},
            quality=result.segmentation.quality.to_json(),
            rbc_diameter_px=float(result.segmentation.rbc_diameter_px),
            finished_at=timezone.now(),
            n_cells=summary.n_cells,
            n_blast=summary.n_blast,
            blast_fraction=summary.blast_fraction,
            blast_fraction_ci95_lo=summary.blast_fraction_ci95[0],
            blast_fraction_ci95_hi=summary.blast_fraction_ci95[1],
            max_p_blast=summary.max_p_blast,
            call=summary.call,
        )
        Slide.objects.filter(pk=run.slide_id).update(
            width=int(rgb.shape[1]), height=int(rgb.shape[0]), preview=preview_name
        )


def case_refresh(*, case: Case) -> None:
    """Recompute a case's status and summary from its slides' current runs (a signed-off case is left alone).

    The summary is ``summarize`` over every cell of every finished current run, the same function as a slide's, so
    a case of one slide shows that slide's numbers and call.
    """
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)  # two workers finishing two slides: one at a time
        if case.status == Case.Status.SIGNED_OFF:
            return
        runs = current_runs_for_case(case=case)
        if not runs:
            case_set_result(case=case, status=Case.Status.NEW, summary=None)
            return
        busy = any(r.status in (AnalysisRun.Status.QUEUED, AnalysisRun.Status.RUNNING) for r in runs)
        done = [r for r in runs if r.status == AnalysisRun.Status.DONE]
        summary = None
        if done:
            p_blasts = list(Cell.objects.filter(run__in=done).values_list("p_blast", flat=True))
            # A quality flag blocks the case's call only when it blocks every slide's.
            shared_flags = set.intersection(*(set(r.quality.get("flags", [])) for r in done))
            s = summarize(p_blasts, Quality(focus=0.0, stain={}, flags=tuple(sorted(shared_flags))))
            summary = {
                "n_cells": s.n_cells,
                "n_blast": s.n_blast,
                "blast_fraction": s.blast_fraction,
                "blast_fraction_ci95": s.blast_fraction_ci95,
                "max_p_blast": s.max_p_blast,
                "call": s.call,
            }
        status = Case.Status.ANALYSING if busy else Case.Status.AWAITING_REVIEW
        case_set_result(case=case, status=status, summary=summary)
