"""Reviewed cells as a labelled dataset for retraining: a zip of crops and a ``manifest.csv``.

The manifest is in ``inference.evaluate``'s format: ``path,label`` with paths relative to the manifest and label 1 for
a blast, 0 for a white cell that is not one (reviewed as any other white cell of the differential). Artefacts and unsure cells are
left out: they are neither. Extra columns (``review_label``, ``ai_p_blast``, ``model_version``) say where each row
came from; readers of the format ignore them. No patient data goes in: files are named by cell id only.
"""

from __future__ import annotations

import csv
import io
import zipfile

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from alllab.accounts.models import ADMIN_ROLES
from alllab.accounts.scope import Scope, scope_role_lab_ids
from alllab.review.models import WHITE_CELL_LABELS, CellReview, ReviewLabel

EXPORT_LABELS: dict[str, int] = {label: int(label == ReviewLabel.BLAST) for label in WHITE_CELL_LABELS}
MANIFEST_COLUMNS = ["path", "label", "review_label", "ai_p_blast", "model_version"]


def exportable_reviews(*, scope: Scope, user: User | AnonymousUser, lab_id: int | None = None) -> QuerySet[CellReview]:
    """Reviewed white cells with a crop, of the labs of ``scope`` that ``user`` administers (optionally one of them),
    by cell id."""
    labs = scope_role_lab_ids(scope=scope, user=user, roles=ADMIN_ROLES)
    if lab_id is not None:
        labs = [i for i in labs if i == lab_id]
    return (
        CellReview.objects.filter(cell__run__slide__case__lab_id__in=labs, label__in=list(EXPORT_LABELS))
        .exclude(cell__crop="")
        .select_related("cell", "cell__run")
        .order_by("cell_id")
    )


def dataset_zip(reviews: QuerySet[CellReview]) -> tuple[bytes, int]:
    """The zip (``manifest.csv`` and ``cells/<cell id>.png``) and the number of rows; a crop missing from storage
    is skipped, so every manifest row has its file."""
    buf = io.BytesIO()
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    n = 0
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for review in reviews:
            cell = review.cell
            try:
                with cell.crop.open("rb") as fh:
                    data = fh.read()
            except (FileNotFoundError, OSError):
                continue
            name = f"cells/{cell.id}.png"
            zf.writestr(name, data)
            run = cell.run
            writer.writerow(
                [
                    name,
                    EXPORT_LABELS[review.label],
                    review.label,
                    f"{cell.p_blast:.4f}",
                    f"{run.model_name} {run.model_version}".strip(),
                ]
            )
            n += 1
        zf.writestr("manifest.csv", manifest.getvalue())
    return buf.getvalue(), n
