"""Reads of cases and slides, always through the user's labs: a view cannot forget lab isolation."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case as When_
from django.db.models import Count, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from alllab.accounts.selectors import lab_ids_for_user
from alllab.cases.models import Case, Slide

AnyUser = AbstractBaseUser | AnonymousUser

# Most worrying first: suspicious, then insufficient (a human must look), then negative, then not yet called.
_CALL_RANK = When_(
    When(call=Case.Call.SUSPICIOUS, then=Value(0)),
    When(call=Case.Call.INSUFFICIENT, then=Value(1)),
    When(call=Case.Call.NEGATIVE, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def case_list(
    *, user: AnyUser, search: str = "", status: str = "", call: str = "", lab_id: int | None = None
) -> QuerySet[Case]:
    """Cases of the user's labs, newest first, filtered by accession/patient text, status and call."""
    qs = Case.objects.filter(lab_id__in=lab_ids_for_user(user=user)).select_related("lab", "created_by")
    if search:
        qs = qs.filter(Q(accession_number__icontains=search) | Q(patient_pseudonym__icontains=search))
    if status:
        qs = qs.filter(status=status)
    if call:
        qs = qs.filter(call=call)
    if lab_id is not None:
        qs = qs.filter(lab_id=lab_id)
    return qs.annotate(n_slides=Count("slides")).order_by("-created_at", "-id")


def case_get(*, user: AnyUser, case_id: int) -> Case:
    """One case of the user's labs; ``Http404`` for any other (so another lab's case looks like no case)."""
    try:
        return case_list(user=user).get(pk=case_id)
    except (Case.DoesNotExist, ValueError, TypeError):
        raise Http404("No such case") from None


def case_review_queue(*, user: AnyUser) -> QuerySet[Case]:
    """Cases of the user's labs whose analysis is finished and not signed off, most suspicious first."""
    return (
        case_list(user=user, status=Case.Status.AWAITING_REVIEW)
        .annotate(call_rank=_CALL_RANK)
        .order_by("call_rank", "-max_p_blast", "-blast_fraction", "created_at")
    )


def slide_list(*, user: AnyUser, case: Case) -> QuerySet[Slide]:
    """The slides of a case, if the case is in one of the user's labs (none otherwise)."""
    return Slide.objects.filter(case=case, case__lab_id__in=lab_ids_for_user(user=user))


def slide_get(*, user: AnyUser, slide_id: int) -> Slide:
    """One slide of the user's labs; ``Http404`` otherwise."""
    try:
        return Slide.objects.select_related("case", "case__lab").get(
            pk=slide_id, case__lab_id__in=lab_ids_for_user(user=user)
        )
    except (Slide.DoesNotExist, ValueError, TypeError):
        raise Http404("No such slide") from None
