"""Forms of the rep web app beyond the lifecycle forms in ``leads/forms.py``."""

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from revops import metrics


class DateRangeForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    quota = forms.DecimalField(required=False, min_value=0, decimal_places=2, max_digits=16,
                               help_text="Quota of the period (for coverage)")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            start, end = metrics.parse_range(
                cleaned.get("start") and cleaned["start"].isoformat(),
                cleaned.get("end") and cleaned["end"].isoformat())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)
            return cleaned
        cleaned["start"], cleaned["end"] = start, end
        return cleaned


def _now_local():
    return timezone.now().replace(second=0, microsecond=0)


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=[("call", "Call"), ("email", "Email"), ("meeting", "Meeting")],
                             widget=forms.RadioSelect, initial="call")
    occurred_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      help_text="Empty = now")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_occurred_at(self):
        value = self.cleaned_data.get("occurred_at") or _now_local()
        if value > timezone.now() + dt.timedelta(minutes=5):
            raise ValidationError("An activity cannot be in the future.")
        return value


class ConvertForm(forms.Form):
    name = forms.CharField(max_length=200, label="Deal name")
    amount = forms.DecimalField(min_value=0, max_digits=14, decimal_places=2)
    close_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Expected close date")


class ApprovalDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


def deal_move_form(stage: str, deal, data=None):
    """A form asking for the target stage's required fields that are editable (prefilled from the deal)."""
    from pipeline.models import REQUIRED_FIELDS, Deal

    fields = {}
    for name in REQUIRED_FIELDS.get(stage, ()):
        if name in ("contact", "company", "fit_score", "source"):
            continue
        if name == "close_date":
            fields[name] = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                                           initial=deal.close_date)
            continue
        model_field = Deal._meta.get_field(name)
        form_field = model_field.formfield(required=True)
        form_field.initial = getattr(deal, name)
        if isinstance(form_field.widget, forms.Textarea):
            form_field.widget.attrs["rows"] = 2
        fields[name] = form_field
    if stage == "closed_lost":
        fields["competitor"] = Deal._meta.get_field("competitor").formfield(required=False)
        fields["competitor"].initial = deal.competitor
    fields["reason"] = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                       help_text="Required when moving backwards")
    form_class = type("DealMoveForm", (forms.Form,), fields)
    return form_class(data=data, prefix="move")
