from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..roles import auditor_required
from ..usage import overview, period


@auditor_required
@require_GET
def usage(request):
    return render(request, "recordings/usage.html", overview(period(request.GET.get("days"))))
