import secrets
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from recordings.browsing.filters import DATE_BOUNDS, RECORDING_TYPES
from recordings.formatting import moment_ms
from recordings.models import ReviewState, SubjectRequest
from recordings.requests.numbers import NotANumber, parse_number
from recordings.time_zones import known_zones


class ReviewForm(forms.Form):
    state = forms.ChoiceField(choices=[*ReviewState.choices, ("", "Not reviewed")], required=False)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why (kept in the audit log)"}),
        error_messages={"required": "Say why: the reason is kept in the audit log."},
    )


MAX_MOMENT_MS = 24 * 3600 * 1000  # when a recording's duration is unknown: longer than any call


class MomentField(forms.CharField):
    """A moment of a recording, written "83", "83.5", "1:23" or "1:02:03", as milliseconds."""

    default_error_messages = {"invalid": "Write the moment as seconds (83) or minutes:seconds (1:23)."}

    # The override returns the moment, not CharField's text: cleaned as text first (its stripping and
    # empty values), then read as milliseconds.
    def to_python(self, value: str | None) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if text is None or text in self.empty_values:
            return None
        at_ms = moment_ms(text, finer_than_ms=False)
        if at_ms is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return at_ms


class MomentNoteForm(forms.Form):
    at = MomentField(error_messages={"required": "Say at which moment of the recording the note is."})
    text = forms.CharField(
        max_length=2000,
        strip=True,
        error_messages={"required": "Write the note: it cannot be empty."},
    )

    def __init__(self, data: Mapping[str, Any] | None = None, *, duration_ms: int | None = None) -> None:
        super().__init__(data)
        self.duration_ms = duration_ms

    def clean_at(self) -> int:
        at_ms = self.cleaned_data["at"]
        # A player's position may run a little past the listed duration (it is rounded).
        if at_ms > (self.duration_ms + 1000 if self.duration_ms is not None else MAX_MOMENT_MS):
            raise forms.ValidationError("That moment is past the end of the recording.")
        return at_ms


def start_of_week() -> date:
    today = timezone.localdate()
    return today - timedelta(days=today.weekday())


class ReviewSampleForm(forms.Form):
    """What to sample: the recordings table's filters (a period, a type), a share and a minimum
    per caller number, and the seed that makes the draw reproducible."""

    wide_fields = ("name",)

    name = forms.CharField(max_length=200, required=False, help_text="Blank: named after the period.")
    added_after = forms.DateField(label="Added from", initial=start_of_week, validators=DATE_BOUNDS)
    added_before = forms.DateField(label="Added until (inclusive)", initial=timezone.localdate, validators=DATE_BOUNDS)
    recording_type = forms.ChoiceField(
        label="Type", choices=[("", "Any type"), *RECORDING_TYPES], required=False, initial="call"
    )
    percent = forms.DecimalField(
        label="Share (%)", min_value=Decimal("0.01"), max_value=100, decimal_places=2, initial=5
    )
    per_caller = forms.IntegerField(label="At least per caller", min_value=0, max_value=50, initial=2)
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Blank: a new random one. The same seed over the same recordings draws the same sample.",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        after, before = data.get("added_after"), data.get("added_before")
        if after and before and after > before:
            raise forms.ValidationError("The period ends before it starts: swap the dates.")
        if data.get("seed") is None:
            data["seed"] = secrets.randbelow(2**31)
        if not data.get("name") and after and before:
            kind = dict(RECORDING_TYPES).get(data.get("recording_type", ""), "All")
            data["name"] = f"{kind} recordings {after:%d %b} – {before:%d %b %Y}, {data.get('percent')} %"
        return data

    def criteria(self) -> dict[str, str]:
        """The sample's recordings, as the recordings table's filter parameters."""
        data = self.cleaned_data
        return {
            "added_after": data["added_after"].isoformat(),
            "added_before": data["added_before"].isoformat(),
            "recording_type": data["recording_type"],
        }


class ReviewItemForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=ReviewState.choices,
        error_messages={"required": "Choose Reviewed or Flag.", "invalid_choice": "Choose Reviewed or Flag."},
    )
    note = forms.CharField(required=False, max_length=2000, strip=True)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("outcome") == ReviewState.FLAGGED and not data.get("note"):
            raise forms.ValidationError("Say why it is flagged: the note is kept with the review.")
        return data


class RetentionRuleForm(forms.Form):
    wide_fields = ("name", "filter_query")
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"placeholder": "Trunk calls: 90 days"}))
    action = forms.ChoiceField(
        choices=[("delete", "Delete them"), ("keep", "Keep them")],
        initial="delete",
        help_text="Keep rules come before delete rules; legal holds come before both.",
    )
    age_days = forms.IntegerField(
        label="Age (days)",
        min_value=1,
        max_value=36_500,
        help_text="Delete: recordings older than this. Keep: recordings for this long.",
    )
    filter_query = forms.CharField(
        label="Recordings (the table's view)",
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "recording_type=trunk&max_duration=10"}),
        help_text="The filters of a view of the recordings table, as its address has them after “?”. "
        "Empty: every recording.",
    )


class VersionForm(forms.Form):
    """The version of a rule the auditor was shown: a change or an approval acts on that one only."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class SparedForm(VersionForm):
    """What a delete rule's page showed, for which its script asks what the dry run spares: the
    rule's version and the key of the figures (`matching.figures_key`)."""

    figures = forms.RegexField(regex=r"\A[0-9a-f]{32}\Z")


def zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(known_zones())]


class SubjectRequestForm(forms.Form):
    """Opening a data-subject request: whose number, what they ask, and by when it is due."""

    number = forms.CharField(
        label="Phone number",
        max_length=64,
        help_text="In any form: +91 98765 43210, 09876543210, 9876543210.",
    )
    kind = forms.ChoiceField(label="The person asks for", choices=SubjectRequest.Kind.choices)
    reference = forms.CharField(
        label="Reference",
        max_length=200,
        help_text="Your ticket or case number; not the person's name, which the proof must not hold.",
    )
    due_on = forms.DateField(
        label="Due on", validators=DATE_BOUNDS, widget=forms.DateInput(attrs={"type": "date"}), required=False
    )
    time_zone = forms.ChoiceField(label="Times in the copy in", choices=zone_choices, help_text="The person's zone.")

    def __init__(self, *args: Any, time_zone: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["due_on"].help_text = f"Blank: {settings.DSR_DUE_DAYS} days from today."
        self.fields["time_zone"].initial = time_zone or settings.TIME_ZONE

    def clean_number(self) -> str:
        try:
            return parse_number(self.cleaned_data["number"])
        except NotANumber as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_due_on(self) -> date:
        due_on: date | None = self.cleaned_data.get("due_on")
        today = timezone.localdate()
        if due_on is None:
            return today + timedelta(days=settings.DSR_DUE_DAYS)
        if due_on < today:
            raise forms.ValidationError("The due date is in the past.")
        return due_on


class ShareLinkForm(forms.Form):
    """A link to one recording for someone without an account."""

    note = forms.CharField(
        label="For whom",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Priya Rao, the customer's lawyer"}),
        error_messages={"required": "Say for whom the link is: the note is kept with it."},
    )
    hours = forms.IntegerField(
        label="Works for (hours)",
        min_value=1,
        max_value=7 * 24,
        initial=24,
        widget=forms.NumberInput(attrs={"min": 1, "max": 7 * 24, "step": 1, "inputmode": "numeric"}),
        help_text="At most 168 (7 days).",
    )
    start = MomentField(label="Start at", required=False, widget=forms.TextInput(attrs={"placeholder": "e.g. 1:23"}))
    show_numbers = forms.BooleanField(label="Show the caller's and callee's numbers", required=False)
