"""Reads of cases and slides, always through the caller's ``Scope``: a view cannot forget lab isolation."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Case as When_
from django.db.models import Count, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from alllab.accounts.scope import Scope
from alllab.cases.models import Case, Slide

AnyUser = User | AnonymousUser

# Most worrying first: suspicious, then unvalidated and insufficient (a human must look at every cell), then
# negative, then not yet called.
_CALL_RANK = When_(
    When(call=Case.Call.SUSPICIOUS, then=Value(0)),
    When(call=Case.Call.UNVALIDATED, then=Value(1)),
    When(call=Case.Call.INSUFFICIENT, then=Value(1)),
    When(call=Case.Call.NEGATIVE, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def case_list(
    *, scope: Scope, search: str = "", status: str = "", call: str = "", lab_id: int | None = None
) -> QuerySet[Case]:
    """Cases of the scope's labs, newest first, filtered by accession/patient text, status and call."""
    qs = scope.narrow(Case.objects.select_related("lab", "created_by"))
    if search:
        qs = qs.filter(Q(accession_number__icontains=search) | Q(patient_pseudonym__icontains=search))
    if status:
        qs = qs.filter(status=status)
    if call:
        qs = qs.filter(call=call)
    if lab_id is not None:
        qs = qs.filter(lab_id=lab_id)
    return qs.annotate(n_slides=Count("slides")).order_by("-created_at", "-id")


def case_get(*, scope: Scope, case_id: int) -> Case:
    """One case of the scope's labs; ``Http404`` for any other (so another lab's case looks like no case)."""
    try:
        return case_list(scope=scope).get(pk=case_id)
    except (Case.DoesNotExist, ValueError, TypeError):
        raise Http404("No such case") from None


def case_review_queue(*, scope: Scope) -> QuerySet[Case]:
    """Cases of the scope's labs whose analysis is finished and not signed off, most suspicious first."""
    return (
        case_list(scope=scope, status=Case.Status.AWAITING_REVIEW)
        .annotate(call_rank=_CALL_RANK)
        .order_by("call_rank", "-max_p_blast", "-blast_fraction", "created_at")
    )


def slide_get(*, scope: Scope, slide_id: int) -> Slide:
    """One slide of the scope's labs; ``Http404`` otherwise."""
    try:
        return scope.narrow(Slide.objects.select_related("case", "case__lab"), "case__lab_id").get(pk=slide_id)
    except (Slide.DoesNotExist, ValueError, TypeError):
        raise Http404("No such slide") from None


def case_accepts_slides(*, case: Case) -> bool:
    """Whether slides may still be added: not once the case is signed off.

    A slide added after sign-off would be analysed while the signed report, the review page and the LIS result went
    on saying what was signed without it, so it is refused (``slide_create``) and the page hides its upload box.
    A new specimen is a new case; an amendment corrects the reviewed cells of the slides that were signed.
    """
    return case.status != Case.Status.SIGNED_OFF


def case_signed_upload_message(*, case: Case) -> str:
    """What a refused upload to a signed case says, on the page and in the API's 409."""
    return (
        f"Case {case.accession_number} is signed off: no slide can be added to a signed report. "
        "A new specimen needs a new case; to correct this one, amend its review."
    )
