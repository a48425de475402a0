"""The dashboard serving audio unhashed, as a baseline the audio benchmark measures in the same run
as the dashboard itself (`vobiz_dashboard.wsgi`); the two differ in nothing else.

BENCH_AUDIO_BASELINE says which body:
- "before": the audio path as it was before the audio hash, `iter_content` in 64 KiB chunks;
- "unhashed": the audio path as it is (`media.upstream_body`), its hash left out: against it, the
  dashboard's figures are the hash's own cost.
"""

import os
from collections.abc import Iterator

import requests

from vobiz_dashboard.wsgi import application

BEFORE_CHUNK_SIZE = 64 * 1024


def pass_audio_through(baseline: str) -> None:
    # Imported once Django is set up (by importing the application above).
    from recordings.auditing import audio_hashes
    from recordings.browsing.media import upstream_body

    def before(upstream: requests.Response, **_: object) -> Iterator[bytes]:
        return upstream.iter_content(BEFORE_CHUNK_SIZE)

    def unhashed(upstream: requests.Response, **_: object) -> Iterator[bytes]:
        return upstream_body(upstream)

    audio_hashes.served_chunks = {"before": before, "unhashed": unhashed}[baseline]


pass_audio_through(os.environ.get("BENCH_AUDIO_BASELINE", "before"))
__all__ = ["application"]
