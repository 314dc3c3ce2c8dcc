"""Writes of analysis runs: claim, run the predictor, store cells, fail; and what the runs say of their case.

Queueing and sending a run is ``dispatch``; the sweeper (``sweeper``) keeps stranded runs moving.

A run is claimed with a conditional UPDATE (``status='queued'``), so two workers handed the same message never both
work on it, and its cells are deleted and rewritten in one transaction, so a redelivered task stores them once.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import replace
from datetime import timedelta

import cv2
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from alllab.accounts.scope import SYSTEM
from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.operating import run_operating_point
from alllab.analysis.predictor import PredictorLike, Progress
from alllab.analysis.selectors import current_runs_for_case
from alllab.analysis.summaries import summarize_case, summary_columns, summary_read
from alllab.cases.models import Case, Slide
from alllab.cases.services import CaseRuns, case_refresh
from inference.io import ImageError, load_image
from inference.operating import LEGACY_OPERATING_POINT, OperatingPoint
from inference.segmentation.crop import background_colour, crop_for_review
from inference.types import SmearResult

log = logging.getLogger(__name__)

# Where each predictor stage lands on the 0..1 progress bar (segmentation is the slow part on CPU).
_STAGE_SPAN = {"segment": (0.0, 0.4), "classify": (0.4, 0.7), "heatmap": (0.7, 0.95)}
_PROGRESS_EVERY_S = 0.5  # at most two progress writes a second
MAX_ATTEMPTS = 3  # claims of one run (the first try and two after a worker died) before the sweeper fails it


def run_claim(*, run_id: int, worker: str = "") -> AnalysisRun | None:
    """Mark a queued run as running by ``worker`` (the Celery node name) and return it; None if another worker has it
    or it is finished.

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
        status=AnalysisRun.Status.RUNNING,
        started_at=now,
        progress=0.0,
        error="",
        attempts=F("attempts") + 1,
        worker=worker[:255],
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
        case_summary_refresh(case=Case.objects.get(slides__runs__pk=run_id))


def _progress_writer(run_id: int) -> Progress:
    last = [0.0]

    def report(stage: str, done: int, total: int) -> None:
        lo, hi = _STAGE_SPAN.get(stage, (0.0, 1.0))
        fraction = lo + (hi - lo) * (done / total if total else 1.0)
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S or done == total:
            last[0] = now
            AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.RUNNING).update(progress=fraction)

    return report


def run_execute(
    *, run_id: int, predictor: PredictorLike, lab_model_id: int | None = None, worker: str = ""
) -> AnalysisRun | None:
    """Claim run ``run_id`` for ``worker``, analyse its slide with ``predictor`` and store the result.

    Returns the finished run, or None when there was nothing to do (claimed elsewhere or already finished).
    An image that cannot be read marks the run failed with the reason; it is not an error of the worker.
    """
    run = run_claim(run_id=run_id, worker=worker)
    if run is None:
        log.info("run %s: not claimable (finished or taken), skipping", run_id)
        return None
    AnalysisRun.objects.filter(pk=run_id).update(
        model_name=predictor.model_name,
        model_version=predictor.model_version,
        model_sha256=predictor.model_sha256,
        lab_model_id=lab_model_id,  # the lab's registry row the task resolved (None: the unregistered shipped model)
    )
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


def _result_operating_point(result: SmearResult) -> OperatingPoint:
    """The checkpoint's operating point the result was called with (the engine's legacy one when it has none):
    the cells' labels follow it and the run stores it."""
    return result.operating_point or LEGACY_OPERATING_POINT


def run_store(*, run: AnalysisRun, result: SmearResult, rgb: np.ndarray) -> AnalysisRun:
    """Store a run's cells, crops, heatmaps and summary, and the slide's size and preview, in one transaction.

    The stored crop is cut again from the smear for people (``crop_for_review``: the classifier's framing at native
    pixels, at least 256 px), not the classifier's small input crop; the Grad-CAM map is laid over it.
    """
    cells = []
    rbc = float(result.segmentation.rbc_diameter_px)
    bg = background_colour(rgb) if result.cells else None
    threshold = _result_operating_point(result).cell_threshold
    for index, cell in enumerate(sorted(result.cells, key=lambda c: c.region.id)):
        region = cell.region
        crop = crop_for_review(rgb, region, rbc_diameter_px=rbc, background=bg) if rbc > 0 else cell.crop
        crop_name = _write(f"runs/{run.id}/cell_{index}.png", _png(crop))
        heat_name = ""
        if cell.heatmap is not None:
            heat_name = _write(f"runs/{run.id}/heatmap_{index}.png", _heatmap_png(crop, cell.heatmap))
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
                ai_label=Cell.Label.BLAST if cell.p_blast >= threshold else Cell.Label.NON_BLAST,
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
        for row in cells:
            for name in (row.crop.name, row.heatmap.name):
                if name:
                    default_storage.delete(name)
        raise
    case_summary_refresh(case=run.slide.case)
    run.refresh_from_db()
    return run


def _run_store_rows(
    *, run: AnalysisRun, cells: list[Cell], result: SmearResult, rgb: np.ndarray, preview_name: str
) -> None:
    """The database half of ``run_store``: all of it or none of it."""
    # The predictor's summary, stamped with the model that made it (the engine's summarize does not know it).
    summary = replace(result.summary, model_version=result.model_version)
    with transaction.atomic():
        Cell.objects.filter(run=run).delete()
        Cell.objects.bulk_create(cells)
        AnalysisRun.objects.filter(pk=run.pk).update(
            status=AnalysisRun.Status.DONE,
            progress=1.0,
            error="",
            model_name=result.model_name,
            timings_ms={k: round(float(v), 1) for k, v in result.timings_ms.items()},
            quality=result.segmentation.quality.to_json(),
            rbc_diameter_px=float(result.segmentation.rbc_diameter_px),
            operating_point=_result_operating_point(result).to_dict(),
            finished_at=timezone.now(),
            **summary_columns(summary=summary),
        )
        Slide.objects.filter(pk=run.slide_id).update(
            width=int(rgb.shape[1]), height=int(rgb.shape[0]), preview=preview_name
        )


def case_summary_refresh(*, case: Case) -> str:
    """Refresh ``case`` from its slides' current runs (``cases.services.case_refresh`` owns the status); its status.

    The summary is the engine's ``summarize_case`` over the stored summaries of the finished current runs: their
    cells are summed under the same minimum-cell rule as a slide's, an unreadable slide is left out with its flags
    carried, and an out-of-domain slide makes the case unvalidated unless it is suspicious.
    """
    return case_refresh(case=case, runs=_case_runs)


def _case_runs(case: Case) -> CaseRuns:
    runs = current_runs_for_case(scope=SYSTEM, case=case)
    finished = [r for r in runs if r.status in (AnalysisRun.Status.DONE, AnalysisRun.Status.FAILED)]
    done = [r for r in finished if r.status == AnalysisRun.Status.DONE]
    summary = None
    if done:
        slides = [summary_read(obj=r, extra_flags=r.quality.get("flags", [])) for r in done]
        versions = {r.model_version for r in done}
        # The slide rule (min_blasts) of the models the slides were called with; with several, the most sensitive.
        rule = min((run_operating_point(run=r) for r in done), key=lambda op: op.min_blasts)
        summary = summarize_case(
            [s for s in slides if s is not None],
            operating_point=rule,
            model_version=versions.pop() if len(versions) == 1 else "",  # "" when slides used several models
        )
    return CaseRuns(n_runs=len(runs), n_finished=len(finished), summary=summary_columns(summary=summary))
