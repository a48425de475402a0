"""Vobiz's callbacks: no login and no CSRF token, a signature instead (see recordings/live/callbacks.py).

Each answers at once: a refused callback 403 (logged without the token, changing nothing), an
unusable body 400 or 413 (its nonce spent), an accepted one 200 once what it brings is queued or
stored, and 503 when the database fails meanwhile (nothing kept, so Vobiz's retry is taken). The
nonce is spent in the same transaction as the change, so a callback that failed can be sent again;
with the database queue the fetch is queued in it too, so that the answer waits on a single commit.
"""

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from recordings.live import callbacks, transcripts
from recordings.live.callbacks import (
    MAX_BODY_BYTES,
    CallbackInvalid,
    CallbackRefused,
    CallbackTooLarge,
    RecordingCallback,
    form_fields,
    let_commit_lag,
    spend_nonces,
    verified_nonces,
)
from recordings.live.store import queue_recording_fetch
from recordings.live.transcripts import MaskedTranscription

logger = logging.getLogger("recordings.live.callbacks")
REFUSED = "Refused: not signed by Vobiz for this URL, or already received."

Callback = TypeVar("Callback", RecordingCallback, MaskedTranscription)


def answer(status: int, text: str) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


def handle(
    request: HttpRequest,
    read: Callable[[Mapping[str, str]], Callback],
    act: Callable[[Callback], str],
    *,
    recoverable: bool = False,
) -> HttpResponse:
    """Checks the signature, reads the body with `read` and, in one transaction with spending the
    nonces, calls `act` with what it read; returns the answer. `recoverable`: what `act` changes,
    the next sync would bring anyway, so the answer need not wait for the commit to reach the disk."""
    path = request.path_info
    try:
        nonces = verified_nonces(request.headers, path)
    except CallbackRefused as exc:
        logger.warning("refused a callback to %s from %s: %s", path, request.META.get("REMOTE_ADDR"), exc)
        return answer(403, REFUSED)
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = -1
    try:
        if not 0 <= length <= MAX_BODY_BYTES:
            raise CallbackTooLarge(f"a body of at most {MAX_BODY_BYTES} bytes, not {length}")
        if request.content_type not in ("application/x-www-form-urlencoded", ""):
            raise CallbackInvalid(f"a form (application/x-www-form-urlencoded) expected, not {request.content_type}")
        callback = read(form_fields(request.body))
    except CallbackInvalid as exc:
        # Spent all the same: the signature does not cover the body, so the same headers must
        # not come back later with another one.
        try:
            with transaction.atomic():
                spend_nonces(nonces)
        except CallbackRefused as refused:
            logger.warning("refused a callback to %s: %s", path, refused)
            return answer(403, REFUSED)
        except DatabaseError as error:
            logger.warning("could not take a callback to %s: %s", path, error)
            return answer(503, "Not taken: the database is unavailable. Send it again.")
        logger.warning("refused a callback to %s: %s", path, exc)
        status = 413 if isinstance(exc, CallbackTooLarge) else 400
        return answer(status, f"Unusable callback: {exc}.")
    try:
        with transaction.atomic():
            if recoverable:
                let_commit_lag()
            spend_nonces(nonces)
            done = act(callback)
    except CallbackRefused as exc:
        logger.warning("refused a callback to %s for %s: %s", path, callback.recording_id, exc)
        return answer(403, REFUSED)
    except DatabaseError as exc:  # nothing was kept, the nonce included: Vobiz's retry is taken
        logger.warning("could not take a callback to %s for %s: %s", path, callback.recording_id, exc)
        return answer(503, "Not taken: the database is unavailable. Send it again.")
    logger.info("callback to %s for %s: %s", path, callback.recording_id, done)
    return answer(200, done)


def queue_fetch(callback: RecordingCallback) -> str:
    queue_recording_fetch(callback.recording_id)
    return "queued: the recording is fetched from Vobiz"


def read_transcription(fields: Mapping[str, str]) -> MaskedTranscription:
    """The transcription, masked here: before the transaction opens (a 1 MB body takes under a second)."""
    return transcripts.masked_transcription(callbacks.transcription_callback(fields))


def store_transcription(transcription: MaskedTranscription) -> str:
    transcript = transcripts.store_transcription(transcription)
    return f"stored, with {', '.join(transcript.masked_kinds)} masked" if transcript.masked else "stored"


@login_not_required
@csrf_exempt
@sensitive_post_parameters("transcription")
@require_POST
def recording_callback(request: HttpRequest) -> HttpResponse:
    return handle(request, callbacks.recording_callback, queue_fetch, recoverable=True)


@login_not_required
@csrf_exempt
@sensitive_post_parameters("transcription", "error")
@require_POST
def transcription_callback(request: HttpRequest) -> HttpResponse:
    return handle(request, read_transcription, store_transcription)
