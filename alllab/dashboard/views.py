"""Home and the pathologists' review queue."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from alllab.accounts.models import REVIEW_ROLES
from alllab.accounts.scope import scope_for_user
from alllab.accounts.selectors import user_roles
from alllab.cases.models import Case
from alllab.cases.selectors import case_list, case_review_queue


@login_required
@require_GET
def home_view(request: HttpRequest) -> HttpResponse:
    """Pathologists land on their review queue, everyone else on the case list."""
    if user_roles(user=request.user) & REVIEW_ROLES:
        return redirect("review_queue")
    return redirect("case_list")


@login_required
@require_GET
def review_queue_view(request: HttpRequest) -> HttpResponse:
    """Cases whose analysis finished and that nobody signed off, most suspicious first."""
    queue = case_review_queue(scope=scope_for_user(request.user))
    counts = {
        "waiting": queue.count(),
        "suspicious": queue.filter(call=Case.Call.SUSPICIOUS).count(),
        "analysing": case_list(scope=scope_for_user(request.user), status=Case.Status.ANALYSING).count(),
    }
    return render(request, "dashboard/review_queue.html", {"cases": queue[:200], "counts": counts})


@require_GET
def health_view(request: HttpRequest) -> HttpResponse:
    """For load balancers and container healthchecks: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
