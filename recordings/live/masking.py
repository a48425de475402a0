"""Masks payment and identity data in transcripts before they are stored.

PCI DSS forbids keeping card security codes after authorisation, and a searchable transcript
holding card or ID numbers is a finding. Transcripts are speech, so numbers come as people say
them and speech recognition writes them: "four one one one – 1111 um 1111", "for triple one",
"forty one eleven", "C V V is 1 2 3", a card split across the agent's "okay". So the text is

1. normalised, keeping each character's place in the original text so the mask lands there:
   Unicode NFKC and the digits of every script turned into ASCII digits, zero-width characters
   into spaces, dashes into "-", everything lower case;
2. read as tokens: number words become digits ("oh", "nought", "for" next to a digit, "double",
   "triple", teens, tens, "hundred"), and number pieces with only separators, fillers ("um",
   "and", "okay") or speaker labels between them form one run of digits;
3. searched, each run once, with the words around it (the way Presidio's recognisers weigh
   context words and AWS Transcribe's call-analytics redaction names its categories):

- card numbers: 13 to 19 digits passing Luhn with a card issuer's first digits, anywhere; any
  13 to 19 digits (a misheard digit too) near "card", "debit", "visa" and the like, also when
  said in groups over several turns with the agent's questions between;
- security codes (3 digits or more) after "CVV", "C V V", "security code", "three digits on the back"
  within the sentence, or just before it ("123 is my CVV");
- expiry dates after or just before "expiry", "valid till" and the like;
- Aadhaar numbers: 12 digits passing Verhoeff (not a phone number's shape), or 10–16 digits near
  "Aadhaar" or "UID";
- PAN: five letters (the fourth the holder's type), four digits, a letter; "O" for zero,
  hyphenated, spelled out, in any script's digits;
- OTPs, UPI PINs and card PINs (4 digits or more after or just before their words), bank
  account numbers (9–20 digits after "account number");
- a run of more than 40 digits: no ordinary number is that long, and it may hide any of these.

Left alone: order, ticket and reference numbers, amounts, dates, times, years, postal PIN codes,
phone numbers, IMEIs and numbers of one repeated digit, unless the words around them say
otherwise. Each step is a single pass over the text (the look-ups around a run are bounded or
binary searches), so masking takes time in proportion to the text's length.
"""

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from recordings.models import MASKED_KINDS as KINDS

CARD = KINDS["card"]
SECURITY_CODE = KINDS["security_code"]
EXPIRY = KINDS["expiry"]
AADHAAR = KINDS["aadhaar"]
PAN = KINDS["pan"]
OTP = KINDS["otp"]
UPI_PIN = KINDS["upi_pin"]
CARD_PIN = KINDS["card_pin"]
BANK_ACCOUNT = KINDS["bank_account"]
KEEP = "ordinary"  # words near ordinary numbers: "phone", "rupees"
LABEL = "label"  # words that name an ordinary number: "order", "IMEI", "pincode"

# Kept out of stored text: they mark search matches in highlighted snippets.
MARKERS = re.compile("[\ue000\ue001]")
NON_ASCII = re.compile(r"[^\x00-\x7f](?: *[^\x00-\x7f])*")  # spaces inside: fewer, longer pieces
# A placeholder already in the text (a transcript masked again) is one plain word: its own words
# ("card", "PIN") must not count as context.
PLACEHOLDER = re.compile(r"\[(?:" + "|".join(re.escape(kind) for kind in KINDS.values()) + r")\]", re.IGNORECASE)
# A word of other scripts is one token, marks and all (digits are ASCII by then).
TOKEN = re.compile(PLACEHOLDER.pattern.lower() + r"|[0-9]+|[a-z]+|[^\x00-\x7f\s]+|[^\w\s]")

UNITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "naught": "0",
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
WORD_ZEROS = {"o", "oh"}  # "oh" alone is a sigh, not a number
TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fourty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
REPEATERS = {"double": 2, "triple": 3}
FOURS = {"for", "fore"}  # "four" as speech recognition often hears it, next to other digits
MONTHS = {
    name: f"{number:02d}"
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
NUMBER_WORDS = {*UNITS, *TEENS, *TENS, *REPEATERS, *FOURS, *MONTHS, "hundred"}
SEPARATORS = {"-", ".", ",", "(", ")", "/", ";", "*", "#", "+", "'"}  # not ":": "17:35:14" is a time
FILLERS = {
    "um",
    "umm",
    "uh",
    "uhh",
    "er",
    "erm",
    "ah",
    "hmm",
    "hm",
    "mm",
    "mhm",
    "and",
    "ok",
    "okay",
    "yes",
    "yeah",
    "ya",
    "haan",
    "right",
    "so",
    "then",
    "next",
    "sorry",
}
SPEAKERS = {"agent", "customer", "caller", "speaker", "executive", "user", "client", "spk"}
MAX_FILLERS = 5  # "uh, Agent: okay, Customer: 1111" still joins two groups
MAX_RUN_DIGITS = 40  # longer is no ordinary number: masked whole

# Words that name a kind, one token each, or two-word phrases (first, second).
KEYWORDS = {
    "card": CARD,
    "cards": CARD,
    "debit": CARD,
    "credit": CARD,
    "visa": CARD,
    "mastercard": CARD,
    "master": CARD,
    "rupay": CARD,
    "amex": CARD,
    "maestro": CARD,
    "discover": CARD,
    "diners": CARD,
    "jcb": CARD,
    "cvv": SECURITY_CODE,
    "cvv2": SECURITY_CODE,
    "cvc": SECURITY_CODE,
    "cvc2": SECURITY_CODE,
    "cvn": SECURITY_CODE,
    "csc": SECURITY_CODE,
    "expiry": EXPIRY,
    "expiration": EXPIRY,
    "expires": EXPIRY,
    "expire": EXPIRY,
    "exp": EXPIRY,
    "aadhaar": AADHAAR,
    "aadhar": AADHAAR,
    "adhaar": AADHAAR,
    "adhar": AADHAAR,
    "uid": AADHAAR,
    "uidai": AADHAAR,
    "आधार": AADHAAR,
    "pan": PAN,
    "otp": OTP,
    "passcode": OTP,
    "mpin": UPI_PIN,
    "pin": CARD_PIN,  # "pin code" is a postal code: a phrase below
    "imei": LABEL,
    "pincode": LABEL,
    "zip": LABEL,
    "postal": LABEL,
    "order": LABEL,
    "ticket": LABEL,
    "reference": LABEL,
    "ref": LABEL,
    "complaint": LABEL,
    "booking": LABEL,
    "tracking": LABEL,
    "invoice": LABEL,
    "utr": LABEL,  # a bank transfer's reference
    "rrn": LABEL,
    "transaction": LABEL,
    "txn": LABEL,
    "phone": KEEP,
    "mobile": KEEP,
    "callback": KEEP,
    "whatsapp": KEEP,
    "rupees": KEEP,
    "rs": KEEP,
    "amount": KEEP,
    "payment": KEEP,  # "card payment for 8780463809892": the payment's number, not the card's
}
PHRASES = {
    ("security", "code"): SECURITY_CODE,
    ("security", "number"): SECURITY_CODE,
    ("card", "verification"): SECURITY_CODE,
    ("digits", "back"): SECURITY_CODE,  # "the three digits on the back"
    ("on", "back"): SECURITY_CODE,
    ("at", "back"): SECURITY_CODE,
    ("on", "front"): CARD,  # "the number on the front"
    ("valid", "till"): EXPIRY,
    ("valid", "thru"): EXPIRY,
    ("valid", "through"): EXPIRY,
    ("valid", "until"): EXPIRY,
    ("valid", "upto"): EXPIRY,
    ("good", "thru"): EXPIRY,
    ("time", "password"): OTP,
    ("verification", "code"): OTP,
    ("upi", "pin"): UPI_PIN,
    ("m", "pin"): UPI_PIN,
    ("atm", "pin"): CARD_PIN,
    ("card", "pin"): CARD_PIN,
    ("pin", "number"): CARD_PIN,
    ("account", "number"): BANK_ACCOUNT,
    ("account", "no"): BANK_ACCOUNT,
    ("account", "num"): BANK_ACCOUNT,
    ("a", "c"): BANK_ACCOUNT,  # "a/c"
    ("acc", "no"): BANK_ACCOUNT,
    ("pin", "code"): LABEL,
    ("customer", "id"): LABEL,
    ("customer", "number"): LABEL,
    ("call", "back"): KEEP,
    ("contact", "number"): KEEP,
}
PHRASE_STARTS = {first for first, _ in PHRASES}
# Keywords spelled out letter by letter ("C V V", "C.V.V.", "P A N"), by their first letter.
SPELLED = {"c": (("cvv", SECURITY_CODE), ("cvc", SECURITY_CODE)), "p": (("pan", PAN),), "o": (("otp", OTP),)}
SKIPPED_IN_PHRASES = {"-", ".", "/", "of", "on", "at", "the"}  # "C.V.V.", "a/c", "digits at the back"
# Words a phrase begins with that are also number words: "the three digits on the back", "one time
# password". Part of the phrase, so not taken for the code said before it.
PHRASE_LEADS = {("digits", "back"): {"three", "four", "3", "4", "the", "last"}, ("time", "password"): {"one"}}
# Kinds that are a short code, with the fewest digits they have: the first run that long after the
# word, or one just before it. Masked whole, however long: what follows may be more of the code.
SHORT_CODES = {SECURITY_CODE: 3, EXPIRY: 2, OTP: 4, UPI_PIN: 4, CARD_PIN: 4}
WORDS_AFTER = 30  # "far after keyword within a sentence"
STOPS = (SECURITY_CODE, EXPIRY, OTP, UPI_PIN, CARD_PIN, AADHAAR, PAN, BANK_ACCOUNT, LABEL)
RUNS_AFTER = 4  # numbers too short to be the code ("one sec") skipped on the way
WORDS_BEFORE = 4  # "123 is my CVV"
BETWEEN_CODE_AND_WORD = {"is", "my", "the", "that", "thats", "s", "it", "its", "was", "your", "as", "'", ","}
CARD_CONTEXT_BEFORE = 15  # tokens, or back to the start of the turn before the previous one
CARD_CONTEXT_TURNS_TOKENS = 120  # "pay by card. Agent: sure, go ahead ... slowly.\nCustomer: 4111 ..."
CARD_CONTEXT_AFTER = 5
CHAIN_GAP = 25  # tokens between two groups of a card said in turns
NUMBER_CONTEXT = 10  # how far after their words Aadhaar and account numbers may come
KEEP_CONTEXT_BEFORE = 6
SENTENCE_ENDS = {"?", "!"}
# PAN: three letters, the holder's type (person, company, trust...), the surname's initial, four
# digits and a check letter; "O" stands for zero.
PAN_SHAPE = re.compile(r"(?=([a-z]{5}[0-9o]{4}[a-z]))")
PAN_HOLDERS = set("abcfghjlpt")
PAN_PIECE = 5  # the longest word a PAN is read in ("abcpe")
PAN_CONTEXT = 12


@dataclass
class Masked:
    text: str
    kinds: list[str]  # what was masked, in order of first appearance, each named once


Span = tuple[int, int, str]  # (start, end, kind) in text positions


class Run:
    """Number pieces that make one spoken number: pieces [start, stop) of their tokens' lists."""

    __slots__ = ("pieces", "start", "stop", "length", "masked")

    def __init__(self, pieces: "Pieces", masked: bool = False) -> None:
        self.pieces = pieces
        self.start = self.stop = len(pieces.digits)
        self.length = 0  # digits in all
        # A placeholder from an earlier masking: what a keyword pointed at then, so it does not
        # reach past it to another number now.
        self.masked = masked

    def add(self, first: int, last: int, digits: str) -> None:
        self.pieces.first.append(first)
        self.pieces.last.append(last)
        self.pieces.digits.append(digits)
        self.stop += 1
        self.length += len(digits)

    def extend_last(self, last: int, digits: str) -> None:
        """The last piece goes on: "four" and then "hundred and eleven"."""
        self.pieces.last[-1] = last
        self.pieces.digits[-1] += digits
        self.length += len(digits)

    @property
    def first_token(self) -> int:
        return self.pieces.first[self.start]

    @property
    def last_token(self) -> int:
        return self.pieces.last[self.stop - 1]

    @property
    def digits(self) -> list[str]:
        return self.pieces.digits[self.start : self.stop]

    @property
    def text(self) -> str:
        return "".join(self.digits)


@dataclass(slots=True)
class Pieces:
    """Every run's pieces, one after the other: their first and last tokens and the digits they say."""

    first: list[int]
    last: list[int]
    digits: list[str]


class Normalised:
    """The text normalised for reading, with where each of its characters came from."""

    def __init__(self, text: str) -> None:
        pieces: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        at = 0
        for match in NON_ASCII.finditer(text):
            self._ascii(text, at, match.start(), pieces, starts, ends)
            self._other(match.group(), match.start(), pieces, starts, ends)
            at = match.end()
        self._ascii(text, at, len(text), pieces, starts, ends)
        self.text = "".join(pieces)
        self.starts = starts
        self.ends = ends

    @staticmethod
    def _ascii(text: str, start: int, end: int, pieces: list[str], starts: list[int], ends: list[int]) -> None:
        pieces.append(text[start:end].lower())
        starts.extend(range(start, end))
        ends.extend(range(start + 1, end + 1))

    @staticmethod
    def _other(chunk: str, offset: int, pieces: list[str], starts: list[int], ends: list[int]) -> None:
        mapped = [normal_char(char) for char in chunk]
        if all(len(piece) == 1 for piece in mapped):
            pieces.append("".join(mapped))
            starts.extend(range(offset, offset + len(chunk)))
            ends.extend(range(offset + 1, offset + len(chunk) + 1))
            return
        for index, piece in enumerate(mapped):  # NFKC made some characters longer ("⑩" is "10") or none
            pieces.append(piece)
            starts.extend([offset + index] * len(piece))
            ends.extend([offset + index + 1] * len(piece))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's positions of the normalised text's [start, end)."""
        return self.starts[start], self.ends[end - 1]


@lru_cache(maxsize=4096)
def normal_char(char: str) -> str:
    """One non-ASCII character as the tokens read it: its digit, a space, a dash or its NFKC form."""
    category = unicodedata.category(char)
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category in ("Cf", "Zs", "Zl", "Zp"):  # zero-width joiners and spaces, odd spaces
        return " "
    if category == "Pd" or char == "\u2212":  # en and em dashes, the minus sign
        return "-"
    normal = unicodedata.normalize("NFKC", char)
    if normal == char:
        digit = unicodedata.digit(char, None)  # a digit no NFKC form spells, as Ethiopic's
        if digit is not None:
            return str(digit)
    return "".join(str(unicodedata.digit(c)) if unicodedata.digit(c, None) is not None else c for c in normal).lower()


def mask(text: str) -> Masked:
    """The text with payment and identity data replaced by "[card number]" and the like."""
    text = MARKERS.sub("", text)
    normal = Normalised(text)
    tokens = Tokens(normal.text)
    spans = tokens.number_spans() + tokens.pan_spans()
    return apply(text, [(*normal.span(start, end), kind) for start, end, kind in spans])


class Tokens:
    """The normalised text as tokens, their runs of digits and the words that give them context."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.words: list[str] = []
        for match in TOKEN.finditer(text):
            self.starts.append(match.start())
            self.ends.append(match.end())
            self.words.append(match.group())
        self.mention_starts: dict[str, list[int]] = {}  # the first token of each mention
        self.mentions = self._mentions()
        self.runs = self._runs()
        self.sentence_ends = [
            index
            for index, word in enumerate(self.words)
            if word in SENTENCE_ENDS or (word == "." and text[self.ends[index] : self.ends[index] + 1].isspace())
        ]
        # Where each speaker's turn begins: a new line or a speaker's label ("Customer:", "Speaker 2:").
        self.turn_starts = [
            index
            for index, word in enumerate(self.words)
            if (index and "\n" in text[self.ends[index - 1] : self.starts[index]])
            or (word in SPEAKERS and self._speaker_label_end(index) >= 0)
        ]

    # Number words

    def _number_at(self, index: int) -> tuple[str, int] | None:
        """The digits the token at `index` (with the next, for "forty one" or "double five") says,
        and the last token read; None if it says none."""
        words = self.words
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        if word.isdigit():
            return word, index
        if word in UNITS:
            return UNITS[word], index
        if word in TEENS:
            return TEENS[word], index
        if word in TENS:
            if following in UNITS and UNITS[following] != "0":
                return TENS[word] + UNITS[following], index + 1
            return TENS[word] + "0", index
        if word in REPEATERS:
            single = UNITS.get(following, following if len(following) == 1 and following.isdigit() else "")
            if single:
                return single * REPEATERS[word], index + 1
        if word in MONTHS and (word != "may" or following.isdigit() or following in UNITS or following in TENS):
            return MONTHS[word], index
        return None

    def _runs(self) -> list[Run]:
        """Runs of number pieces, with nothing but separators, fillers and speaker labels between."""
        words = self.words
        runs: list[Run] = []
        run: Run | None = None
        pieces = Pieces([], [], [])
        fillers = 0
        index = 0
        while index < len(words):
            word = words[index]
            if word[0] == "[" and len(word) > 1:
                run = Run(pieces, masked=True)
                run.add(index, index, "")
                run.length = MAX_RUN_DIGITS
                runs.append(run)
                run = None
                index += 1
                continue
            if not (word[0].isdigit() or word in NUMBER_WORDS):  # most words: quickly told
                if run is not None:
                    label_end = self._speaker_label_end(index) if word in SPEAKERS else -1
                    if label_end >= 0:  # "Customer:", "Speaker 2:" between two groups of a number
                        fillers += 1
                        index = label_end
                    elif word == "and" and ends_a_number(run):
                        run = None
                    elif word in FILLERS:
                        fillers += 1
                    elif word not in SEPARATORS:
                        run = None
                elif word in SPEAKERS:
                    index = max(index, self._speaker_label_end(index))  # "Speaker 1:" says no digit
                index += 1
                continue
            number = self._number_at(index)
            if number is None and word in FOURS and index + 1 < len(words):
                following = self._number_at(index + 1)
                # "payment for 8780463809892": before a long number, "for" is the word
                if (run is not None and fillers == 0) or (following is not None and len(following[0]) <= 4):
                    number = "4", index
            if number is None and word == "hundred" and run is not None and run.last_token == index - 1:
                after = index + 2 if words[index + 1 : index + 2] == ["and"] else index + 1  # "hundred and eleven"
                tail = self._number_at(after) if after < len(words) else None
                if tail is not None and len(tail[0]) <= 2:
                    run.extend_last(tail[1], tail[0].rjust(2, "0"))
                else:
                    run.extend_last(index, "00")
                index = run.last_token + 1
                continue
            if number is not None:
                digits, last = number
                if run is None or fillers > MAX_FILLERS:
                    run = Run(pieces)
                    runs.append(run)
                run.add(index, last, digits)
                fillers = 0
                index = last + 1
                continue
            if run is not None and word in SEPARATORS:
                pass
            elif run is not None and word in FILLERS:
                fillers += 1
            else:
                run = None
            index += 1
        return [
            run for run in runs if not all(words[pieces.first[i]] in WORD_ZEROS for i in range(run.start, run.stop))
        ]

    def _speaker_label_end(self, index: int) -> int:
        """The last token of a speaker's label starting at `index` ("agent :", "speaker 2 :"), or -1."""
        words = self.words
        end = index + 1
        if end < len(words) and words[end].isdigit():
            end += 1
        return end if end < len(words) and words[end] == ":" else -1

    # Context

    def _mentions(self) -> dict[str, list[int]]:
        """Each kind's words, by the index of the token that ends them."""
        words = self.words
        mentions: dict[str, list[int]] = {}
        taken = -1  # the last token of the last phrase: "pin" in "UPI PIN" says no more
        for index, word in enumerate(words):
            if index <= taken:
                continue
            kind = KEYWORDS.get(word)
            start = end = index
            if word in PHRASE_STARTS:
                following = index + 1
                while following < len(words) and following - index <= 3 and words[following] in SKIPPED_IN_PHRASES:
                    following += 1
                phrase = (word, words[following]) if following < len(words) else ("", "")
                if phrase in PHRASES:
                    kind, end = PHRASES[phrase], following
                    leads = PHRASE_LEADS.get(phrase, set())
                    while start > 0 and index - start < 3 and words[start - 1] in leads:
                        start -= 1
            for letters, spelled_kind in SPELLED.get(word, ()):
                spelled_end = self._spelled_end(index, letters)
                if spelled_end >= 0:
                    kind, end = spelled_kind, spelled_end
            if kind is not None:
                taken = end
                mentions.setdefault(kind, []).append(end)
                self.mention_starts.setdefault(kind, []).append(start)
        return mentions

    def _spelled_end(self, index: int, letters: str) -> int:
        """The last token of `letters` spelled one by one from `index` ("C V V", "C.V.V."), or -1."""
        words = self.words
        at = index
        for position, letter in enumerate(letters):
            while position and at < len(words) and words[at] == ".":
                at += 1
            if at >= len(words) or words[at] != letter:
                return -1
            at += 1
        if at < len(words) and words[at] == ".":
            at += 1
        return at - 1

    def _near(self, kind: str, first: int, last: int, before: int, after: int) -> bool:
        """Whether a word of `kind` ends within `before` tokens before token `first` or `after` after `last`."""
        positions = self.mentions.get(kind, [])
        at = bisect_left(positions, first - before)
        return at < len(positions) and positions[at] <= last + after

    def _card_near(self, first: int, last: int, after: int) -> bool:
        """Whether a card's word comes shortly before token `first` or at most `after` after `last`:
        within CARD_CONTEXT_BEFORE tokens, or in this turn, the previous one or the one before it
        (the caller's own: "pay by card. Agent: sure, go ahead … slowly.\nCustomer: 4111 …"). A word
        naming an ordinary number between them says what the number is: "card payment for 8780…"."""
        turn = bisect_right(self.turn_starts, first) - 1  # this run's turn
        reach = CARD_CONTEXT_BEFORE
        if turn >= 0:
            since = self.turn_starts[turn - 2] if turn >= 2 else 0
            reach = max(reach, min(first - since, CARD_CONTEXT_TURNS_TOKENS))
        if self._near(CARD, last + 1, last, 0, after):
            return True
        cards = self.mentions.get(CARD, [])
        before = bisect_left(cards, first) - 1  # the last card word before the run
        if before < 0 or cards[before] < first - reach:
            return False
        return not (
            self._near(LABEL, cards[before] + 1, first - 1, 0, 0)
            or self._near(KEEP, cards[before] + 1, first - 1, 0, 0)
        )

    def _short_code_kinds(self) -> dict[int, list[str]]:
        """The runs (by index) that short codes' words point at, with those kinds: the first long
        enough among the next few after the word in its sentence, else the one just before it
        ("123 is my CVV"). Kinds pointing after come first: "valid till 12 27 and 123 is my CVV"."""
        firsts = [run.first_token for run in self.runs]
        # A code's word points no further than the next word naming another number: "CVV, order 55012".
        stops = sorted(start for kind in STOPS for start in self.mention_starts.get(kind, []))
        chosen: dict[int, list[str]] = {}
        unanswered: list[tuple[str, int]] = []
        for kind, least in SHORT_CODES.items():
            for mention, mention_start in zip(self.mentions.get(kind, []), self.mention_starts.get(kind, [])):
                at = bisect_right(firsts, mention)
                following = bisect_right(stops, mention)
                stop = min(
                    mention + WORDS_AFTER,
                    self._answer_end(mention),
                    stops[following] if following < len(stops) else len(self.words),
                )
                for candidate in range(at, min(at + RUNS_AFTER, len(self.runs))):
                    if firsts[candidate] > stop:
                        unanswered.append((kind, mention_start))
                        break
                    if self.runs[candidate].length >= least:
                        add_kind(chosen, candidate, kind)
                        break
                else:
                    unanswered.append((kind, mention_start))
        for kind, mention_start in unanswered:
            before = bisect_left(firsts, mention_start) - 1
            if before >= 0:
                gap = range(self.runs[before].last_token + 1, mention_start)
                if (
                    self.runs[before].length >= SHORT_CODES[kind]
                    and len(gap) <= WORDS_BEFORE
                    and all(self.words[i] in BETWEEN_CODE_AND_WORD for i in gap)
                ):
                    add_kind(chosen, before, kind)
        return chosen

    def _answer_end(self, mention: int) -> int:
        """The last token a code's word at `mention` may point to: the end of its sentence, or, when
        that sentence asks ("what is the CVV?", "the OTP.\nCustomer: 4 8 2 9 1 3"), the end of
        the answer: the first sentence end in the next turn, or the next turn's end."""
        words, ends, turns = self.words, self.sentence_ends, self.turn_starts
        turn = bisect_right(turns, mention)  # the next turn's start: turns[turn]
        end = turns[turn + 1] - 1 if turn + 1 < len(turns) else len(words)  # the answer ends with its turn
        sentence = bisect_right(ends, mention)
        if sentence == len(ends):
            return end
        asks = words[ends[sentence]] == "?" or (turn < len(turns) and turns[turn] == ends[sentence] + 1)
        if not asks:
            return ends[sentence]
        if turn < len(turns):  # a turn follows: its first sentence is the answer
            answered = bisect_left(ends, turns[turn])
        else:  # no turns: the next sentence is
            answered = sentence + 1
        return min(end, ends[answered]) if answered < len(ends) else end

    # Finding

    def number_spans(self) -> list[Span]:
        spans: list[Span] = []
        short_codes = self._short_code_kinds()
        chain: list[Run] = []  # groups of a card split by longer words: "Agent: sorry, the last eight?"
        for number, run in enumerate(self.runs):
            kind = None
            if run.length >= 2 and not run.masked:
                codes = short_codes.get(number, [])
                kind = self._run_kind(run, codes[0] if codes else None)
            if kind is not None:
                for each in [kind] + [code for code in codes if code != kind and run.length >= SHORT_CODES[code]]:
                    spans.append(self._run_span(run, each))  # one mask, every kind in it
            chain = self._card_chain(chain, run)  # a group masked as another kind too: "2720 9512 4164" passes Verhoeff
            if sum(each.length for each in chain) >= 13:
                spans += [self._run_span(each, CARD) for each in chain]
                chain = []
        return spans

    def _turn_between(self, before: int, after: int) -> bool:
        """Whether the speaker changes between two tokens: a new line or a speaker's label."""
        if "\n" in self.text[self.ends[before] : self.starts[after]]:
            return True
        return any(
            self.words[index] in SPEAKERS and self._speaker_label_end(index) >= 0 for index in range(before + 1, after)
        )

    def _run_span(self, run: Run, kind: str) -> Span:
        return self.starts[run.first_token], self.ends[run.last_token], kind

    def _card_chain(self, chain: list[Run], run: Run) -> list[Run]:
        """The groups (4–12 digits each) of one card number said in several turns near card words:
        the chain so far with `run`, emptied by a run that is not such a group, a gap of more than
        CHAIN_GAP tokens, one in which the speaker does not change ("card ending 4242 was charged
        1499"), or one with a word naming an ordinary number. Kept to at most 19 digits."""
        if run.masked or not 4 <= run.length <= 12:
            return []
        if chain and (
            run.first_token - chain[-1].last_token > CHAIN_GAP
            or not self._turn_between(chain[-1].last_token, run.first_token)
            or self._near(LABEL, chain[-1].last_token + 1, run.first_token, 0, 0)
            or self._near(KEEP, chain[-1].last_token + 1, run.first_token, 0, 0)
        ):
            chain = []
        if not chain and not self._card_near(run.first_token, run.last_token, 0):
            return []
        chain = [*chain, run]
        while sum(each.length for each in chain) > 19:
            chain.pop(0)
        return chain

    def _run_kind(self, run: Run, short_code: str | None) -> str | None:
        """What the run is; None for an ordinary number."""
        digits = run.text
        length = run.length
        first, last = run.first_token, run.last_token
        card_context = length >= 13 and self._card_near(first, last, CARD_CONTEXT_AFTER)
        if length > MAX_RUN_DIGITS:  # "card 4111111111111111 1111…": a card, whatever its digits
            return CARD if card_context or len(set(digits)) > 2 else None
        if card_context and (issuer_like(digits[:16]) or card_inside(run, 0)):
            return CARD
        if 10 <= length <= 16 and self._near(AADHAAR, first, last, NUMBER_CONTEXT, 3):
            return AADHAAR
        if 9 <= length <= 20 and self._near(BANK_ACCOUNT, first, last, NUMBER_CONTEXT, 0):
            return BANK_ACCOUNT
        ordinary = self._near(KEEP, first, last, KEEP_CONTEXT_BEFORE, 0) or self._near(
            LABEL, first, last, KEEP_CONTEXT_BEFORE, 0
        )
        # After "order" or "IMEI", the number that starts there is that; one further on may be a card.
        if length >= 13 and card_inside(run, 1 if ordinary else 0):
            return CARD
        if length >= 12 and aadhaar_inside(run, 1 if ordinary else 0):
            return AADHAAR
        if short_code is not None and length >= SHORT_CODES[short_code]:
            return short_code
        return None

    def pan_spans(self) -> list[Span]:
        """PANs written as one word ("abcpe1234f", "abcpe-1234-f") or read out ("a b c p e one two
        three four f"). Read out in words of several letters only near the word "PAN"."""
        symbols = [pan_symbol(word) for word in self.words]
        ends = list(accumulate(map(len, symbols)))  # where each token's symbols end in the stream
        stream = "".join(symbols)
        spans: list[Span] = []
        for match in PAN_SHAPE.finditer(stream):
            start, end = match.start(1), match.end(1)
            first, last = bisect_right(ends, start), bisect_left(ends, end)
            if (first and ends[first - 1] != start) or ends[last] != end:
                continue  # it begins or ends inside a word
            if spans and self.starts[first] < spans[-1][1]:
                continue
            if self._near(PAN, first, last, PAN_CONTEXT, 3) or (
                stream[start + 3] in PAN_HOLDERS and self._pan_written_together(first, last)
            ):
                spans.append((self.starts[first], self.ends[last], PAN))
        return spans

    def _pan_written_together(self, first: int, last: int) -> bool:
        """One word (hyphens allowed), or every letter said apart: not words such as "check 1234 a"."""
        if not self.text[self.starts[first] : self.ends[last]].split(maxsplit=1)[1:]:
            return True
        return all(len(word) == 1 or word.isdigit() or word in UNITS for word in self.words[first : last + 1])


def ends_a_number(run: Run) -> bool:
    """Whether "and" after the run joins no more of it: 10 digits or more are a whole phone number
    ("98765 43210 and 91234 56780"), unless said in fours as a card is ("4111 1111 1111 and 1111")."""
    return run.length >= 10 and not (run.length % 4 == 0 and all(len(piece) <= 4 for piece in run.digits))


def add_kind(chosen: dict[int, list[str]], run: int, kind: str) -> None:
    kinds = chosen.setdefault(run, [])
    if kind not in kinds:
        kinds.append(kind)


@lru_cache(maxsize=4096)
def pan_symbol(word: str) -> str:
    """What a token adds to the letters and digits a PAN is looked for in ("#": no PAN goes across it)."""
    if word in ("-", "."):
        return ""
    if word.isdigit() and len(word) <= 4:
        return word
    if word in WORD_ZEROS:
        return "o"
    if word in UNITS:
        return UNITS[word]
    if word.isascii() and word.isalpha() and (len(word) <= PAN_PIECE or set(word[PAN_PIECE:]) == {"o"}):
        return word  # "abcpeo" begins "ABCPE" and a zero said "O"
    return "#"


def card_inside(run: Run, from_piece: int) -> bool:
    """A card number starting where one of the run's pieces (from `from_piece` on) starts: 13–19 digits
    passing Luhn, with an issuer's first digits, not one digit repeated (0000000000000), and not an
    IMEI's 15 digits."""
    digits = run.text
    at = 0
    for number, piece in enumerate(run.digits):
        for length in range(13 if number >= from_piece else 20, min(19, len(digits) - at) + 1):
            candidate = digits[at : at + length]
            if issuer_like(candidate) and luhn_valid(candidate):
                return True
        at += len(piece)
    return False


def issuer_like(digits: str) -> bool:
    """Card issuers' first digits: Visa 4, Mastercard 51–55 and 22–27, Amex 34/37, Diners 30/36/38,
    JCB 35, Discover, Maestro and RuPay 5/6, RuPay 81/82. Fifteen digits are an Amex or an IMEI."""
    if len(set(digits)) == 1:
        return False
    if len(digits) == 15:
        return digits[:2] in ("34", "37")
    head = digits[:2]
    return digits[0] in "456" or head in (
        "22",
        "23",
        "24",
        "25",
        "26",
        "27",
        "30",
        "34",
        "35",
        "36",
        "37",
        "38",
        "81",
        "82",
    )


def aadhaar_inside(run: Run, from_piece: int) -> bool:
    """Twelve digits said as an Aadhaar card prints them, in three groups of four, passing Verhoeff:
    not starting with 0 or 1 (UIDAI never issues those), not a palindrome, not "91" and a mobile
    number. Without its word, twelve digits in one piece are as likely an ordinary number."""
    digits = run.text
    pieces = run.digits
    at = 0
    for number, piece in enumerate(pieces):
        candidate = digits[at : at + 12]
        if (
            number >= from_piece
            and [len(each) for each in pieces[number : number + 3]] == [4, 4, 4]
            and candidate[0] not in "01"
            and candidate != candidate[::-1]
            and not (candidate.startswith("91") and candidate[2] in "6789")
            and verhoeff_valid(candidate)
        ):
            return True
        at += len(piece)
    return False


def apply(text: str, spans: Iterable[Span]) -> Masked:
    """Replaces the spans (overlaps merged, the first kind named) by "[kind]"; every kind of every
    span is listed, in the order of the text."""
    merged: list[Span] = []
    kinds: list[str] = []
    for start, end, kind in sorted(spans, key=lambda span: span[0]):  # stable: a run's own kind first
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
        else:
            merged.append((start, end, kind))
        if kind not in kinds:
            kinds.append(kind)
    pieces: list[str] = []
    at = 0
    for start, end, kind in merged:
        pieces += [text[at:start], f"[{kind}]"]
        at = end
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
