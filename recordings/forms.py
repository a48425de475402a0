from django import forms

from .models import ReviewState


class ReviewForm(forms.Form):
    state = forms.ChoiceField(choices=[*ReviewState.choices, ("", "Not reviewed")], required=False)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why (kept in the audit log)"}),
        error_messages={"required": "Say why: the reason is kept in the audit log."},
    )
