import re

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


MOMENT = re.compile(r"(?:(?:(\d{1,3}):)?(\d{1,4}):)?(\d{1,6}(?:\.\d{0,3})?)")


MAX_MOMENT_MS = 24 * 3600 * 1000  # when a recording's duration is unknown: longer than any call


class MomentField(forms.CharField):
    """A moment of a recording, written "83", "83.5", "1:23" or "1:02:03", as milliseconds."""

    default_error_messages = {"invalid": "Write the moment as seconds (83) or minutes:seconds (1:23)."}

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        match = MOMENT.fullmatch(value.strip())
        if not match:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        hours, minutes, seconds = match.groups()
        return round((int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)) * 1000)


class MomentNoteForm(forms.Form):
    at = MomentField(error_messages={"required": "Say at which moment of the recording the note is."})
    text = forms.CharField(
        max_length=2000,
        strip=True,
        error_messages={"required": "Write the note: it cannot be empty."},
    )

    def __init__(self, *args, duration_ms=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.duration_ms = duration_ms

    def clean_at(self):
        at_ms = self.cleaned_data["at"]
        # A player's position may run a little past the listed duration (it is rounded).
        if at_ms > (self.duration_ms + 1000 if self.duration_ms is not None else MAX_MOMENT_MS):
            raise forms.ValidationError("That moment is past the end of the recording.")
        return at_ms
