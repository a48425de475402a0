"""A generated, seeded corpus of call-centre speech for the masker: sensitive utterances in every
form the masker reads (kind and form known) and ordinary ones that must come out unchanged.

Sensitive utterances are built so that nothing but the sensitive value says a number: whatever
digit or number word is left in the masked text is a leak.
"""

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from recordings.live.masking import (
    AADHAAR,
    BANK_ACCOUNT,
    CARD,
    CARD_PIN,
    EXPIRY,
    OTP,
    PAN,
    PLACEHOLDER,
    SECURITY_CODE,
    UPI_PIN,
    luhn_valid,
    verhoeff_valid,
)

SEED = 20261207


@dataclass(frozen=True)
class Utterance:
    text: str
    kind: str | None  # None: ordinary, to be left as it is
    form: str
    said: str = ""  # the sensitive value as written in the text

    @property
    def around(self) -> str:
        """The text without its sensitive value: the numbers it says may stay."""
        return self.text.replace(self.said, " ", 1)


def utterance(template: str, said: str, kind: str, form: str) -> Utterance:
    return Utterance(template.replace("{}", said), kind, form, said)


WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEEN_WORDS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORDS = {*WORDS, *TEEN_WORDS, *TENS_WORDS[2:], "oh", "o", "nought", "double", "triple", "hundred"} - {""}
SCRIPTS = {"devanagari": 0x966, "arabic-indic": 0x660, "bengali": 0x9E6, "full-width": 0xFF10}
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"
SEPARATORS = [" ", "-", " – ", " — ", "--", ".", " \u200b", "\u200b", "  ", ", "]
FILLERS = ["um", "uh", "and", "okay", "hmm", "uh, okay,", "umm and"]
CARD_CONTEXTS = [
    "my card number is {}",
    "the debit card is {} right",
    "credit card {} please",
    "it's a visa, {}",
    "the number on the front is {}",
    "my rupay card, {}",
]
PLAIN_CONTEXTS = ["it is {}", "{}", "yes so {} is it", "I have it here {} thanks", "take it down {}"]
ISSUERS = ["4", "51", "52", "53", "54", "55", "2221", "2720", "6011", "65", "60", "508", "35", "81", "82"]


def spoken_digit(digit: str, rng: random.Random) -> str:
    if digit == "0":
        return rng.choice(["zero", "oh", "nought", "o"])
    return WORDS[int(digit)]


def say(digits: str, style: str, rng: random.Random) -> str:
    """Digits as a caller says them or speech recognition writes them."""
    if style == "words":
        return " ".join(spoken_digit(d, rng) for d in digits)
    if style == "for":  # "four" heard as "for"
        return " ".join("for" if d == "4" else spoken_digit(d, rng) for d in digits)
    if style == "repeats":  # "double five", "4 triple 1"
        out: list[str] = []
        i = 0
        while i < len(digits):
            same = 1
            while i + same < len(digits) and digits[i + same] == digits[i] and same < 3:
                same += 1
            word = digits[i] if rng.random() < 0.5 else spoken_digit(digits[i], rng)
            out.append(f"{['', '', 'double', 'triple'][same]} {word}".strip())
            i += same
        return " ".join(out)
    if style == "tens":  # "forty one eleven"
        out = []
        for i in range(0, len(digits) - 1, 2):
            pair = digits[i : i + 2]
            if pair[0] == "0":
                out.append(f"oh {WORDS[int(pair[1])]}")
            elif pair[0] == "1":
                out.append(TEEN_WORDS[int(pair[1])])
            else:
                out.append(TENS_WORDS[int(pair[0])] + ("" if pair[1] == "0" else f" {WORDS[int(pair[1])]}"))
        if len(digits) % 2:
            out.append(spoken_digit(digits[-1], rng))
        return " ".join(out)
    if style in SCRIPTS:
        return "".join(chr(SCRIPTS[style] + int(d)) for d in digits)
    raise ValueError(style)


def grouped(digits: str, sizes: list[int], separator: str) -> str:
    groups, at = [], 0
    for size in sizes:
        groups.append(digits[at : at + size])
        at += size
    if at < len(digits):
        groups.append(digits[at:])
    return separator.join(group for group in groups if group)


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def card(rng: random.Random) -> str:
    issuer = rng.choice(ISSUERS + ["34", "37"])
    length = 15 if issuer in ("34", "37") else rng.choice([16, 16, 16, 13, 19]) if issuer == "4" else 16
    number = luhn_complete(issuer, length, rng)
    while len(set(number)) < 3:
        number = luhn_complete(issuer, length, rng)
    return number


def aadhaar(rng: random.Random) -> str:
    while True:
        body = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(10))
        number = next(body + d for d in "0123456789" if verhoeff_valid(body + d))
        if number != number[::-1] and not number.startswith("91"):
            return number


def digits(rng: random.Random, count: int, first: str = "0123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(count - 1))


def card_utterances(rng: random.Random) -> list[Utterance]:
    out: list[Utterance] = []

    def add(form: str, said: str, context: bool = True) -> None:
        template = rng.choice(CARD_CONTEXTS if context else PLAIN_CONTEXTS)
        out.append(utterance(template, said, CARD, form))

    for _ in range(14):
        number = card(rng)
        add("grouped", grouped(number, [4, 4, 4, 4], rng.choice(SEPARATORS)), context=rng.random() < 0.5)
        add("together", number, context=rng.random() < 0.5)
        add("parentheses", " ".join(f"({g})" for g in grouped(number, [4, 4, 4, 4], " ").split()))
        add("fillers", grouped(number, [4, 4, 4, 4], f" {rng.choice(FILLERS)} "), context=rng.random() < 0.5)
        parts = grouped(number, [4, 4, 4, 4], " ").split()
        reply = rng.choice(["okay", "yes", "mm-hmm", "hmm"])
        add("speaker turns", f"{' '.join(parts[:2])}\nAgent: {reply}\nCustomer: {' '.join(parts[2:])}")
        question = rng.choice(["sorry, could you repeat the last part?", "the line broke, say again please"])
        add("a question between turns", f"{' '.join(parts[:3])}\nAgent: {question}\nCustomer: {parts[3]}")
        add("words", say(number, "words", rng), context=rng.random() < 0.5)
        add("for for four", say(number, "for", rng))
        add("double and triple", say(number, rng.choice(["repeats"]), rng))
        add("tens and teens", say(number, "tens", rng))
        script = rng.choice(list(SCRIPTS))
        add(f"{script} digits", grouped(say(number, script, rng), [4, 4, 4, 4], " "), context=rng.random() < 0.5)
        add("superscript last digit", number[:-1] + SUPERSCRIPTS[int(number[-1])])
        add("circled digits", "".join(CIRCLED[int(d)] for d in number))
        wrong = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
        add("one digit misheard", grouped(wrong, [4, 4, 4, 4], " "))
        ending_zero = luhn_complete(number[:-2], len(number) - 1, rng) + "0"
        add("ends in oh", say(ending_zero[:-1], "words", rng) + " oh")
        add(
            "with expiry, one run",
            number + f"{rng.randint(1, 12):02d}{rng.randint(26, 32)}",
            context=rng.random() < 0.5,
        )
        add("with CVV, one run", number + digits(rng, 3), context=rng.random() < 0.5)
    return out


CVV_WORDS = [
    "CVV",
    "C V V",
    "C.V.V.",
    "cvv",
    "security code",
    "CVC",
    "the three digits on the back",
    "card verification",
]


def security_code_utterances(rng: random.Random) -> list[Utterance]:
    out: list[Utterance] = []
    for _ in range(12):
        for word in CVV_WORDS:
            code = digits(rng, rng.choice([3, 3, 4]))
            said = rng.choice([code, say(code, "words", rng), " ".join(code)])
            out.append(utterance(f"the {word} is {{}}", said, SECURITY_CODE, "after the word"))
        word = rng.choice(CVV_WORDS)
        code = digits(rng, 3)
        out.append(utterance(f"{{}} is my {word}", code, SECURITY_CODE, "before the word"))
        out.append(
            utterance(
                f"and the {word}, wait let me turn the card over, I need my glasses, here it is {{}}",
                code,
                SECURITY_CODE,
                "far after the word",
            )
        )
    return out


MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def expiry_utterances(rng: random.Random) -> list[Utterance]:
    out: list[Utterance] = []
    for _ in range(8):
        month, year = rng.randint(1, 12), rng.randint(26, 35)
        word = rng.choice(["expiry", "expiry date", "valid till", "valid thru", "expires"])
        out.append(utterance(f"{word} {{}}", f"{month:02d}/{year}", EXPIRY, "slash"))
        out.append(utterance(f"the {word} is {{}}", f"{month:02d} {year}", EXPIRY, "digits"))
        out.append(utterance(f"{word} {{}}", say(f"{month:02d}{year}", "tens", rng), EXPIRY, "words"))
        out.append(utterance(f"{word} {{}}", f"{rng.choice(MONTH_NAMES)} 20{year}", EXPIRY, "month name"))
        out.append(utterance(f"{{}} is the {word}", f"{month:02d}/{year}", EXPIRY, "before the word"))
    return out


def aadhaar_utterances(rng: random.Random) -> list[Utterance]:
    out: list[Utterance] = []
    for _ in range(10):
        number = aadhaar(rng)
        out.append(utterance("it is {}", grouped(number, [4, 4, 4], " "), AADHAAR, "Verhoeff, no word"))
        separator = rng.choice(SEPARATORS)
        out.append(utterance("my aadhaar number is {}", grouped(number, [4, 4, 4], separator), AADHAAR, "grouped"))
        out.append(utterance("aadhar {}", say(number, "words", rng), AADHAAR, "words"))
        out.append(utterance("UID {}", say(number, "devanagari", rng), AADHAAR, "Devanagari digits"))
        hindi = grouped(say(number, "devanagari", rng), [4, 4, 4], " ")
        out.append(utterance("मेरा आधार {}", hindi, AADHAAR, "Hindi"))
        any_twelve = digits(rng, 12, "123456789")
        out.append(
            utterance("my aadhaar is {}", grouped(any_twelve, [4, 4, 4], " "), AADHAAR, "misheard, near the word")
        )
    return out


PAN_TYPES = "ABCFGHLJPT"


def pan(rng: random.Random) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return (
        "".join(rng.choice(letters) for _ in range(3))
        + rng.choice(PAN_TYPES)
        + rng.choice(letters)
        + digits(rng, 4)
        + rng.choice(letters)
    )


def pan_utterances(rng: random.Random) -> list[Utterance]:
    out: list[Utterance] = []
    for _ in range(8):
        number = pan(rng)
        with_o = number[:5] + number[5:9].replace("0", "O") + number[9]
        if "O" not in with_o[5:9]:
            with_o = number[:6] + "O" + number[7:]
        spelled = f"{' '.join(number[:5])} {say(number[5:9], 'words', rng)} {number[9]}"
        out.append(utterance("PAN {}", number, PAN, "with the word"))
        out.append(utterance("it is {}", number.lower(), PAN, "lower case, no word"))
        out.append(utterance("my pan card number {}", with_o, PAN, "O for zero"))
        out.append(utterance("{} thanks", f"{number[:5]}-{number[5:9]}-{number[9]}", PAN, "hyphenated"))
        out.append(utterance("pan is {}", spelled, PAN, "spelled out"))
        devanagari = f"{number[:5]}{say(number[5:9], 'devanagari', rng)}{number[9]}"
        out.append(utterance("{}", devanagari, PAN, "Devanagari digits"))
        out.append(utterance("{}", number.translate(FULL_WIDTH), PAN, "full-width"))
    return out


FULL_WIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}


def code_utterances(rng: random.Random) -> list[Utterance]:
    out: list[Utterance] = []
    for _ in range(10):
        for kind, words, lengths in (
            (OTP, ["OTP", "the one time password", "O T P", "verification code"], [4, 6, 6]),
            (UPI_PIN, ["UPI PIN", "upi pin number", "MPIN"], [4, 6]),
            (CARD_PIN, ["ATM pin", "card PIN", "pin number", "PIN"], [4, 4, 6]),
        ):
            code = digits(rng, rng.choice(lengths))
            word = rng.choice(words)
            said = rng.choice([code, say(code, "words", rng), " ".join(code)])
            out.append(utterance(f"my {word} is {{}}", said, kind, "after the word"))
            out.append(utterance(f"{{}} is the {word}", code, kind, "before the word"))
        account = digits(rng, rng.randint(9, 18))
        word = rng.choice(["account number", "bank account number", "a/c no", "account no."])
        out.append(utterance(f"my {word} is {{}}", account, BANK_ACCOUNT, "digits"))
        out.append(utterance(f"{word} {{}}", grouped(account, [3, 3, 4, 4, 4], " "), BANK_ACCOUNT, "grouped"))
        out.append(utterance(f"the {word}, {{}}", say(account, "words", rng), BANK_ACCOUNT, "words"))
    return out


QUESTIONS = [
    "Agent: what is the {word}?\nCustomer: {{}}",
    "Agent: and the {word}? Customer: {{}}",
    "Agent: please tell me the {word}.\nCustomer: {{}}",
    "Agent: can you read me the {word} please?\nCustomer: yes, it is {{}}",
    "{word}? {{}}",
]


def dialogue_utterances(rng: random.Random) -> list[Utterance]:
    """Codes asked for in one turn and said in the next."""
    out: list[Utterance] = []
    asked = [
        (SECURITY_CODE, ["CVV", "security code", "three digits at the back of the card", "C V V"], [3, 3, 4]),
        (EXPIRY, ["expiry", "expiry date", "valid till date"], [4]),
        (OTP, ["OTP", "one time password", "verification code"], [4, 6]),
        (UPI_PIN, ["UPI PIN", "MPIN"], [4, 6]),
        (CARD_PIN, ["ATM pin", "card PIN"], [4]),
        (BANK_ACCOUNT, ["account number"], [9, 12, 14]),
        (AADHAAR, ["aadhaar number"], [12]),
    ]
    for _ in range(6):
        for kind, words, lengths in asked:
            length = rng.choice(lengths)
            if kind == EXPIRY:
                code = f"{rng.randint(1, 12):02d}{rng.randint(26, 35)}"
                said = rng.choice([f"{code[:2]} {code[2:]}", f"{code[:2]}/{code[2:]}", say(code, "tens", rng)])
            elif kind == AADHAAR:
                code = aadhaar(rng)
                said = rng.choice([code, grouped(code, [4, 4, 4], " ")])
            else:
                code = digits(rng, length)
                said = rng.choice([code, say(code, "words", rng), " ".join(code)])
            template = rng.choice(QUESTIONS).format(word=rng.choice(words))
            out.append(utterance(template, said, kind, "asked, then answered"))
        number = card(rng)
        template = rng.choice(QUESTIONS).format(word=rng.choice(["card number", "number on the front of the card"]))
        out.append(utterance(template, grouped(number, [4, 4, 4, 4], " "), CARD, "asked, then answered"))
        wrong = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
        slowly = (
            "Customer: I want to pay by card. Agent: Sure, go ahead, take your time and please read it"
            " slowly.\nCustomer: {}"
        )
        out.append(utterance(slowly, grouped(wrong, [4, 4, 4, 4], " "), CARD, "card word turns back, misheard"))
    return out


def ordinary_utterances(rng: random.Random) -> list[Utterance]:
    out: list[Utterance] = []

    def add(form: str, text: str) -> None:
        out.append(Utterance(text, None, form))

    for _ in range(10):
        add("order number", f"my order number is {digits(rng, rng.choice([6, 8, 10, 12]), '123456789')}")
        add("ticket number", f"ticket {digits(rng, 7)} was raised on the {rng.randint(1, 28)}th")
        add("amount", f"I paid {rng.randint(100, 99999)} rupees and {rng.randint(10, 99)} paise")
        add("date", f"it was on {rng.randint(1, 28)}/{rng.randint(1, 12)}/20{rng.randint(10, 26)}")
        add("time and year", f"call me at {rng.randint(1, 12)}:{rng.randint(0, 59):02d} in {rng.randint(1990, 2030)}")
        add("pincode", f"my pincode is {digits(rng, 6, '123456789')}")
        add("pin code", f"the pin code is {say(digits(rng, 6, '123456789'), 'words', rng)}")
        mobile = digits(rng, 10, "6789")
        add("callback number", f"call me back on {grouped(mobile, [5, 5], ' ')}")
        add("12-digit phone", f"you can reach me on 91 {grouped(mobile, [5, 5], ' ')} anytime")
        imei = luhn_complete(rng.choice(["35", "86", "01", "99"]), 15, rng)
        add("IMEI", f"the IMEI is {imei}")
        add("UTR", f"the UTR is {digits(rng, 12, '23456789')}, the transfer went through")
    for _ in range(10):
        first, second = digits(rng, 10, "6789"), digits(rng, 10, "6789")
        add("two mobile numbers", f"call me on {first} and {second}")
        add("two mobile numbers, grouped", f"try {grouped(first, [5, 5], ' ')} and {grouped(second, [5, 5], ' ')}")
        add("unlabelled 12 digits", f"I got a message from {digits(rng, 12, '123456789')} yesterday")
        add("unlabelled 12 digits, in sixes", f"it says {grouped(digits(rng, 12, '123456789'), [6, 6], ' ')} here")
        add("transaction id", f"the transaction id is {digits(rng, rng.randint(13, 16), '123456789')}")
        add("txn", f"my card was charged, txn {digits(rng, rng.randint(13, 16), '123456789')}")
        add("customer id", f"my customer id is {digits(rng, rng.choice([8, 10, 12]), '123456789')}")
        day, month = rng.randint(1, 28), rng.randint(1, 12)
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        add("date and time", f"it was on {day:02d}/{month:02d}/20{rng.randint(20, 26)} {clock}")
        add("card payment for", f"card payment for {digits(rng, 13, '123456789')}")
        add(
            "asked, then answered",
            f"Agent: what is the order number?\nCustomer: {digits(rng, rng.choice([8, 10, 12]), '123456789')}",
        )
    add("zeros", "the reference is 0000000000000")
    add("April 2024", "it was April 2024 I think")
    add("order a week ago", "order 1234 a week ago")
    add("counting", "one two three, can you hear me")
    add("oh", "oh I see, so that's double four")
    add("times", "between 10 and 12 and then 4 to 6")
    add("year range", "from 2019 to 2024 for five years")
    add("card and an amount", "my card was charged 4500 rupees twice on the 3rd")
    add("card and a date", "the new card arrived on 12 March 2025, about 10 days late")
    add("call back", "please call back in 15 minutes, or after 6")
    add("pin code words", "pin code five six zero zero zero one")
    add("order for", "an order for 2 items of 499 each")
    add("account but no number", "my account was opened in 2019 with 5000 rupees")
    add("OTP not received", "I paid 2499 rupees, the OTP never came")
    add("tracking", "the tracking number is 7894561230123 from the courier")
    add("code word, then an order", "the CVV was accepted, order 55012 came on 3 March")
    add("card ending, then amounts", "the card ending 4242 was charged 1499 and then 2999 and then 1000")
    add("card, then turns with years", "Customer: my card expired\nAgent: since when?\nCustomer: 2024, since 2024")
    return out


def corpus() -> list[Utterance]:
    rng = random.Random(SEED)
    return (
        card_utterances(rng)
        + security_code_utterances(rng)
        + expiry_utterances(rng)
        + aadhaar_utterances(rng)
        + pan_utterances(rng)
        + code_utterances(rng)
        + dialogue_utterances(rng)
        + ordinary_utterances(rng)
    )


TOKEN = re.compile(r"\w+")


def numbers_in(text: str) -> Counter[str]:
    """The digits (of any script, one by one) and number words in a text."""
    text = PLACEHOLDER.sub(" ", unicodedata.normalize("NFKC", text).lower())
    found: Counter[str] = Counter()
    for word in TOKEN.findall(text):
        if word in NUMBER_WORDS:
            found[word] += 1
        found.update(c for c in word if unicodedata.digit(c, None) is not None)
    return found


def leaked(utterance: Utterance, masked: str) -> list[str]:
    """What a masked sensitive utterance still says of its value: digits and number words beyond
    those of the words around it, or the value itself (a PAN's letters)."""
    left = numbers_in(masked) - numbers_in(utterance.around)
    if utterance.said.lower() in masked.lower():
        left[utterance.said] += 1
    return sorted(left.elements())
