from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from recordings.auditing.usage import overview, period
from recordings.roles import auditor_required


@auditor_required
@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    return render(request, "recordings/usage.html", overview(period(request.GET.get("days"))))
