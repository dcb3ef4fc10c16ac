"""Forms for stage moves that need input (admin transition buttons)."""

from django import forms


class StageForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Required when moving the deal backwards")
