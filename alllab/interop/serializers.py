"""Output shapes of the case JSON the API returns and result callbacks send. Outputs are built as plain dicts by
``alllab.interop.representations`` and passed through these serializers, so the OpenAPI schema and the JSON on the
wire are the same declaration."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.summaries import call_explanation, call_label
from alllab.cases.models import Case


class CallTextMixin(serializers.Serializer):
    call_label = serializers.SerializerMethodField(help_text="The call in words, e.g. `Unvalidated`.")
    call_explanation = serializers.SerializerMethodField(help_text="What the call means, in one sentence.")

    @extend_schema_field(OpenApiTypes.STR)
    def get_call_label(self, obj) -> str:
        return call_label(_attr(obj, "call"))

    @extend_schema_field(OpenApiTypes.STR)
    def get_call_explanation(self, obj) -> str:
        return call_explanation(_attr(obj, "call"))


def _attr(obj, name: str):
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


class SummarySerializer(CallTextMixin, serializers.Serializer):
    """The engine's ``Summary`` (read from its attributes), the one shape of a summary in the API."""

    n_cells = serializers.IntegerField(min_value=0)
    n_blast = serializers.IntegerField(min_value=0)
    blast_fraction = serializers.FloatField(min_value=0, max_value=1, help_text="Fraction in [0, 1], not percent.")
    blast_fraction_ci95 = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1), min_length=2, max_length=2, help_text="Wilson 95%."
    )
    max_p_blast = serializers.FloatField(min_value=0, max_value=1)
    call = serializers.ChoiceField(choices=Case.Call.choices)
    flags = serializers.ListField(
        child=serializers.CharField(), help_text="Quality flags the call was made with (a case: those of every slide)."
    )
    model_version = serializers.CharField(allow_blank=True, help_text="Empty when the slides used several models.")


class LabModelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="`shipped`, or `adapted` to this lab from its reviewed cells.")
    version = serializers.CharField()
    status = serializers.CharField()


class ModelRefSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True)
    version = serializers.CharField(allow_blank=True)
    sha256 = serializers.CharField(allow_blank=True, help_text="sha256 of the weights that made the numbers.")
    lab_model = LabModelRefSerializer(allow_null=True, help_text="The lab's registry row; null: unregistered shipped.")


NO_FRACTION_HELP = "`too-few-cells` when the blast fraction is sent as null (fewer than 3 cells, or unreadable)."


class PreClassificationSerializer(CallTextMixin, serializers.Serializer):
    """The model's numbers over the case: the automated pre-classification, never the signed result."""

    source = serializers.ChoiceField(choices=["ai"])
    method = serializers.CharField()
    n_cells = serializers.IntegerField(min_value=0)
    n_blast = serializers.IntegerField(min_value=0)
    blast_fraction = serializers.FloatField(min_value=0, max_value=1, allow_null=True)
    blast_fraction_ci95 = serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True
    )
    no_fraction_reason = serializers.CharField(allow_blank=True, help_text=NO_FRACTION_HELP)
    max_p_blast = serializers.FloatField(min_value=0, max_value=1)
    call = serializers.ChoiceField(choices=Case.Call.choices)
    flags = serializers.ListField(child=serializers.CharField())
    model_version = serializers.CharField(allow_blank=True)
    models = ModelRefSerializer(many=True)


class DifferentialRowSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="Reviewer class: blast, lymphocyte, ..., artefact, unsure.")
    display = serializers.CharField()
    count = serializers.IntegerField(min_value=0)
    white = serializers.BooleanField(help_text="Counted among the white cells (the percentages' denominator).")
    percent = serializers.FloatField(allow_null=True, help_text="Of the white cells; null outside the denominator.")


class InterpretationSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="blasts_present | no_blasts | insufficient | free_text")
    display = serializers.CharField()
    text = serializers.CharField(allow_blank=True)


class SignedResultSerializer(serializers.Serializer):
    """The signed, reviewed result: what the lab reports. Null until a pathologist signs."""

    status = serializers.ChoiceField(choices=["final", "amended"])
    source = serializers.ChoiceField(choices=["review"])
    version = serializers.IntegerField(min_value=1)
    signed_at = serializers.DateTimeField()
    signed_by = serializers.CharField()
    signed_by_role = serializers.CharField(allow_blank=True)
    n_cells_reviewed = serializers.IntegerField(min_value=0, help_text="Every cell given a class.")
    n_white_cells = serializers.IntegerField(min_value=0, help_text="White cells in the differential.")
    n_blast = serializers.IntegerField(min_value=0)
    blast_fraction = serializers.FloatField(min_value=0, max_value=1, help_text="Reviewed; fraction, not percent.")
    blast_fraction_ci95 = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    differential = DifferentialRowSerializer(many=True)
    interpretation = InterpretationSerializer()
    amendment_reason = serializers.CharField(allow_blank=True)
    below_minimum = serializers.BooleanField(help_text="Fewer white cells reviewed than `min_cells`.")
    min_cells = serializers.IntegerField(min_value=0)


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
    model_sha256 = serializers.CharField(
        allow_blank=True, help_text="sha256 of the weights that made the run (the lab's model)."
    )
    worker = serializers.CharField(
        allow_blank=True, help_text="The worker node that claimed the run last (celery@host); empty until claimed."
    )
    n_cells = serializers.IntegerField(allow_null=True)
    n_blast = serializers.IntegerField(allow_null=True)
    blast_fraction = serializers.FloatField(allow_null=True)
    blast_fraction_ci95 = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    no_fraction_reason = serializers.CharField(allow_blank=True, help_text=NO_FRACTION_HELP)
    max_p_blast = serializers.FloatField(allow_null=True)
    call = serializers.ChoiceField(choices=Case.Call.choices, allow_null=True)
    call_label = serializers.CharField(allow_null=True)
    call_explanation = serializers.CharField(allow_null=True)
    lab_model = LabModelRefSerializer(allow_null=True, help_text="The lab's registry row that made the run.")
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
    summary = SummarySerializer(
        allow_null=True, help_text="The model's, over every slide's current run; null until one is done."
    )
    result = SignedResultSerializer(
        allow_null=True, help_text="The signed, reviewed result: null until sign-off (everything is preliminary)."
    )
    pre_classification = PreClassificationSerializer(
        allow_null=True, help_text="The model's result (= `summary`), named as the automated pre-classification."
    )
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
