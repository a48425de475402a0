"""Where the pages of a moving recording list stand, and what of the list no page has read yet.

Vobiz's list is paged by offset and moves while it is read: recordings arrive at the newest end
(and some are deleted). Offsets alone cannot say which rows a page holds once the list has moved,
but every page's `total_count` says how long the list was when that page was served. Rows are
therefore placed by their index counted from the oldest recording, which arrivals never move: in a
newest-first list the page at `offset` holding `n` rows of a list of `total` holds indexes
[total - offset - n, total - offset); in an oldest-first list, [offset, offset + n). Whatever of
the list's indexes no page covered is a hole, read again until none is left.
"""

import bisect
from collections.abc import Iterable, Iterator

NEWEST_FIRST = "newest_first"
OLDEST_FIRST = "oldest_first"

Span = tuple[int, int]  # [low, high) indexes counted from the oldest recording


class Spans:
    """A set of indexes kept as sorted, disjoint, non-adjacent [low, high) spans."""

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        self.lows: list[int] = []
        self.highs: list[int] = []
        for low, high in spans:
            self.add(low, high)

    def add(self, low: int, high: int) -> None:
        if low >= high:
            return
        # Every span that touches [low, high) merges into it.
        first = bisect.bisect_left(self.highs, low)
        last = bisect.bisect_right(self.lows, high)
        if first < last:
            low = min(low, self.lows[first])
            high = max(high, self.highs[last - 1])
        self.lows[first:last] = [low]
        self.highs[first:last] = [high]

    def __iter__(self) -> Iterator[Span]:
        return iter(zip(self.lows, self.highs))

    def __bool__(self) -> bool:
        return bool(self.lows)

    def size(self) -> int:
        return sum(high - low for low, high in self)

    def span_containing(self, index: int) -> Span | None:
        at = bisect.bisect_right(self.lows, index) - 1
        if at >= 0 and index < self.highs[at]:
            return self.lows[at], self.highs[at]
        return None

    def minus(self, other: "Spans") -> "Spans":
        result = Spans()
        for low, high in self:
            at = low
            start = max(0, bisect.bisect_right(other.highs, low))
            for other_low, other_high in zip(other.lows[start:], other.highs[start:]):
                if other_low >= high:
                    break
                if other_low > at:
                    result.add(at, other_low)
                at = max(at, other_high)
            if at < high:
                result.add(at, high)
        return result

    def as_list(self) -> list[list[int]]:
        return [[low, high] for low, high in self]


def placed(order: str, offset: int, count: int, total: int) -> Span:
    """The indexes (from the oldest) that `count` rows served at `offset` of a list of `total` hold."""
    if order == OLDEST_FIRST:
        return offset, offset + count
    return total - offset - count, total - offset


def offset_for(order: str, span: Span, total: int) -> int:
    """The offset of a page that starts with the newest (or, oldest first, the oldest) row of `span`."""
    if order == OLDEST_FIRST:
        return max(0, span[0])
    return max(0, total - span[1])


def row_indexes(order: str, span: Span, count: int) -> range:
    """Each served row's index, in the order the page holds them."""
    low, high = span
    return range(low, low + count) if order == OLDEST_FIRST else range(high - 1, high - 1 - count, -1)


def chunks(holes: Spans, step: int, order: str) -> Iterator[Span]:
    """Holes cut into page-sized spans, each read as one page; a short last piece is read with the
    rows around it, so that a page served after a few more arrivals still covers it."""
    for low, high in holes:
        if order == OLDEST_FIRST:
            for at in range(low, high, step):
                yield at, min(at + step, high)
        else:
            for at in range(high, low, -step):
                yield max(low, at - step), at


def observed_order(add_times: list) -> str:
    """NEWEST_FIRST or OLDEST_FIRST if the served add_times say so, else ""."""
    times = [t for t in add_times if t is not None]
    pairs = list(zip(times, times[1:]))
    descending = all(a >= b for a, b in pairs)
    ascending = all(a <= b for a, b in pairs)
    if descending and not ascending:
        return NEWEST_FIRST
    if ascending and not descending:
        return OLDEST_FIRST
    return ""
