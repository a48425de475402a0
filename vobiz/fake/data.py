"""Deterministic fake Vobiz recordings, generated on demand.

Recording number `seq` (0 = the oldest) is a pure function of (seed, seq, initial count), so an
account of a million recordings costs no memory: only deletions and test overrides are stored.
Lists are newest first, i.e. by descending seq (or oldest first, as the docs never state the
order); `add_recordings` appends seqs, which become the newest. Ids encode their seq reversibly, so
looking one up is O(1). The account's clock can be moved on: storage days and amounts grow with it,
as Vobiz's do once a day. `add_call` appends a call that has just ended (the live demo's): a call of
its own whose recording and CDR agree with the moment it ended. With `api_lag` set, a recording
added is unknown to the API (absent from the list, not found by id) for that many seconds, as a
callback may come before Vobiz's API knows its recording.
"""

import bisect
import functools
import threading
import time
from array import array
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

IST = timezone(timedelta(hours=5, minutes=30))
DEFAULT_NOW = datetime(2026, 5, 7, 18, 0, 0, tzinfo=IST)
RECORDING_TYPES = ("call", "conference", "trunk")

_US = 1_000_000
_DAY_US = 86_400 * _US
_YEAR_US = 365 * _DAY_US
_IST_OFFSET_US = 19_800 * _US
_EPOCH_DATE = date(1970, 1, 1)
_NEW_RECORDING_SPACING_US = 60 * _US  # recordings added later arrive a minute apart, after `now`
_MAX_GAP_IN_CALL_US = 90 * _US  # between consecutive recordings of one call
_STORAGE_RATE = 0.005
_FREE_STORAGE_DAYS = 30

_M64 = (1 << 64) - 1
_M48 = (1 << 48) - 1
_ODD48 = 0x5DEECE66D  # any odd multiplier is a bijection modulo 2**48
_ODD48_INVERSE = pow(_ODD48, -1, 1 << 48)

# Salts keep the hash streams of different purposes independent.
(
    _SALT_RECORDING,
    _SALT_CALL,
    _SALT_BLOCK,
    _SALT_RECORDING_ID,
    _SALT_CALL_UUID,
    _SALT_ACCOUNT,
    _SALT_CDR,
    _SALT_BRIDGE_UUID,
) = range(1, 9)


def _mix(x: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


# Recordings are laid out in blocks of 4 consecutive seqs; a block's pattern groups them into
# calls (most calls have one recording, some have two to four). Weights sum to 64.
_BLOCK = 4
_PATTERN_WEIGHTS = {
    (1, 1, 1, 1): 36,
    (2, 1, 1): 6,
    (1, 2, 1): 5,
    (1, 1, 2): 5,
    (2, 2): 3,
    (3, 1): 3,
    (1, 3): 3,
    (4,): 3,
}


def _layout(sizes: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """For each position in the block: (offset of its call's first recording, call size)."""
    layout: list[tuple[int, int]] = []
    first = 0
    for size in sizes:
        layout += [(first, size)] * size
        first += size
    return tuple(layout)


_LAYOUTS = tuple(_layout(p) for p, weight in _PATTERN_WEIGHTS.items() for _ in range(weight))
assert len(_LAYOUTS) == 64

_CONFERENCE_TOPICS = ("sales-standup", "support-escalation", "ops-bridge", "team-sync", "board-review")
_CALLER_NAMES = (
    "Priya Sharma",
    "Rahul Verma",
    "Ananya Iyer",
    "Vikram Singh",
    "Sneha Reddy",
    "Arjun Nair",
    "Kavya Menon",
    "Rohan Gupta",
    "",
    "",
)
_CODECS = ("PCMU", "PCMA", "OPUS", "G722")
_REGIONS = ("mumbai", "delhi", "bangalore", "chennai")
# (hangup_cause, code, name, hangup_source, disposition, answered?, percent of calls)
_HANGUPS = (
    ("NORMAL_CLEARING", 16, "Normal Hangup", "Caller", "recv_bye", True, 46),
    ("NORMAL_CLEARING", 16, "Normal Hangup", "Callee", "send_bye", True, 42),
    ("ORIGINATOR_CANCEL", 487, "Caller Cancelled", "Caller", "recv_cancel", False, 4),
    ("NO_ANSWER", 19, "No Answer", "Callee", "send_cancel", False, 3),
    ("USER_BUSY", 17, "Busy Line", "Callee", "send_refuse", False, 3),
    ("CALL_REJECTED", 21, "Rejected", "Callee", "send_refuse", False, 1),
    ("NORMAL_TEMPORARY_FAILURE", 41, "Network Error", "Callee", "send_refuse", False, 1),
)
_HANGUP_BY_PERCENT = tuple(h for h in _HANGUPS for _ in range(h[-1]))
assert len(_HANGUP_BY_PERCENT) == 100


@functools.lru_cache(maxsize=2048)
def _date_text(day: int) -> str:
    return (_EPOCH_DATE + timedelta(days=day)).isoformat()


def _format_add_time(t_us: int, six_digits: int) -> str:
    """Postgres-style local time, e.g. '2026-05-07 09:45:35.79276+05:30' (5 or 6 fraction digits)."""
    seconds, micro = divmod(t_us + _IST_OFFSET_US, _US)
    day, second_of_day = divmod(seconds, 86_400)
    hour, rest = divmod(second_of_day, 3600)
    # Postgres drops trailing zeros, so force the last kept digit to be non-zero.
    if six_digits:
        fraction = "%06d" % (micro - micro % 10 + 1 + micro % 9)
    else:
        fraction = "%05d" % (micro // 100 * 10 + 1 + micro % 9)
    return "%s %02d:%02d:%02d.%s+05:30" % (_date_text(day), hour, rest // 60, rest % 60, fraction)


def _iso_utc(t_us: int, millis: bool = False) -> str:
    text = datetime.fromtimestamp(t_us // _US, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{t_us // 1000 % 1000:03d}Z" if millis else f"{text}Z"


def _duration_ms(h: int) -> int:
    """Mostly 5 s to 10 min (log-uniform), a tenth up to an hour, a few up to three hours."""
    bucket = h % 1000
    u = ((h >> 10) & 0xFFFFF) / 0x100000
    low, high = (5, 600) if bucket < 900 else (600, 3600) if bucket < 990 else (3600, 10_800)
    return int(low * (high / low) ** u * 1000)


def _recording_format(h: int) -> str:
    return "wav" if h >> 60 < 6 else "mp3"  # 6 in 16 are wav


def _hangup_after_recording_us(h_cdr: int) -> int:
    """How long a call lasts after its last recording ends: 1 to 3 s."""
    return (1 + (h_cdr >> 16) % 3) * _US


def _call_type(hc: int) -> str:
    r = (hc >> 8) % 10  # 70% call, 10% conference, 20% trunk
    return RECORDING_TYPES[0 if r < 7 else 1 if r < 8 else 2]


class FakeAccount:
    """A Vobiz account holding `count` generated recordings (see the module docstring)."""

    def __init__(
        self,
        count: int = 1234,
        seed: int = 1,
        auth_id: str = "MA_FAKEDEMO",
        auth_token: str = "fake-token-0123456789abcdef",
        now: datetime = DEFAULT_NOW,
        media_base_url: str = "http://127.0.0.1:8765/media",
        max_audio_seconds: int | None = None,
        oldest_first: bool = False,
        duplicate_every: int = 0,
    ) -> None:
        self.seed = seed
        self.oldest_first = oldest_first  # the list's order is not documented: serve either
        # Every recording whose seq is a multiple of this is listed twice in a row (0: none), as the
        # same id appears twice in one of the docs' pages; the list's total counts both.
        self.duplicate_every = duplicate_every
        self.max_audio_seconds = max_audio_seconds  # caps served audio (not listed durations) for tests
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.media_base_url = media_base_url  # a FakeVobizServer points this at itself
        self._initial = count
        self._total = count  # seqs 0 .. total-1 exist, minus deletions
        self._now_us = int(now.timestamp()) * _US
        self._clock_us = self._now_us  # what storage days are counted up to; see advance_clock
        self._step_us = _YEAR_US // max(count, 1)
        self._key = _mix(seed)
        self._deleted: list[int] = []  # sorted seqs
        self._deleted_set: set[int] = set()
        self._overrides: dict[int, tuple[dict[str, Any], bool]] = {}  # seq -> (fields, replace)
        # seq -> add_time in µs of the calls add_call made, each of one recording
        self._ended_calls: dict[int, int] = {}
        self._type_index = {t: array("q") for t in RECORDING_TYPES}  # seqs by type, ascending
        self._type_indexed_upto = 0
        # Seconds after being added that a recording stays unknown to the API (0: known at once).
        self.api_lag = 0.0
        # The seqs added since, in order, and when (time.monotonic()): what api_lag hides.
        self._added_seqs: list[int] = []
        self._added_times: list[float] = []
        self._lock = threading.RLock()
        h = self._hash(0, _SALT_ACCOUNT)
        # The account's own numbers: callers dial these, outbound calls come from them.
        self._dids = tuple(f"91{7 + i % 3}{(h >> (8 * i)) % 10**9:09d}" for i in range(4))

    # ---- public API -------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return self._total - len(self._deleted)

    def add_recordings(self, n: int) -> list[str]:
        """Add n recordings at the head (newer than every existing one); returns their ids, newest first."""
        with self._lock:
            first = self._total
            self._total += n
            self._added(range(first, self._total))
            return [self._recording_id(seq) for seq in range(self._total - 1, first - 1, -1)]

    def add_call(self, ended_at: datetime) -> str:
        """Add a call of one recording that ended at `ended_at` (an aware datetime), as a live call's
        callback announces it: listed, retrieved and with its CDR at once. Returns the recording's id."""
        with self._lock:
            seq = self._total
            hangup_us = _hangup_after_recording_us(self._hash(seq, _SALT_CDR))
            self._ended_calls[seq] = int(ended_at.timestamp() * _US) - hangup_us
            self._total += 1
            self._added([seq])
            return self._recording_id(seq)

    def advance_clock(self, days: float = 1) -> None:
        """Let `days` pass: every recording's storage days (and amount) move on, nothing else."""
        with self._lock:
            self._clock_us += int(days * _DAY_US)

    def get(self, recording_id: str, *, unknown_too: bool = False) -> dict[str, Any] | None:
        """The recording as the API answers it; `unknown_too`: also one the API does not know yet
        (`api_lag`), as its callbacks describe it."""
        with self._lock:
            seq = self._live_seq(recording_id)
            if seq is None or (seq >= self._known_total() and not unknown_too):
                return None
            return self._object(seq)

    def delete(self, recording_id: str) -> bool:
        with self._lock:
            seq = self._live_seq(recording_id)
            if seq is None or seq >= self._known_total():
                return False
            bisect.insort(self._deleted, seq)
            self._deleted_set.add(seq)
            return True

    def page(
        self, offset: int, limit: int, call_uuid: str | None = None, recording_type: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Objects [offset, offset+limit) of the list (newest first unless `oldest_first`), and
        the list's total length."""
        with self._lock:
            known = self._known_total()
            if self.duplicate_every:
                listed = [seq for seq in self._listed_seqs(call_uuid, recording_type) if seq < known]
                return [self._object(seq) for seq in listed[offset : offset + limit]], len(listed)
            if call_uuid is None and recording_type is None:
                # The unknown are the newest, so the others keep their places counted from the oldest.
                total = known - bisect.bisect_left(self._deleted, known)
                count = min(limit, max(total - offset, 0))
                if self.oldest_first:
                    seqs = [self._seq_at(i) for i in range(offset, offset + count)]
                else:
                    seqs = self._newest_first_from(total - 1 - offset, count)
            else:
                live = [seq for seq in self._live_in_order(call_uuid, recording_type) if seq < known]
                total, seqs = len(live), live[offset : offset + limit]
            return [self._object(seq) for seq in seqs], total

    def _added(self, seqs: Iterable[int]) -> None:
        now = time.monotonic()
        for seq in seqs:
            self._added_seqs.append(seq)
            self._added_times.append(now)

    def _known_total(self) -> int:
        """Seqs below this are known to the API: those added in the last `api_lag` seconds are not."""
        if not self.api_lag:
            return self._total
        unknown_from = bisect.bisect_right(self._added_times, time.monotonic() - self.api_lag)
        return self._added_seqs[unknown_from] if unknown_from < len(self._added_seqs) else self._total

    def _live_in_order(self, call_uuid: str | None, recording_type: str | None) -> list[int]:
        candidates = self._filtered_seqs(call_uuid, recording_type)
        ordered: Iterable[int] = candidates if self.oldest_first else reversed(candidates)
        return [seq for seq in ordered if seq not in self._deleted_set]

    def _listed_seqs(self, call_uuid: str | None, recording_type: str | None) -> list[int]:
        """The whole list with its repeated entries (test accounts only: it costs O(count))."""
        if call_uuid is None and recording_type is None:
            live = [seq for seq in range(self._total) if seq not in self._deleted_set]
            if not self.oldest_first:
                live.reverse()
        else:
            live = self._live_in_order(call_uuid, recording_type)
        listed: list[int] = []
        for seq in live:
            listed.append(seq)
            if seq % self.duplicate_every == 0:
                listed.append(seq)
        return listed

    def set_override(
        self, recording_id_or_index: str | int, fields: dict[str, Any] | None, replace: bool = False
    ) -> None:
        """Change what one recording looks like in API answers (tests inject odd data this way).

        `recording_id_or_index` is a recording id or a position in the newest-first list.
        `fields` are merged into the object, or replace it whole with replace=True; None removes
        the override. Lookups keep using the generated recording id.
        """
        seq: int | None
        with self._lock:
            if isinstance(recording_id_or_index, int):
                live = self._total - len(self._deleted)
                if not 0 <= recording_id_or_index < live:
                    raise IndexError(recording_id_or_index)
                seq = self._seq_at(live - 1 - recording_id_or_index)
            else:
                seq = self._live_seq(recording_id_or_index)
                if seq is None:
                    raise KeyError(recording_id_or_index)
            if fields is None:
                self._overrides.pop(seq, None)
            else:
                self._overrides[seq] = (dict(fields), replace)

    def cdr(self, call_uuid: str) -> dict[str, Any] | None:
        """The call's CDR, or None when the call is unknown or still in progress."""
        with self._lock:
            start = self._decode_id(call_uuid, _SALT_CALL_UUID)
            if start is None or start >= self._total:
                return None
            first, size = self._call_of(start)
            if first != start:
                return None
            hc = self._hash(start, _SALT_CALL)
            if start not in self._ended_calls:
                # Nothing says the newest generated call has ended, so it has not: more of its
                # recordings may come. ~2% of the others never get a CDR.
                if start + size >= self._total or (hc >> 50) % 50 == 0:
                    return None
            return self._cdr(start, size, hc, call_uuid)

    def audio_spec(self, recording_id: str) -> tuple[str, int] | None:
        """(format, duration in ms) of a live recording's audio, from the generated data."""
        with self._lock:
            seq = self._live_seq(recording_id)
            if seq is None:
                return None
            hr = self._hash(seq, _SALT_RECORDING)
            duration_ms = _duration_ms(hr)
            if self.max_audio_seconds is not None:
                duration_ms = min(duration_ms, self.max_audio_seconds * 1000)
            return _recording_format(hr), duration_ms

    # ---- ids, order and filtering -----------------------------------------------------------

    def _hash(self, n: int, salt: int) -> int:
        return _mix(self._key ^ (n * 0x100000001B3 + salt) & _M64)

    def _uuid_like(self, n: int, salt: int) -> str:
        """A uuid4-looking id whose last group is a keyed bijection of n, so it can be decoded."""
        h = self._hash(n, salt)
        x = ((n ^ self._key) * _ODD48 & _M48) ^ salt
        x ^= x >> 24
        tail = x * _ODD48 & _M48
        return "%08x-%04x-4%03x-%04x-%012x" % (
            h >> 32,
            h >> 16 & 0xFFFF,
            h >> 4 & 0xFFF,
            0x8000 | (h ^ h >> 37) & 0x3FFF,
            tail,
        )

    def _decode_id(self, text: object, salt: int) -> int | None:
        """The n that _uuid_like(n, salt) turned into `text`, or None if it is not one of ours."""
        if not isinstance(text, str) or len(text) != 36:
            return None
        try:
            x = int(text[24:], 16) * _ODD48_INVERSE & _M48
        except ValueError:
            return None
        x ^= x >> 24
        n = ((x ^ salt) * _ODD48_INVERSE & _M48) ^ (self._key & _M48)
        return n if self._uuid_like(n, salt) == text else None

    def _recording_id(self, seq: int) -> str:
        return self._uuid_like(seq, _SALT_RECORDING_ID)

    def _live_seq(self, recording_id: object) -> int | None:
        seq = self._decode_id(recording_id, _SALT_RECORDING_ID)
        if seq is None or seq >= self._total or seq in self._deleted_set:
            return None
        return seq

    def _seq_at(self, i: int) -> int:
        """The seq of the i-th live recording counting from the oldest (i >= 0)."""
        # deleted[j] - j is the number of live seqs before deleted[j]; it never decreases.
        lo, hi = 0, len(self._deleted)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._deleted[mid] - mid <= i:
                lo = mid + 1
            else:
                hi = mid
        return i + lo

    def _newest_first_from(self, i: int, n: int) -> list[int]:
        """n live seqs going down from the i-th oldest live one."""
        if n <= 0:
            return []
        seqs: list[int] = []
        seq = self._seq_at(i)
        while len(seqs) < n:
            if seq not in self._deleted_set:
                seqs.append(seq)
            seq -= 1
        return seqs

    def _filtered_seqs(self, call_uuid: str | None, recording_type: str | None) -> Sequence[int]:
        """Ascending seqs (deleted included) matching the filters."""
        if call_uuid is not None:
            start = self._decode_id(call_uuid, _SALT_CALL_UUID)
            if start is None or self._call_of(start)[0] != start:
                return []
            seqs = range(start, min(start + self._call_of(start)[1], self._total))
            if recording_type is None:
                return seqs
            return [s for s in seqs if self._type_of(s) == recording_type]
        if recording_type not in self._type_index:
            return []
        # Types never change, so the index only has to catch up with added recordings.
        for seq in range(self._type_indexed_upto, self._total):
            self._type_index[self._type_of(seq)].append(seq)
        self._type_indexed_upto = self._total
        return self._type_index[recording_type]

    # ---- generation -------------------------------------------------------------------------

    def _call_of(self, seq: int) -> tuple[int, int]:
        """(first seq of the call that `seq` belongs to, number of recordings in that call)."""
        block, position = divmod(seq, _BLOCK)
        offset, size = _LAYOUTS[self._hash(block, _SALT_BLOCK) & 63][position]
        first = block * _BLOCK + offset
        if not self._ended_calls:
            return first, size
        if seq in self._ended_calls:
            return seq, 1
        # A call of the layout that add_call's calls cut into: its part on seq's side of them.
        end = first + size
        first = max([first] + [s + 1 for s in range(first, seq) if s in self._ended_calls])
        end = min([end] + [s for s in range(seq + 1, end) if s in self._ended_calls])
        return first, end - first

    def _type_of(self, seq: int) -> str:
        return _call_type(self._hash(self._call_of(seq)[0], _SALT_CALL))

    def _slot_start(self, seq: int) -> int:
        """Start of seq's time slot: the initial recordings share the past year; later ones follow `now`."""
        if seq <= self._initial:
            return self._now_us - _YEAR_US + seq * self._step_us
        return self._now_us + (seq - self._initial) * _NEW_RECORDING_SPACING_US

    def _add_time_us(self, seq: int, start: int, size: int, hc: int) -> int:
        """When the recording was added: a call's recordings sit close together inside the
        first one's slot, so add_time strictly increases with seq; add_call's when its call ended."""
        if seq in self._ended_calls:
            return self._ended_calls[seq]
        left = self._slot_start(start)
        width = self._slot_start(start + 1) - left
        gap = min(_MAX_GAP_IN_CALL_US, width // (2 * size))
        return left + hc % (width // 2 + 1) + (seq - start) * gap

    def _parties(self, hc: int) -> tuple[str, str, str]:
        """(direction, from_number, to_number) of a call; about 1 number in 8 lacks the '+'."""
        customer = f"91{6 + (hc >> 12) % 4}{(hc >> 16) % 10**9:09d}"
        did = self._dids[(hc >> 46) % len(self._dids)]
        inbound = (hc >> 48) & 1
        caller, callee = (customer, did) if inbound else (did, customer)
        plus_from = "" if (hc >> 52) % 8 == 0 else "+"
        plus_to = "" if (hc >> 55) % 8 == 0 else "+"
        return ("inbound" if inbound else "outbound"), plus_from + caller, plus_to + callee

    def _object(self, seq: int) -> dict[str, Any]:
        override = self._overrides.get(seq)
        if override is not None and override[1]:
            return dict(override[0])
        obj = self._generate(seq)
        if override is not None:
            obj.update(override[0])
        return obj

    def _generate(self, seq: int) -> dict[str, Any]:
        start, size = self._call_of(seq)
        hc = self._hash(start, _SALT_CALL)
        hr = self._hash(seq, _SALT_RECORDING)
        add_us = self._add_time_us(seq, start, size, hc)
        duration_ms = _duration_ms(hr)
        recording_type = _call_type(hc)
        recording_format = _recording_format(hr)
        recording_id = self._recording_id(seq)
        _, from_number, to_number = self._parties(hc)
        conference_name: str | None
        if recording_type == "conference":
            conference_name = f"{_CONFERENCE_TOPICS[(hc >> 20) % 5]}-{(hc >> 24) % 1000:03d}"
        else:
            conference_name = None if (hc >> 34) & 1 else ""
        start_ms: str | None
        end_ms: str | None
        if (hr >> 40) % 4 == 0 and seq not in self._ended_calls:  # a quarter lack start/end times
            start_ms = end_ms = None
        else:
            end = add_us // 1000
            start_ms, end_ms = f"{end - duration_ms}.00000", f"{end}.00000"
        rounded = max(60, -(-duration_ms // 60_000) * 60)
        media = self.media_base_url
        stored_days = max(0, (self._clock_us - add_us) // _DAY_US)
        amount = round(rounded / 60 * _STORAGE_RATE, 5) if stored_days > _FREE_STORAGE_DAYS else 0
        return {
            "add_time": _format_add_time(add_us, (hr >> 44) & 1),
            "call_uuid": self._uuid_like(start, _SALT_CALL_UUID),
            "conference_name": conference_name,
            "from_number": from_number,
            "monthly_recording_storage_amount": amount,
            "recording_duration_ms": f"{duration_ms}.00000",
            "recording_end_ms": end_ms,
            "recording_format": recording_format,
            "recording_id": recording_id,
            "recording_start_ms": start_ms,
            "recording_storage_duration": stored_days,
            "recording_storage_rate": _STORAGE_RATE,
            "recording_type": recording_type,
            "recording_url": f"{media}/{self.auth_id}/Recording/{recording_id}.{recording_format}",
            "resource_uri": f"/v1/Account/{self.auth_id}/Recording/{recording_id}/",
            "rounded_recording_duration": rounded,
            "to_number": to_number,
        }

    def _cdr(self, start: int, size: int, hc: int, call_uuid: str) -> dict[str, Any]:
        h = self._hash(start, _SALT_CDR)  # drives what only the CDR shows
        spans = []  # (recording start, recording end) in µs
        for seq in range(start, start + size):
            end = self._add_time_us(seq, start, size, hc)
            spans.append((end - _duration_ms(self._hash(seq, _SALT_RECORDING)) * 1000, end))
        cause, code, name, source, disposition, answered, _ = _HANGUP_BY_PERCENT[h % 100]
        ring = 2 + (h >> 8) % 25
        answer_us = min(s for s, _ in spans) - _US
        start_us = answer_us - ring * _US
        end_us = max(e for _, e in spans) + _hangup_after_recording_us(h)
        billsec = (end_us - answer_us) // _US if answered else 0
        cost = round(-(-billsec // 60) * 0.45, 4)  # 0.45 INR per started minute
        as_text = (h >> 20) & 1  # the docs show money both as strings and as numbers

        def money(value: float) -> str | float:
            return f"{value:.4f}" if as_text else value

        direction, from_number, to_number = self._parties(hc)
        if direction == "inbound":
            caller_name = _CALLER_NAMES[(h >> 24) % len(_CALLER_NAMES)]
        else:
            caller_name = "Fake Demo Pvt Ltd"
        return {
            "id": 41_000_000 + start,
            "uuid": call_uuid,
            "account_id": self.auth_id,
            "sub_account_id": None,
            "trunk_id": f"TR_{h >> 28 & 0xFFFFFF:08d}" if _call_type(hc) == "trunk" else None,
            "parent_call_uuid": None,
            "call_direction": direction,
            "caller_id_name": caller_name,
            "caller_id_number": from_number,
            "destination_number": to_number,
            "start_time": _iso_utc(start_us),
            "progress_time": _iso_utc(start_us + _US),
            "answer_time": _iso_utc(answer_us) if answered else None,
            "end_time": _iso_utc(end_us),
            "duration": (end_us - start_us) // _US,
            "billsec": billsec,
            "ring_time": ring,
            "hangup_cause": cause,
            "hangup_cause_code": code,
            "hangup_cause_name": name,
            "hangup_source": source,
            "hangup_disposition": disposition,
            "cost": money(cost),
            "total_cost": money(cost),
            "streaming_cost": money(0.0),
            "currency": "INR",
            "codec": _CODECS[(h >> 32) % len(_CODECS)],
            "mos": round(3.5 + (h >> 36) % 100 / 100, 2) if answered else None,
            "jitter": round((h >> 44) % 400 / 10, 1),
            "packet_loss": round((h >> 54) % 50 / 10, 1),
            "region": _REGIONS[(h >> 60) % len(_REGIONS)],
            "origination_region": _REGIONS[(h >> 62) % len(_REGIONS)],
            "sip_call_id": f"{h:016x}@sip.vobiz.ai",
            "bridge_uuid": self._uuid_like(start, _SALT_BRIDGE_UUID) if answered else None,
            "failure_code": None if answered else code,
            "failure_reason": None if answered else name,
            "created_at": _iso_utc(end_us + 2 * _US, millis=True),
            "updated_at": _iso_utc(end_us + 5 * _US, millis=True),
        }
