"""Input and output shapes of the API. Outputs are built as plain dicts by ``alllab.api.representations`` and passed
through these serializers, so the OpenAPI schema and the JSON on the wire are the same declaration."""

from __future__ import annotations

from rest_framework import serializers

from alllab.analysis.models import AnalysisRun, Cell
from alllab.cases.models import Case


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable reason, e.g. `required`, `not_found`, `throttled`.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    field = serializers.CharField(required=False, help_text="The input field to blame (400 only).")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class CaseCreateInputSerializer(serializers.Serializer):
    accession_number = serializers.CharField(max_length=64, help_text="The LIS's accession number; unique per lab.")
    patient_id = serializers.CharField(
        max_length=64, required=False, default="", help_text="Pseudonymous patient id: never a name or national id."
    )
    specimen_collected_at = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Day the specimen was collected (YYYY-MM-DD)."
    )
    clinical_notes = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)
    callback_url = serializers.URLField(
        max_length=500, required=False, default="", allow_blank=True, help_text="Stored with the order."
    )
    lab = serializers.SlugField(
        required=False,
        default="",
        allow_blank=True,
        help_text="Lab slug; needed only by a signed-in user who may write in several labs (a token has one lab).",
    )

    def validate_accession_number(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.", code="blank")
        return value


class CaseListQuerySerializer(serializers.Serializer):
    accession_number = serializers.CharField(required=False, default="", max_length=64)
    status = serializers.ChoiceField(choices=Case.Status.choices, required=False, default="")
    updated_since = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="ISO 8601; cases changed at or after this time."
    )
    page = serializers.IntegerField(required=False, min_value=1, default=1)


class SummarySerializer(serializers.Serializer):
    n_cells = serializers.IntegerField(min_value=0)
    n_blast = serializers.IntegerField(min_value=0)
    blast_fraction = serializers.FloatField(min_value=0, max_value=1, help_text="Fraction in [0, 1], not percent.")
    blast_fraction_ci95 = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1), min_length=2, max_length=2, help_text="Wilson 95%."
    )
    max_p_blast = serializers.FloatField(min_value=0, max_value=1)
    call = serializers.ChoiceField(choices=Case.Call.choices)


class LinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    fhir = serializers.CharField(required=False)
    hl7 = serializers.CharField(required=False)
    cells = serializers.CharField(required=False)


class SlideSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(help_text="Case id.")
    original_filename = serializers.CharField()
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    uploaded_at = serializers.DateTimeField()
    run_id = serializers.IntegerField(allow_null=True, help_text="The current (latest) analysis run.")
    status = serializers.ChoiceField(choices=AnalysisRun.Status.choices)
    progress = serializers.FloatField(min_value=0, max_value=1)
    error = serializers.CharField(allow_blank=True, help_text="Why the analysis failed; empty otherwise.")
    model_name = serializers.CharField(allow_blank=True)
    model_version = serializers.CharField(allow_blank=True)
    n_cells = serializers.IntegerField(allow_null=True)
    n_blast = serializers.IntegerField(allow_null=True)
    blast_fraction = serializers.FloatField(allow_null=True)
    blast_fraction_ci95 = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    max_p_blast = serializers.FloatField(allow_null=True)
    call = serializers.ChoiceField(choices=Case.Call.choices, allow_null=True)
    quality = serializers.DictField(help_text="Focus, stain and flags of the smear, once analysed.")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    links = LinksSerializer()


class CaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lab = serializers.SlugField(help_text="Lab slug.")
    accession_number = serializers.CharField()
    patient_id = serializers.CharField(allow_blank=True)
    specimen_collected_at = serializers.DateField(allow_null=True)
    clinical_notes = serializers.CharField(allow_blank=True)
    callback_url = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=Case.Status.choices)
    report_status = serializers.ChoiceField(choices=["preliminary", "final", "amended"])
    n_slides = serializers.IntegerField()
    summary = SummarySerializer(allow_null=True, help_text="Over every slide's current run; null until one is done.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    links = LinksSerializer()


class CaseDetailSerializer(CaseSerializer):
    slides = SlideSerializer(many=True)


class CasePageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = CaseSerializer(many=True)


class SlideUploadInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="One smear image: PNG, JPEG, TIFF or BMP.")


class CellSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    index = serializers.IntegerField()
    bbox = serializers.ListField(child=serializers.IntegerField(), min_length=4, max_length=4, help_text="x, y, w, h")
    p_blast = serializers.FloatField(min_value=0, max_value=1)
    label = serializers.ChoiceField(choices=Cell.Label.choices, help_text="The model's label.")
    reviewed_label = serializers.CharField(allow_null=True, help_text="A pathologist's label; null until reviewed.")
    crop_url = serializers.CharField(help_text="Authenticated URL of the cell's crop (PNG).")


class CellPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = CellSerializer(many=True)
