"""The viewer's own settings: the time zone pages show times in."""

from typing import cast

from django import forms
from django.contrib import messages
from django.http import HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from recordings import time_zones
from recordings.formatting import zone_name
from recordings.roles import listener_required
from recordings.views.common import SignedInRequest

FOLLOW_BROWSER = ""


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="Show times in", required=False)

    def __init__(self, data: QueryDict | None, *, initial: dict[str, str], browser_zone: str = "") -> None:
        super().__init__(data, initial=initial)
        following = f"My browser's zone ({zone_name(browser_zone)})" if browser_zone else "My browser's zone"
        field = cast(forms.ChoiceField, self.fields["time_zone"])  # declared above as one
        field.choices = [(FOLLOW_BROWSER, following)] + [
            (name, f"{name.replace('_', ' ')} · {zone_name(name)}")
            for name in sorted(time_zones.known_zones())
            if time_zones.is_canonical(name)
        ]


class BrowserZoneForm(forms.Form):
    time_zone = forms.CharField(max_length=64)

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"]
        if not time_zones.is_known(name):
            raise forms.ValidationError("Not a time zone this dashboard knows.")
        return name


@listener_required
@require_http_methods(["GET", "POST"])
def preferences(request: SignedInRequest) -> HttpResponse:
    current = request.viewer_zone
    browser_zone = current.name if current.follow_browser else ""
    form = TimeZoneForm(
        request.POST or None,
        initial={"time_zone": FOLLOW_BROWSER if current.follow_browser else current.name},
        browser_zone=browser_zone,
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["time_zone"]
        follow = chosen == FOLLOW_BROWSER
        zone = time_zones.set_time_zone(user=request.user, name=chosen or current.kept, follow_browser=follow)
        time_zones.remember_in_session(request.session, zone)
        if follow:
            messages.success(request, "Times follow your browser's time zone.")
        else:
            messages.success(request, f"Times are shown in {zone_name(zone.name)}.")
        return redirect("recordings:preferences")
    return render(request, "recordings/preferences.html", {"form": form, "zone": current})


@listener_required
@require_POST
def report_time_zone(request: SignedInRequest) -> JsonResponse:
    """The browser's zone, sent by time_zone.js; `changed` tells it to show the page again."""
    form = BrowserZoneForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"changed": False, "error": form.errors["time_zone"][0]}, status=400)
    current = request.viewer_zone
    zone = time_zones.report_browser_zone(user=request.user, current=current, name=form.cleaned_data["time_zone"])
    time_zones.remember_in_session(request.session, zone)
    return JsonResponse({"changed": not time_zones.same_clock(zone.name, current.name), "time_zone": zone.name})
