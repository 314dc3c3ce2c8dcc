"""The Models page for lab admins: state, adapt, live progress, candidate vs base, activate, roll back.

Views are thin: reads through ``labmodels.selectors`` (scoped by the user's labs), writes through ``adapt.services``.
Another lab's model or job id answers 404, the same as an id that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from alllab.accounts.models import Lab
from alllab.accounts.scope import scope_for_user
from alllab.adapt import services
from alllab.analysis.adaptation_rules import GATE_RULES, AdaptationRefused
from alllab.labmodels.models import AdaptationJob, LabModel
from alllab.labmodels.selectors import (
    adaptation_job_get,
    adaptation_job_list,
    adaptation_job_open,
    admin_lab_ids,
    lab_model_active,
    lab_model_get,
    lab_model_list,
)
from alllab.labmodels.services import AdaptationBusy, RegistryError


def _admin_lab(request: HttpRequest, lab_id: str | int | None) -> Lab:
    labs = admin_lab_ids(scope=scope_for_user(request.user), user=request.user)
    if not labs:
        raise PermissionDenied("Only lab admins manage the lab's models.")
    try:
        wanted = int(lab_id) if lab_id else labs[0]
    except ValueError:
        raise Http404("No such lab.") from None
    if wanted not in labs:
        raise Http404("No such lab.")
    return Lab.objects.get(pk=wanted)


def _page_url(lab: Lab) -> str:
    return f"{reverse('adapt:models')}?lab={lab.pk}"


@login_required
@require_GET
def models_view(request: HttpRequest) -> HttpResponse:
    lab = _admin_lab(request, request.GET.get("lab"))
    context = {
        "lab": lab,
        "labs": Lab.objects.filter(pk__in=admin_lab_ids(scope=scope_for_user(request.user), user=request.user)),
        "active": lab_model_active(scope=scope_for_user(request.user), lab_id=lab.pk),
        "models": lab_model_list(scope=scope_for_user(request.user), lab_id=lab.pk),
        "jobs": adaptation_job_list(scope=scope_for_user(request.user), user=request.user, lab_id=lab.pk)[:10],
        "open_job": adaptation_job_open(lab_id=lab.pk),
        "readiness": services.adaptation_readiness(user=request.user, lab_id=lab.pk),
        "gate_rules": [text for _, text in GATE_RULES],
        "n_open_slides": services.open_case_slides(lab_id=lab.pk).count(),
    }
    return render(request, "labmodels/models.html", context)


@login_required
@require_POST
def adapt_view(request: HttpRequest) -> HttpResponse:
    lab = _admin_lab(request, request.POST.get("lab"))
    try:
        job = services.adaptation_start(user=request.user, lab_id=lab.pk)
    except (AdaptationRefused, AdaptationBusy) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Adaptation {job.pk} queued on {job.n_cells} reviewed cells of {job.n_cases} cases.")
    return redirect(_page_url(lab))


def _job_json(job: AdaptationJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "epoch": job.epoch,
        "max_epochs": job.max_epochs,
        "loss": job.loss,
        "val_loss": job.val_loss,
        "error": job.error,
        "cancel_requested": job.cancel_requested,
        "candidate": job.candidate_id,
        "candidate_url": reverse("adapt:model_detail", args=[job.candidate_id]) if job.candidate_id else None,
    }


@login_required
@require_GET
def job_status_view(request: HttpRequest, job_id: int) -> JsonResponse:
    """The job row as JSON, polled by the page for live progress."""
    try:
        job = adaptation_job_get(scope=scope_for_user(request.user), user=request.user, job_id=job_id)
    except AdaptationJob.DoesNotExist:
        raise Http404("No such adaptation.") from None
    response = JsonResponse(_job_json(job))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def job_cancel_view(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        job = services.adaptation_cancel(user=request.user, job_id=job_id)
    except AdaptationJob.DoesNotExist:
        raise Http404("No such adaptation.") from None
    messages.info(request, f"Adaptation {job.pk}: cancel requested.")
    return redirect(_page_url(job.lab))


@login_required
@require_GET
def model_detail_view(request: HttpRequest, model_id: int) -> HttpResponse:
    """A model and, for a candidate, its held-out comparison with its base, side by side."""
    try:
        model = lab_model_get(scope=scope_for_user(request.user), model_id=model_id)
    except LabModel.DoesNotExist:
        raise Http404("No such model.") from None
    if model.lab_id not in admin_lab_ids(scope=scope_for_user(request.user), user=request.user):
        raise PermissionDenied("Only the lab's admins see its models' training and held-out results.")
    evaluation = model.evaluation or {}
    keys = [
        ("auroc", "AUROC"),
        ("sensitivity", "Sensitivity"),
        ("specificity", "Specificity"),
        ("precision", "Precision"),
        ("f1", "F1"),
        ("mcc", "MCC"),
        ("accuracy", "Accuracy"),
        ("agreement", "Agreement with the reviewers"),
        ("kappa", "Cohen's kappa with the reviewers"),
    ]
    rows = []
    if evaluation.get("base"):
        for key, label in keys:
            rows.append(
                {
                    "key": key,
                    "label": label,
                    "base": evaluation["base"].get(key),
                    "base_ci": evaluation["base"].get(f"{key}_ci95"),
                    "candidate": evaluation["candidate"].get(key),
                    "candidate_ci": evaluation["candidate"].get(f"{key}_ci95"),
                    "difference": evaluation.get("difference", {}).get(key),
                    "difference_ci": evaluation.get("difference", {}).get(f"{key}_ci95"),
                }
            )
    context = {
        "model": model,
        "rows": rows,
        "evaluation": evaluation,
        "gate": evaluation.get("gate", {}),
        "active": lab_model_active(scope=scope_for_user(request.user), lab_id=model.lab_id),
    }
    return render(request, "labmodels/model_detail.html", context)


@login_required
@require_POST
def model_activate_view(request: HttpRequest, model_id: int) -> HttpResponse:
    try:
        model = services.model_activate(user=request.user, model_id=model_id)
    except LabModel.DoesNotExist:
        raise Http404("No such model.") from None
    except RegistryError as exc:
        messages.error(request, str(exc))
        return redirect("adapt:model_detail", model_id=model_id)
    messages.success(request, f"{model.name} {model.version} is now the lab's active model.")
    return redirect(_page_url(model.lab))


@login_required
@require_POST
def model_rollback_view(request: HttpRequest) -> HttpResponse:
    lab = _admin_lab(request, request.POST.get("lab"))
    try:
        restored = services.model_rollback(user=request.user, lab_id=lab.pk)
    except RegistryError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rolled back: {restored.name} {restored.version} is active again.")
    return redirect(_page_url(lab))


@login_required
@require_POST
def reanalyse_view(request: HttpRequest) -> HttpResponse:
    lab = _admin_lab(request, request.POST.get("lab"))
    runs = services.reanalyse_open_cases(user=request.user, lab_id=lab.pk)
    messages.success(request, f"{len(runs)} slide(s) of open cases queued for analysis with the active model.")
    return redirect(_page_url(lab))
