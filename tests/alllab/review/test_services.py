"""Review services: reclassification, sign-off, amendment, immutability of signed versions, permissions."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from alllab.accounts.scope import Scope, scope_for_user
from alllab.analysis.models import AnalysisRun
from alllab.analysis.services import case_summary_refresh
from alllab.cases.models import Case
from alllab.review.models import AuditEvent, CellReview, ImmutableError, ReportVersion
from alllab.review.selectors import report_status, review_counts
from alllab.review.services import case_amend, case_sign_off, cell_reclassify
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, CellFactory, SlideFactory
from tests.alllab.review.conftest import review_rest

pytestmark = pytest.mark.django_db


def test_it_stores_a_review_beside_the_cell_and_keeps_the_ai_label(review_case, pathologist):
    case, cells, _ = review_case
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="artefact"
    )
    cells[0].refresh_from_db()
    assert cells[0].ai_label == "blast"
    review = CellReview.objects.get(cell=cells[0])
    assert (review.label, review.reviewed_by) == ("artefact", pathologist)


def test_it_records_one_audit_event_per_changed_cell_and_none_for_no_change(review_case, pathologist):
    case, cells, _ = review_case
    ids = [c.id for c in cells[:3]]
    cell_reclassify(scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=ids, label="blast")
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=ids, label="blast"
    )  # nothing changes
    cell_reclassify(scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[ids[0]], label="unsure")
    events = AuditEvent.objects.filter(case_id=case.id, action="reclassify").order_by("id")
    assert [(e.object_id, e.detail["from"], e.detail["to"]) for e in events] == [
        (str(ids[0]), None, "blast"),
        (str(ids[1]), None, "blast"),
        (str(ids[2]), None, "blast"),
        (str(ids[0]), "blast", "unsure"),
    ]
    assert {e.actor_name for e in events} == {pathologist.username}


def test_it_refuses_a_pathologist_acting_through_a_scope_without_the_lab(review_case, pathologist, other_lab):
    # The role comes from the user, lab access from the scope: a scope of another lab (a LIS client's) is refused.
    case, cells, _ = review_case
    elsewhere = Scope(lab_ids=(other_lab.pk,), write_lab_ids=(other_lab.pk,))
    with pytest.raises(PermissionDenied):
        cell_reclassify(scope=elsewhere, user=pathologist, case=case, cell_ids=[cells[0].id], label="blast")
    review_rest(case, pathologist)
    with pytest.raises(PermissionDenied):
        case_sign_off(scope=elsewhere, user=pathologist, case=case, interpretation="no_blasts")
    assert not CellReview.objects.filter(cell_id=cells[0].id, label="blast").exists()
    assert not ReportVersion.objects.filter(case=case).exists()


def test_it_refuses_technicians_and_other_labs_pathologists(review_case, technician, other_lab):
    case, cells, _ = review_case
    with pytest.raises(PermissionDenied):
        cell_reclassify(
            scope=scope_for_user(technician), user=technician, case=case, cell_ids=[cells[0].id], label="blast"
        )
    from tests.alllab.factories import MembershipFactory, UserFactory

    outsider = UserFactory()
    MembershipFactory(user=outsider, lab=other_lab, role="pathologist")
    with pytest.raises(PermissionDenied):
        cell_reclassify(scope=scope_for_user(outsider), user=outsider, case=case, cell_ids=[cells[0].id], label="blast")
    assert not CellReview.objects.exists()


def test_it_refuses_unknown_labels_and_cells_not_on_the_current_runs(review_case, pathologist):
    case, cells, old_cell = review_case
    with pytest.raises(ValidationError, match="Unknown label"):
        cell_reclassify(
            scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="normal"
        )
    with pytest.raises(ValidationError, match=str(old_cell.id)):
        cell_reclassify(
            scope=scope_for_user(pathologist),
            user=pathologist,
            case=case,
            cell_ids=[cells[0].id, old_cell.id],
            label="blast",
        )
    other = CellFactory(run=AnalysisRunFactory(slide=SlideFactory(), status=AnalysisRun.Status.DONE))
    with pytest.raises(ValidationError):
        cell_reclassify(
            scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[other.id], label="blast"
        )
    assert not CellReview.objects.exists()  # the valid cell in the refused request was not saved either


def test_it_counts_the_reviewed_differential_with_summarize(review_case, pathologist):
    case, cells, _ = review_case
    cell_reclassify(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        cell_ids=[cells[0].id, cells[1].id],
        label="blast",
    )
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[2].id], label="lymphocyte"
    )
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[3].id], label="other_wbc"
    )
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[4].id], label="artefact"
    )
    counts = review_counts(scope=scope_for_user(pathologist), case=case)
    assert (counts.n_cells, counts.n_reviewed, counts.n_white_reviewed) == (6, 5, 4)
    rows = {r["label"]: r for r in counts.differential}
    ai = {r["label"]: r["n"] for r in counts.ai}
    assert ai == {"blast": 3, "non_blast": 3}  # p >= 0.5: 0.95, 0.8, 0.7
    assert [rows[k]["reviewed"] for k in ("blast", "lymphocyte", "other_wbc", "artefact", "unsure")] == [2, 1, 1, 1, 0]
    assert counts.n_unreviewed == 1
    assert rows["blast"]["reviewed_pct"] == 50.0 and rows["artefact"]["reviewed_pct"] is None
    s = counts.reviewed_summary
    assert (s.n_cells, s.n_blast, s.blast_fraction) == (4, 2, 0.5)
    lo, hi = s.blast_fraction_ci95
    assert lo == pytest.approx(0.1500, abs=1e-4) and hi == pytest.approx(0.8500, abs=1e-4)  # Wilson, 2 of 4
    assert counts.below_minimum


def test_it_lifts_the_minimum_cell_warning_at_100_white_cells(lab, technician, pathologist):
    case = CaseFactory(lab=lab, created_by=technician)
    run = AnalysisRunFactory(slide=SlideFactory(case=case), status=AnalysisRun.Status.DONE)
    cells = [CellFactory(run=run, index=i, p_blast=0.1, crop="runs/none.png") for i in range(100)]
    cell_reclassify(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        cell_ids=[c.id for c in cells[:99]],
        label="lymphocyte",
    )
    assert review_counts(scope=scope_for_user(pathologist), case=case).below_minimum
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[99].id], label="other_wbc"
    )
    assert not review_counts(scope=scope_for_user(pathologist), case=case).below_minimum


def test_only_a_pathologist_can_sign(review_case, technician, lab_admin):
    case, _, _ = review_case
    for user in (technician, lab_admin):
        with pytest.raises(PermissionDenied):
            case_sign_off(scope=scope_for_user(user), user=user, case=case, interpretation="no_blasts")
    assert not ReportVersion.objects.exists()
    assert report_status(case=case) == "preliminary"


def test_it_signs_a_frozen_final_version_and_marks_the_case(review_case, pathologist):
    case, cells, _ = review_case
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="blast"
    )
    review_rest(case, pathologist, label="artefact")
    version = case_sign_off(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        interpretation="blasts_present",
        text="Many blasts.",
    )
    case.refresh_from_db()
    assert case.status == Case.Status.SIGNED_OFF
    assert (version.number, version.kind) == (1, "final")
    snap = version.snapshot
    assert snap["version"] == 1 and snap["status"] == "final"
    assert snap["interpretation"] == {
        "code": "blasts_present",
        "display": "Blasts present: suggest flow cytometry",
        "text": "Many blasts.",
    }
    assert snap["signed_by_username"] == pathologist.username
    assert snap["counts"]["n_reviewed"] == 6 and snap["counts"]["reviewed_summary"]["n_blast"] == 1
    assert snap["case"]["accession_number"] == "ACC-R1"
    assert [s["filename"] for s in snap["slides"]] == ["slide-a.png", "slide-b.png"]
    assert snap["models"] == [{"name": "hybrid-vgg", "version": "1.2.0", "sha256": ""}]  # the factory's runs: no sha
    assert report_status(case=case) == "final"
    assert AuditEvent.objects.filter(case_id=case.id, action="sign_off", actor=pathologist).count() == 1


def test_a_signed_version_cannot_be_edited_only_amended(review_case, pathologist):
    case, cells, _ = review_case
    review_rest(case, pathologist)
    v1 = case_sign_off(scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="no_blasts")
    frozen = dict(v1.snapshot)
    with pytest.raises(ValidationError, match="already signed"):
        case_sign_off(scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="blasts_present")
    v1.interpretation = "blasts_present"
    with pytest.raises(ImmutableError):
        v1.save()
    with pytest.raises(ImmutableError):
        v1.delete()
    # Reviewing after sign-off changes the live counts, never the signed version.
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="blast"
    )
    v1 = ReportVersion.objects.get(pk=v1.pk)
    assert v1.snapshot == frozen and v1.interpretation == "no_blasts"
    with pytest.raises(ValidationError, match="reason"):
        case_amend(
            scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="blasts_present", reason="  "
        )
    v2 = case_amend(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        interpretation="blasts_present",
        reason="Blast missed on first look.",
    )
    assert (v2.number, v2.kind, v2.amendment_reason) == (2, "amended", "Blast missed on first look.")
    assert v2.snapshot["counts"]["reviewed_summary"]["n_blast"] == 1
    assert ReportVersion.objects.get(pk=v1.pk).snapshot == frozen
    assert report_status(case=case) == "amended"
    assert AuditEvent.objects.filter(case_id=case.id, action="amend").get().detail["reason"].startswith("Blast")


def test_it_refuses_to_amend_an_unsigned_case_or_sign_while_analysing(review_case, pathologist):
    case, _, _ = review_case
    with pytest.raises(ValidationError, match="not been signed"):
        case_amend(
            scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="no_blasts", reason="x"
        )
    AnalysisRunFactory(slide=case.slides.first(), status=AnalysisRun.Status.RUNNING)
    case_summary_refresh(case=case)  # what queueing the run does: the case is analysing again
    with pytest.raises(ValidationError, match="still being analysed"):
        case_sign_off(scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="no_blasts")


def test_it_needs_text_for_a_free_text_interpretation(review_case, pathologist):
    case, _, _ = review_case
    with pytest.raises(ValidationError, match="Write the interpretation"):
        case_sign_off(
            scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="free_text", text=" "
        )
    with pytest.raises(ValidationError, match="Unknown interpretation"):
        case_sign_off(scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="maybe")
    with pytest.raises(ValidationError, match="6 of 6 cells are not reviewed"):
        case_sign_off(scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="no_blasts")
    review_rest(case, pathologist)
    version = case_sign_off(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        interpretation="free_text",
        text="Reactive lymphocytes.",
    )
    assert version.snapshot["interpretation"]["text"] == "Reactive lymphocytes."
