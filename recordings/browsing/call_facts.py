"""Turns a Vobiz call detail record into facts a support person reads at a glance."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from recordings.formatting import amount_in, duration, phone

HANGUP_CAUSES = {
    "NORMAL_CLEARING": "Normal hang-up",
    "USER_BUSY": "The callee was busy",
    "NO_ANSWER": "No answer",
    "NO_USER_RESPONSE": "No response from the callee",
    "ORIGINATOR_CANCEL": "The caller hung up before an answer",
    "CALL_REJECTED": "The call was rejected",
    "UNALLOCATED_NUMBER": "The number does not exist",
    "NORMAL_TEMPORARY_FAILURE": "A temporary network failure",
    "RECOVERY_ON_TIMER_EXPIRE": "The network timed out",
    "ALLOTTED_TIMEOUT": "The call reached its time limit",
    "MEDIA_TIMEOUT": "The audio stopped (media timeout)",
    "DESTINATION_OUT_OF_ORDER": "The destination is out of order",
    "INVALID_NUMBER_FORMAT": "The number was not valid",
    "NETWORK_OUT_OF_ORDER": "The network is out of order",
}


def when(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return value if isinstance(value, datetime) else None


def seconds(value: str | float | None) -> float | None:
    """A CDR's count of seconds ("12", 12.5) as a number; None when missing or not a number."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def clock_of(value: str | float | None) -> str | None:
    """A CDR's count of seconds as every duration on the pages reads: "5:09"; None when missing."""
    counted = seconds(value)
    return None if counted is None else duration(round(counted * 1000))


def hangup_in_words(cdr: dict[str, Any]) -> str | None:
    cause = str(cdr.get("hangup_cause") or "")
    words = HANGUP_CAUSES.get(cause) or cdr.get("hangup_cause_name") or cause.replace("_", " ").capitalize()
    code = cdr.get("hangup_cause_code")
    return f"{words} ({cause}{f', {code}' if code not in (None, '') else ''})" if cause else (words or None)


def call_facts(cdr: dict[str, Any]) -> list[tuple[str, object, str]]:
    """The CDR as (label, value, kind) rows; kind tells the template how to show the value."""
    cost = cdr.get("total_cost") if cdr.get("total_cost") not in (None, "") else cdr.get("cost")
    currency = str(cdr.get("currency") or settings.BILLING_CURRENCY).strip().upper()
    quality = [
        f"MOS {cdr['mos']}" if cdr.get("mos") not in (None, "") else "",
        f"jitter {cdr['jitter']} ms" if cdr.get("jitter") not in (None, "") else "",
        f"packet loss {cdr['packet_loss']}%" if cdr.get("packet_loss") not in (None, "") else "",
    ]
    source = cdr.get("hangup_source")
    rows = [
        ("Direction", str(cdr.get("call_direction") or "").capitalize(), "text"),
        (
            "Caller",
            " ".join(str(x) for x in (cdr.get("caller_id_name"), phone(cdr.get("caller_id_number"))) if x),
            "text",
        ),
        ("Callee", phone(cdr.get("destination_number")), "text"),
        ("Started", when(cdr.get("start_time")), "time"),
        ("Answered", when(cdr.get("answer_time")) or "Not answered", "time"),
        ("Ended", when(cdr.get("end_time")), "time"),
        ("Ringing", clock_of(cdr.get("ring_time")), "text"),
        ("Duration", clock_of(cdr.get("duration")), "text"),
        ("Billed", clock_of(cdr.get("billsec")), "text"),
        ("Hang-up", hangup_in_words(cdr), "text"),
        (
            "Hung up by",
            f"{source} ({cdr.get('hangup_disposition')})" if source and cdr.get("hangup_disposition") else source,
            "text",
        ),
        ("Cost", amount_in(cost, currency, precise=True) if cost not in (None, "") else None, "text"),
        ("Quality", " · ".join(q for q in quality if q) or None, "text"),
        ("Codec", cdr.get("codec"), "text"),
        ("Region", cdr.get("region"), "text"),
        ("SIP call id", cdr.get("sip_call_id"), "mono"),
    ]
    return [(label, value, kind) for label, value, kind in rows if value not in (None, "")]
