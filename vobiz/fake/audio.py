"""Playable fake call audio: 8 kHz stereo, the caller on the left channel and the callee on the right.

The two sides take turns "speaking" in tone bursts of different pitch (the caller lower), so muting
one channel is audible. A few seconds of conversation are synthesised once and repeated to the
recording's length; finished files are kept in a small cache so Range requests are cheap.
"""

import functools
import io
import math
import random
import sys
import threading
import wave
from array import array
from collections import OrderedDict
from collections.abc import Callable

import lameenc

SAMPLE_RATE = 8000
MAX_SECONDS = 15 * 60  # longer recordings get 15 minutes of audio
MP3_BITRATE_KBPS = 24
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}

_BYTES_PER_FRAME = 4  # 16-bit samples, two channels
_CACHE_BUDGET_BYTES = 64 * 1024 * 1024
_cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()  # (format, duration_ms), least recently used first
_cache_bytes = 0
_cache_lock = threading.Lock()


def render(recording_format: str, duration_ms: int) -> bytes:
    """The bytes of a `recording_format` ("mp3" or "wav") file lasting duration_ms (capped)."""
    global _cache_bytes
    key = (recording_format, min(duration_ms, MAX_SECONDS * 1000))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    # Rendered outside the lock: encoding a long MP3 takes a moment, other requests go on.
    data = _ENCODERS[recording_format](_pcm(key[1] * SAMPLE_RATE // 1000))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = data
            _cache_bytes += len(data)
            while _cache_bytes > _CACHE_BUDGET_BYTES and len(_cache) > 1:
                _cache_bytes -= len(_cache.popitem(last=False)[1])
    return data


def _pcm(frames: int) -> bytes:
    """frames of interleaved 16-bit little-endian stereo: the conversation, repeated."""
    cycle = _conversation()
    size = frames * _BYTES_PER_FRAME
    repeats, rest = divmod(size, len(cycle))
    return cycle * repeats + cycle[:rest]


@functools.cache
def _conversation() -> bytes:
    """About 16 seconds of alternating turns, as interleaved stereo PCM bytes."""
    rng = random.Random(7)
    samples = array("h")
    base_pitch = (180.0, 330.0)  # caller (left), callee (right)
    for turn in range(8):
        speaker = turn % 2
        for _ in range(rng.randint(3, 7)):  # syllables
            pitch = base_pitch[speaker] * rng.uniform(0.85, 1.25)
            _append_tone(samples, speaker, pitch, rng.uniform(0.1, 0.35))
            _append_silence(samples, rng.uniform(0.03, 0.12))
        _append_silence(samples, rng.uniform(0.3, 0.9))  # the other side gets ready to answer
    if sys.byteorder == "big":
        samples.byteswap()  # WAV and LAME want little-endian
    return samples.tobytes()


def _append_tone(samples: "array[int]", channel: int, pitch: float, seconds: float) -> None:
    n = int(seconds * SAMPLE_RATE)
    fade = SAMPLE_RATE // 100  # 10 ms ramps avoid clicks
    step = 2 * math.pi * pitch / SAMPLE_RATE
    for i in range(n):
        envelope = min(1.0, i / fade, (n - i) / fade)
        value = int(9000 * envelope * (math.sin(step * i) + 0.35 * math.sin(2 * step * i)))
        samples.extend((value, 0) if channel == 0 else (0, value))


def _append_silence(samples: "array[int]", seconds: float) -> None:
    samples.extend([0] * (2 * int(seconds * SAMPLE_RATE)))


def _wav(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()


def _mp3(pcm: bytes) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(2)
    encoder.set_bit_rate(MP3_BITRATE_KBPS)
    encoder.set_quality(7)  # fastest; plenty for tones
    encoder.silence()
    return bytes(encoder.encode(pcm) + encoder.flush())


_ENCODERS: dict[str, Callable[[bytes], bytes]] = {"wav": _wav, "mp3": _mp3}
