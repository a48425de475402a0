"""The audit log: who played, downloaded, reviewed, held or deleted what, for auditors."""

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from recordings.auditing.integrity import latest_check, unsealed_events
from recordings.browsing.exports import AUDIT_COLUMNS
from recordings.browsing.filters import AuditEventFilter
from recordings.browsing.tables import AuditEventTable
from recordings.models import AuditEvent
from recordings.roles import auditor_required
from recordings.views.common import SignedInRequest
from recordings.views.csv_export import export_csv
from recordings.views.filtered_view import EXPORT, filtered_view, without_empty_filters


@auditor_required
@require_GET
def audit_log(request: SignedInRequest) -> HttpResponse | StreamingHttpResponse:
    if tidied := without_empty_filters(request):
        return tidied
    # The table shows only the recording's id: skip its raw JSON, the one large column.
    events = AuditEvent.objects.select_related("recording").defer("recording__raw")
    view = filtered_view(request.GET, lambda data: AuditEventFilter(data, queryset=events))
    filterset = view.filterset
    if request.GET.get(EXPORT) == "csv":
        return export_csv(
            request,
            view,
            columns=AUDIT_COLUMNS,
            filename="audit-log",
            noun="audit event",
            back_to=reverse("recordings:audit_log"),
        )
    table = AuditEventTable(filterset.qs)
    RequestConfig(request, paginate=filterset.table_options.paginate()).configure(table)
    context = {"filter": filterset, "table": table, "check": latest_check(), "unsealed": unsealed_events()}
    return render(request, "recordings/audit_log.html", context)
