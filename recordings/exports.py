"""CSV export of a filtered view, streamed row by row so memory stays flat at any size."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone

RECORDING_COLUMNS = [
    "recording_id",
    "call_uuid",
    "add_time",
    "from_number",
    "to_number",
    "recording_type",
    "recording_format",
    "recording_duration_ms",
    "rounded_recording_duration",
    "conference_name",
    "recording_storage_duration",
    "recording_storage_rate",
    "monthly_recording_storage_amount",
    "recording_url",
]
AUDIT_COLUMNS = [
    "at",
    "username",
    "action",
    "recording__recording_id",
    "call_uuid",
    "ip_address",
    "user_agent",
    "note",
]


class Echo:
    """A file-like object whose write returns the line, for csv.writer inside a generator."""

    def write(self, value):
        return value


def safe_cell(value):
    # A cell starting with = + - @ would run as a formula in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not value[1:2].isdigit():
        return "'" + value
    return value


def csv_response(queryset, columns=RECORDING_COLUMNS, filename="recordings"):
    """The queryset's `columns` (field lookups) as CSV, each headed by the lookup's last part
    (recording__recording_id is headed recording_id)."""
    writer = csv.writer(Echo())

    def rows():
        yield writer.writerow([column.rsplit("__", 1)[-1] for column in columns])
        for values in queryset.values_list(*columns).iterator(chunk_size=2000):
            yield writer.writerow([safe_cell(v.isoformat() if hasattr(v, "isoformat") else v) for v in values])

    stamp = timezone.localtime().strftime("%Y-%m-%d_%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}_{stamp}.csv"'
    return response
