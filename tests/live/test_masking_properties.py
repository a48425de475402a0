"""Properties of the masker over random Unicode and random mixes of digits and words: it never
raises, what it keeps is the input's own text in order, a value it masks is gone, and masking
what it masked changes nothing (re-masking stored transcripts is safe)."""

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from recordings.live.masking import PLACEHOLDER, mask
from tests.live.masking_corpus import card, grouped

WORDS = [
    "card",
    "cvv",
    "C",
    "V",
    "expiry",
    "aadhaar",
    "pan",
    "otp",
    "pin",
    "code",
    "account",
    "number",
    "order",
    "imei",
    "oh",
    "o",
    "for",
    "double",
    "triple",
    "hundred",
    "forty",
    "eleven",
    "one",
    "nought",
    "um",
    "and",
    "okay",
    "Agent:",
    "Customer:",
    "speaker",
    "the",
    "back",
    "is",
    "my",
    "valid",
    "till",
    "ABCPE",
    "1234F",
    "-",
    "–",
    "--",
    ".",
    ",",
    "(",
    ")",
    "\u200b",
    "\n",
    "¹",
    "①",
    "४",
    "１",
]
pieces = st.one_of(st.sampled_from(WORDS), st.from_regex(r"[0-9]{1,5}", fullmatch=True), st.text(max_size=3))
mixes = st.lists(pieces, max_size=60).map(" ".join)
anything = st.one_of(st.text(max_size=300), mixes)


def is_subsequence(kept: str, text: str) -> bool:
    rest = iter(text)
    return all(char in rest for char in kept)


@settings(max_examples=400, deadline=None)
@given(anything)
def test_never_raises_and_keeps_only_the_input_in_order(text):
    masked = mask(text)
    assert "\ue000" not in masked.text and "\ue001" not in masked.text
    unmarked = text.replace("\ue000", "").replace("\ue001", "")
    placeholders = PLACEHOLDER.findall(masked.text)
    assert bool(masked.kinds) == (len(placeholders) > len(PLACEHOLDER.findall(unmarked)))  # one mask may name two
    assert is_subsequence(PLACEHOLDER.sub("", masked.text), unmarked)
    assert len(masked.text) <= len(text) + sum(map(len, placeholders))


@settings(max_examples=400, deadline=None)
@given(anything)
def test_masking_again_changes_nothing(text):
    once = mask(text).text
    again = mask(once)
    assert again.text == once and again.kinds == []


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), mixes, mixes, st.sampled_from([" ", "-", " – ", " um ", " and ", "\u200b"]))
def test_a_card_said_among_anything_is_gone(rng: random.Random, before, after, separator):
    number = card(rng)
    text = f"{before} my card number is {grouped(number, [4, 4, 4, 4], separator)}. {after}"
    masked = mask(text)
    assert "card number" in masked.kinds
    # No more of the card's middle digits than the words around it hold of their own.
    middle = number[6:-4]
    assert occurrences(middle, masked.text) <= occurrences(middle, before) + occurrences(middle, after)


def occurrences(digits: str, text: str) -> int:
    return sum(run.count(digits) for run in re.findall("[0-9]+", text))
