"""Masks payment and identity data in transcripts before they are stored.

PCI DSS forbids keeping card security codes after authorisation, and a searchable transcript
holding card or ID numbers is a finding. So, before a transcript is stored, this replaces:

- card numbers: 13 to 19 digits passing the Luhn check, written together or in groups;
- the digits that follow words like "CVV" or "security code";
- Aadhaar numbers: 12 digits passing the Verhoeff check;
- PAN (India's permanent account number): five letters, four digits, a letter.

Transcribers write numbers as digits ("4111 1111 …") or as words ("four one one one …", "double
five", "oh"), so the text is read as tokens, number words turned into digits, and a number is a run
of digit tokens with nothing but spaces, hyphens, commas or full stops between them.
"""

import re
from dataclasses import dataclass

CARD = "card number"
SECURITY_CODE = "security code"
AADHAAR = "Aadhaar number"
PAN = "PAN"

DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nil": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
REPEATERS = {"double": 2, "triple": 3}
# Words after which the next number is a security code; "code" must follow "security"/"verification".
SECURITY_WORDS = {"cvv", "cvv2", "cvc", "cvc2", "cvn", "csc", "cid"}
SECURITY_PHRASES = (("security", "code"), ("verification", "code"), ("card", "verification"))
PHRASE_STARTS = {first for first, _ in SECURITY_PHRASES}
WORDS_BEFORE_CODE = 6  # "CVV is, um, it's 1 2 3": how far after the word the code may start
MAX_CODE_DIGITS = 4
JOINERS = {"-", ",", ".", "/"}  # may sit between the groups of one number

# Digits and letters apart, so that "card4111…" still holds a number.
TOKEN = re.compile(r"\d+|[^\W\d_]+|[^\w\s]")
PAN_SHAPE = re.compile(r"[A-Z]{5}[0-9]{4}[A-Z]")
PAN_START = re.compile(r"[A-Z]{1,5}|[A-Z]{5}[0-9]{1,4}|[A-Z]{5}[0-9]{4}[A-Z]")  # what a PAN may begin with
PAN_WORD = re.compile(r"(?<![^\W_])[A-Za-z]{5}[0-9]{4}[A-Za-z](?![^\W_])")
PAN_PIECE_LENGTH = 5  # a PAN read out comes in letters and small groups: "A B C D E 1 2 3 4 F"
# Kept out of stored text: they mark search matches in highlighted snippets.
MARKERS = re.compile("[\ue000\ue001]")


@dataclass(slots=True)
class Token:
    start: int
    end: int
    text: str
    lower: str
    digits: str = ""  # what the token says as digits, "" if it is not a number


@dataclass
class Masked:
    text: str
    kinds: list[str]  # what was masked, in order of first appearance, each named once


Span = tuple[int, int, str]  # (start, end, kind) in text positions


def mask(text: str) -> Masked:
    """The text with payment and identity data replaced by "[card number]" and the like."""
    text = MARKERS.sub("", text)
    tokens = tokenise(text)
    spans: list[Span] = []
    runs = digit_runs(tokens)
    for run in runs:
        spans += number_spans(run)
    spans += security_code_spans(tokens, runs)
    spans += pan_spans(text, tokens)
    return apply(text, spans)


def tokenise(text: str) -> list[Token]:
    tokens = []
    for match in TOKEN.finditer(text):
        word = match.group()
        lower = word.lower()
        digits = word if word.isdigit() else DIGIT_WORDS.get(lower, "")
        tokens.append(Token(match.start(), match.end(), word, lower, digits))
    # "double five" is "55": the repeater becomes part of the number that follows it.
    for before, after in zip(tokens, tokens[1:]):
        if before.lower in REPEATERS and len(after.digits) == 1 and after.lower in DIGIT_WORDS:
            before.digits = after.digits * (REPEATERS[before.lower] - 1)
    return tokens


def digit_runs(tokens: list[Token]) -> list[list[Token]]:
    """Runs of number tokens, each a list of tokens, allowing joiners between them.

    A lone "o" or "oh" is a word more often than a zero: only counted inside a run of other digits.
    """
    runs: list[list[Token]] = []
    run: list[Token] = []
    pending_joiner = False
    for token in tokens:
        if token.digits:
            run.append(token)
            pending_joiner = False
        elif run and token.text in JOINERS and not pending_joiner:
            pending_joiner = True
        else:
            runs.append(run)
            run, pending_joiner = [], False
    runs.append(run)
    return [trimmed for trimmed in map(trim_word_zeros, runs) if trimmed]


def trim_word_zeros(run: list[Token]) -> list[Token]:
    """Drops "o"/"oh" at either end of a run: "oh, 4111…" is a sigh before the number."""
    while run and run[0].lower in ("o", "oh"):
        run = run[1:]
    while run and run[-1].lower in ("o", "oh"):
        run = run[:-1]
    return run


def number_spans(run: list[Token]) -> list[Span]:
    """Card and Aadhaar numbers in a run of digit tokens, as (start, end, kind) spans.

    Every stretch of whole tokens is tried, longest first, so that a card number inside a longer
    run ("my number 98 4111 1111 1111 1111") is found.
    """
    spans: list[Span] = []
    i = 0
    while i < len(run):
        found: tuple[int, str] | None = None
        digits = ""
        ends: list[tuple[int, str]] = []
        for j in range(i, len(run)):
            digits += run[j].digits
            if len(digits) > 19:
                break
            ends.append((j, digits))
        for j, digits in reversed(ends):
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                found = (j, CARD)
                break
            if len(digits) == 12 and verhoeff_valid(digits):
                found = (j, AADHAAR)
                break
        if found:
            j, kind = found
            spans.append((run[i].start, run[j].end, kind))
            i = j + 1
        else:
            i += 1
    return spans


def security_code_spans(tokens: list[Token], runs: list[list[Token]]) -> list[Span]:
    """The number that follows "CVV", "security code" and the like, within a few words."""
    run_at = {id(run[0]): run for run in runs}
    spans: list[Span] = []
    for index, token in enumerate(tokens):
        if not is_security_word(tokens, index):
            continue
        words = 0
        for following in tokens[index + 1 :]:
            run = run_at.get(id(following))
            if run is not None:
                code = take_digits(run, MAX_CODE_DIGITS)
                if code:
                    spans.append((code[0].start, code[-1].end, SECURITY_CODE))
                break
            words += following.text.isalnum()  # punctuation does not count
            if words > WORDS_BEFORE_CODE:
                break
    return spans


def is_security_word(tokens: list[Token], index: int) -> bool:
    word = tokens[index].lower
    if word in SECURITY_WORDS:
        return True
    if word in PHRASE_STARTS and index + 1 < len(tokens):
        return (word, tokens[index + 1].lower) in SECURITY_PHRASES
    return False


def take_digits(run: list[Token], limit: int) -> list[Token]:
    """The tokens at the start of a run holding up to `limit` digits (a code is 3 or 4 digits)."""
    taken: list[Token] = []
    count = 0
    for token in run:
        if count + len(token.digits) > limit:
            break
        taken.append(token)
        count += len(token.digits)
    if count < 3:
        return taken if count and len(run) == len(taken) else []
    return taken


def pan_spans(text: str, tokens: list[Token]) -> list[Span]:
    """PANs written as one word ("ABCDE1234F") or read out ("A B C D E one two three four F")."""
    spans = [(match.start(), match.end(), PAN) for match in PAN_WORD.finditer(text)]
    i = 0
    while i < len(tokens):
        found: int | None = None
        shape = ""
        for j in range(i, min(len(tokens), i + 10)):
            if len(tokens[j].text) > PAN_PIECE_LENGTH:
                break
            shape += (tokens[j].digits if tokens[j].lower in DIGIT_WORDS else tokens[j].text).upper()
            if not PAN_START.fullmatch(shape):
                break  # no longer the start of a PAN: longer shapes cannot be one either
            if len(shape) >= 10:
                if len(shape) == 10 and PAN_SHAPE.fullmatch(shape):
                    found = j
                break
        if found is not None:
            spans.append((tokens[i].start, tokens[found].end, PAN))
            i = found + 1
        else:
            i += 1
    return spans


def apply(text: str, spans: list[Span]) -> Masked:
    """Replaces the spans (overlaps merged, the first kind kept) by "[kind]"."""
    spans.sort()
    merged: list[Span] = []
    for start, end, kind in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
        else:
            merged.append((start, end, kind))
    pieces: list[str] = []
    kinds: list[str] = []
    at = 0
    for start, end, kind in merged:
        pieces += [text[at:start], f"[{kind}]"]
        at = end
        if kind not in kinds:
            kinds.append(kind)
    pieces.append(text[at:])
    return Masked(text="".join(pieces), kinds=kinds)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# The Verhoeff check (dihedral group D5), as Aadhaar numbers use it.
VERHOEFF_MULTIPLY = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
VERHOEFF_PERMUTE = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    check = 0
    for position, char in enumerate(reversed(digits)):
        check = VERHOEFF_MULTIPLY[check][VERHOEFF_PERMUTE[position % 8][int(char)]]
    return check == 0
