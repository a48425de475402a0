"""Share links: made and revoked from a recording's page; opened, without an account, at /s/<token>.

A link that does not work (unknown, expired, revoked, its recording deleted) gets one answer,
whichever the reason: the same status and the same body. A visitor's refused request is logged
with the token left out of its path: the token opens the recording.
"""

import logging
from collections.abc import Callable
from functools import wraps
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.log import log_response
from django.views.decorators.http import require_http_methods, require_POST

from recordings import concurrency
from recordings.audit_trail import Actor, client_ip
from recordings.browsing import media
from recordings.forms import ShareLinkForm
from recordings.models import Recording, ShareLink
from recordings.roles import can_share, listener_required
from recordings.sharing import links
from recordings.views.common import SignedInRequest, actor_of, form_errors
from recordings.vobiz_account import client_from_settings
from vobiz.client import INTERACTIVE, VobizError

logger = logging.getLogger(__name__)

STREAMS_PER_LINK = 4
MADE = "share_made"  # the session's key for a link just made: its id and token, shown once
SharedView = Callable[..., HttpResponse | StreamingHttpResponse]


def sharer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """403 for a user who may not share (roles.can_share), as permission_required answers."""

    @wraps(view)
    def checked(request: SignedInRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not can_share(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return checked


@listener_required
@sharer_required
@require_POST
def make_link(request: SignedInRequest, recording_id: str) -> HttpResponse:
    """Make a link and send the browser to see it, so that reloading makes no second link. Only
    its hash is kept; the token waits in the session for that one display."""
    recording = get_object_or_404(Recording, recording_id=recording_id)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"No link was made: {form_errors(form)}")
        return redirect("recordings:detail", recording_id=recording_id)
    data = form.cleaned_data
    try:
        made = links.make_link(
            actor=actor_of(request),
            recording=recording,
            note=data["note"],
            hours=data["hours"],
            start_ms=data["start"],
            show_numbers=data["show_numbers"],
        )
    except links.ShareRefused as exc:
        messages.error(request, f"No link was made: {exc}.")
        return redirect("recordings:detail", recording_id=recording_id)
    request.session[MADE] = {"link": made.link.pk, "token": made.token}
    return redirect("recordings:share_made", link_id=made.link.pk)


@listener_required
@sharer_required
@require_http_methods(["GET"])
def link_made(request: SignedInRequest, link_id: int) -> HttpResponse:
    """The link just made, shown once: the token leaves the session as it is shown."""
    link = get_object_or_404(ShareLink.objects.select_related("recording"), pk=link_id)
    made = request.session.get(MADE)
    if not isinstance(made, dict) or made.get("link") != link.pk:
        messages.info(
            request,
            f"The link for {link.note} was shown once, when it was made: if it is lost, revoke it and make another.",
        )
        return redirect("recordings:detail", recording_id=link.recording.recording_id)
    del request.session[MADE]
    response = render(
        request,
        "recordings/share_made.html",
        {
            "recording": link.recording,
            "link": link,
            "url": request.build_absolute_uri(reverse("recordings:shared", args=[made["token"]])),
        },
    )
    add_never_cache_headers(response)  # the token is in it
    return response


@listener_required
@sharer_required
@require_POST
def revoke_link(request: SignedInRequest, link_id: int) -> HttpResponse:
    link = get_object_or_404(ShareLink.objects.select_related("recording"), pk=link_id)
    if links.revoke(actor=actor_of(request), link=link):
        messages.success(request, f"The link for {link.note} no longer works.")
    else:
        messages.info(request, f"The link for {link.note} was revoked already.")
    return redirect("recordings:detail", recording_id=link.recording.recording_id)


# ---------- what a visitor without an account sees ----------


def visitor(request: HttpRequest) -> Actor:
    return Actor(user=None, ip_address=client_ip(request), user_agent=request.headers.get("User-Agent", ""))


def private(response: HttpResponse | StreamingHttpResponse) -> HttpResponse | StreamingHttpResponse:
    """Kept out of caches, search engines and other sites' Referer headers."""
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def refused(request: HttpRequest) -> HttpResponse:
    """The one answer for a link that does not work, whatever the reason."""
    return render(request, "recordings/share_refused.html", status=404)


def shared(view: SharedView) -> SharedView:
    """A visitor's view of the link `token`: within the rate limits, with a working link, private."""

    @login_not_required
    @wraps(view)
    def checked(request: HttpRequest, token: str) -> HttpResponse | StreamingHttpResponse:
        if not links.within_limits(token=token, address=client_ip(request)):
            response: HttpResponse | StreamingHttpResponse = HttpResponse(
                "Too many requests: try again later.", status=429, content_type="text/plain"
            )
            response["Retry-After"] = "600"
        elif (link := links.working_link(token)) is None:
            response = refused(request)
        else:
            response = view(request, link, token)
        if response.status_code >= 400:  # logged here, so that Django's request log never shows the token
            log_response(  # the stubs say HttpResponse; Django logs a streaming response the same way
                "%s: %s",
                response.reason_phrase,
                redacted_path(request.path, token),
                response=cast(HttpResponse, response),
                request=None,
            )
        return private(response)

    return checked


def redacted_path(path: str, token: str) -> str:
    """ "/s/<token>/audio" for "/s/AbC…/audio"."""
    return path.replace(token, "<token>") if token else path


@require_http_methods(["GET", "HEAD"])
@shared
def shared_page(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    if request.method == "GET":
        links.record_open(link=link, actor=visitor(request))
    return render(
        request,
        "recordings/shared.html",
        {
            "link": link,
            "recording": link.recording,
            "audio_url": reverse("recordings:shared_audio", args=[token]),
            "start": (link.start_ms or 0) // 1000,
        },
    )


@require_http_methods(["GET", "HEAD"])
@shared
def shared_audio(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse | StreamingHttpResponse:
    recording = link.recording
    try:
        slot = concurrency.acquire("share-stream", link.pk, STREAMS_PER_LINK)
    except concurrency.TooMany:
        return HttpResponse("Too many players are open on this link.", status=429, content_type="text/plain")
    closers = [slot.release]
    try:
        target = media.check(recording.recording_url)
        client = client_from_settings(INTERACTIVE)
        closers.append(client.close)
        upstream = media.open_audio(target, request.headers.get("Range"), client=client)
    except (media.MediaRefused, VobizError) as exc:
        media.StreamBody((), *closers).close()
        logger.warning("shared audio for %s not fetched: %s", recording.recording_id, exc)
        return HttpResponse("The audio cannot be played now.", status=502, content_type="text/plain")
    response = StreamingHttpResponse(
        media.StreamBody(media.upstream_body(upstream) if request.method == "GET" else (), upstream.close, *closers),
        status=upstream.status_code,
        content_type=media.content_type(recording, upstream.headers.get("Content-Type")),
    )
    if request.method == "GET":
        links.record_play(
            link=link,
            actor=visitor(request),
            status=upstream.status_code,
            content_range=upstream.headers.get("Content-Range"),
        )
    for header in media.PASSED_HEADERS:
        if header in upstream.headers:
            response[header] = upstream.headers[header]
    return response
