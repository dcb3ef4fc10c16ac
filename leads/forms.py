"""Forms for lifecycle transitions that need input (admin buttons and the rep web app)."""

from django import forms

from .models import ReasonCode


class AcceptForm(forms.Form):
    budget = forms.BooleanField(required=False)
    authority = forms.BooleanField(required=False)
    need = forms.BooleanField(required=False)
    timeline = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        if sum(bool(cleaned.get(k)) for k in ("budget", "authority", "need", "timeline")) < 2:
            raise forms.ValidationError("Confirm at least 2 of budget, authority, need and timeline.")
        return cleaned


class RejectForm(forms.Form):
    reason_code = forms.ModelChoiceField(queryset=ReasonCode.objects.filter(active=True), to_field_name="code")
    contract_renewal_date = forms.DateField(required=False, help_text="QUAL-02: the competitor contract renewal")


class AdvocateForm(forms.Form):
    nps = forms.IntegerField(min_value=0, max_value=10, required=False)
    referral = forms.BooleanField(required=False)
    case_study = forms.BooleanField(required=False)


class ArchiveForm(forms.Form):
    cause = forms.CharField(max_length=100, label="Reason")
