"""Input shapes of the API and its one error shape. The output shapes live in ``alllab.interop.serializers`` beside
the representations they type (a result callback sends them too)."""

from __future__ import annotations

from rest_framework import serializers

from alllab.cases.models import Case


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable reason, e.g. `required`, `not_found`, `throttled`.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    field = serializers.CharField(required=False, help_text="The input field to blame (400 only).")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class CaseCreateInputSerializer(serializers.Serializer):
    accession_number = serializers.CharField(max_length=64, help_text="The LIS's accession number; unique per lab.")
    # Optional text fields carry no schema default: an empty-string default would break the field's own minLength or
    # pattern and make the OpenAPI document invalid. ``validate`` fills in the blanks instead.
    patient_id = serializers.CharField(
        max_length=64, required=False, help_text="Pseudonymous patient id: never a name or national id."
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
        allow_blank=True,
        help_text="Lab slug; needed only by a signed-in user who may write in several labs (a token has one lab).",
    )

    def validate_accession_number(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.", code="blank")
        return value

    def validate(self, attrs: dict) -> dict:
        return {"patient_id": "", "lab": "", **attrs}


class CaseListQuerySerializer(serializers.Serializer):
    accession_number = serializers.CharField(required=False, max_length=64)
    status = serializers.ChoiceField(choices=Case.Status.choices, required=False)
    updated_since = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="ISO 8601; cases changed at or after this time."
    )
    page = serializers.IntegerField(required=False, min_value=1, default=1)

    def validate(self, attrs: dict) -> dict:
        return {"accession_number": "", "status": "", **attrs}  # no schema default: see CaseCreateInputSerializer


class SlideUploadInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="One smear image: JPEG, PNG, TIFF, BMP or WEBP.")
