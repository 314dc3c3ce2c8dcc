"""Forms of the case pages: input validation only; the writes happen in services."""

from django import forms

from alllab.accounts.models import Lab
from alllab.cases.models import Case


class CaseCreateForm(forms.Form):
    """A new case; ``lab`` offers only the labs where the user may create cases."""

    lab = forms.ModelChoiceField(queryset=Lab.objects.none(), empty_label=None)
    accession_number = forms.CharField(max_length=64, label="Accession number")
    patient_pseudonym = forms.CharField(
        max_length=64, label="Patient pseudonym", help_text="A pseudonymous id, never a name or national number."
    )
    specimen_date = forms.DateField(
        required=False, label="Specimen date", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, labs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lab"].queryset = labs
        if labs.count() == 1:
            self.fields["lab"].widget = forms.HiddenInput()
            self.fields["lab"].initial = labs.first()


class CaseFilterForm(forms.Form):
    """Search and filters of the case list."""

    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Case.Status.choices])
    call = forms.ChoiceField(required=False, label="Result", choices=[("", "Any result"), *Case.Call.choices])
