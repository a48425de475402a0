"""The dashboard serving audio as it did before the audio hash: each body passed through unhashed.

Served only by bench/audio_benchmark.py, as the baseline measured in the same run as the dashboard
itself (`vobiz_dashboard.wsgi`); the two differ in nothing else.
"""

from collections.abc import Iterator

import requests

from vobiz_dashboard.wsgi import application


def pass_audio_through() -> None:
    # Imported once Django is set up (by importing the application above).
    from recordings.auditing import audio_hashes
    from recordings.browsing.media import CHUNK_SIZE

    def unhashed(upstream: requests.Response, **_: object) -> Iterator[bytes]:
        return upstream.iter_content(CHUNK_SIZE)

    audio_hashes.served_chunks = unhashed


pass_audio_through()
__all__ = ["application"]
