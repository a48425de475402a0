from decimal import Decimal
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from recordings.auditing.spend import spend_by_month
from recordings.auditing.usage import Month, overview, period
from recordings.roles import auditor_required


@auditor_required
@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    context = overview(period(request.GET.get("days")))
    stored = cast(dict[str, Any], context["storage"])
    monthly = cast(list[Month], context["monthly"])
    context["spend"] = spend_by_month(monthly=monthly, stored_amount=stored["amount"] or Decimal(0))
    return render(request, "recordings/usage.html", context)
