"""Payment and identity data never reaches a stored transcript."""

import gc

import pytest

from recordings.live.masking import luhn_valid, mask, verhoeff_valid

SPOKEN_CARD = "four one one one one one one one one one one one one one one one"


@pytest.mark.parametrize(
    "text, kept, kinds",
    [
        ("my card is 4111 1111 1111 1111 thanks", "my card is [card number] thanks", ["card number"]),
        ("card 4111-1111-1111-1111.", "card [card number].", ["card number"]),
        ("number 378282246310005 amex", "number [card number] amex", ["card number"]),
        (f"it is {SPOKEN_CARD} ok", "it is [card number] ok", ["card number"]),
        (
            "five five five five, five five five five, five five five five, four four four four",
            "[card number]",
            ["card number"],
        ),
        (
            "double five double five double five double five double five double five four four four four",
            "[card number]",
            ["card number"],
        ),
        ("the CVV is 737", "the CVV is [security code]", ["security code"]),
        ("security code, um, it's seven three seven", "security code, um, it's [security code]", ["security code"]),
        ("cvc: 1234", "cvc: [security code]", ["security code"]),
        ("aadhaar 2341 2341 2346 please", "aadhaar [Aadhaar number] please", ["Aadhaar number"]),
        (
            "aadhaar two three four one two three four one two three four six",
            "aadhaar [Aadhaar number]",
            ["Aadhaar number"],
        ),
        ("PAN ABCDE1234F", "PAN [PAN]", ["PAN"]),
        ("pan is abcde1234f.", "pan is [PAN].", ["PAN"]),
        ("P A N: A B C D E one two three four F", "P A N: [PAN]", ["PAN"]),
        ("card4111111111111111", "card[card number]", ["card number"]),
    ],
)
def test_masks(text, kept, kinds):
    masked = mask(text)
    assert masked.text == kept
    assert masked.kinds == kinds


@pytest.mark.parametrize(
    "text",
    [
        "call me back on 98765 43210",  # a phone number is no card
        "4111 1111 1111 1112",  # fails the Luhn check
        "order number 1234 5678 9012",  # 12 digits failing the Verhoeff check
        "oh I see, so that's double four",
        "the price is 1499 rupees for 12 months",
        "ABCDE12345F is not a PAN shape",
        "I will code it securely",
    ],
)
def test_leaves_what_is_not_payment_or_id_data(text):
    masked = mask(text)
    assert masked.text == text
    assert masked.kinds == []


@pytest.mark.parametrize(
    "text, kept, kinds",
    [
        ("card 4111 – 1111 – 1111 – 1111 thanks", "card [card number] thanks", ["card number"]),
        ("4111--1111--1111--1111", "[card number]", ["card number"]),
        ("4111\u200b1111\u200b1111\u200b1111", "[card number]", ["card number"]),
        ("4111 um 1111 uh 1111 and 1111", "[card number]", ["card number"]),
        ("Customer: it's 4111 1111\nAgent: okay\nCustomer: 1111 1111", "Customer: it's [card number]", ["card number"]),
        ("for one one one one one one one one one one one one one one one", "[card number]", ["card number"]),
        ("forty one eleven eleven eleven eleven eleven eleven eleven", "[card number]", ["card number"]),
        ("4 triple 1 1111 1111 1111", "[card number]", ["card number"]),
        ("my debit card 4111 1111 1111 1112", "my debit card [card number]", ["card number"]),
        (
            "five five five five five five five five five five five five four four four oh",
            "[card number]",
            ["card number"],
        ),
        ("4111111111111111 12 27", "[card number]", ["card number"]),
        ("4111111111111111123", "[card number]", ["card number"]),
        ("card 4111 1111 1111 111¹", "card [card number]", ["card number"]),
        ("123 is my CVV", "[security code] is my CVV", ["security code"]),
        ("C V V 123", "C V V [security code]", ["security code"]),
        ("C.V.V. 123", "C.V.V. [security code]", ["security code"]),
        (
            "the CVV, hold on let me turn it over and find my glasses, is 123",
            "the CVV, hold on let me turn it over and find my glasses, is [security code]",
            ["security code"],
        ),
        ("expiry 12/25", "expiry [expiry date]", ["expiry date"]),
        ("aadhaar 1234 5678 9012", "aadhaar [Aadhaar number]", ["Aadhaar number"]),
        ("my pan is ABCPE12O4F", "my pan is [PAN]", ["PAN"]),
        ("ABCPE-1234-F", "[PAN]", ["PAN"]),
        ("ABCPE१२३४F", "[PAN]", ["PAN"]),
        ("ＡＢＣＰＥ１２３４Ｆ", "[PAN]", ["PAN"]),
        ("the otp is 482913", "the otp is [OTP]", ["OTP"]),
        ("upi pin 1234", "upi pin [UPI PIN]", ["UPI PIN"]),
        ("atm pin is 4321", "atm pin is [card PIN]", ["card PIN"]),
        ("account number 123456789012", "account number [bank account number]", ["bank account number"]),
    ],
)
def test_masks_what_callers_and_speech_recognition_produce(text, kept, kinds):
    masked = mask(text)
    assert masked.text == kept
    assert masked.kinds == kinds


@pytest.mark.parametrize(
    "text",
    [
        "0000000000000",
        "imei 356938035643809",
        "356938035643809",  # an IMEI's 15 digits pass Luhn, but no card of 15 digits starts 35
        "call me on 91 98765 43210",
        "April 2024 I think",
        "order 1234 a week ago",
        "my pincode is 560001",
        "the pin code is 560001",
        "four hundred and eleven rupees",
    ],
)
def test_leaves_ordinary_numbers(text):
    assert mask(text).text == text


def test_a_card_inside_a_longer_run_of_digits_is_found():
    masked = mask("ref 98 4111 1111 1111 1111")
    assert "4111" not in masked.text


def test_every_kind_once_in_order():
    masked = mask("CVV 123, card 4111111111111111, CVV 456")
    assert masked.kinds == ["security code", "card number"]
    assert "123" not in masked.text and "456" not in masked.text


def test_highlight_markers_never_reach_stored_text():
    assert mask("a \ue000b\ue001 c").text == "a b c"


def test_check_digits():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert verhoeff_valid("234123412346") and not verhoeff_valid("234123412345")


def test_the_cyclic_collector_is_never_switched_off(monkeypatch):
    # Switching it off is process-wide: every other thread of the server would run without it.
    def refuse() -> None:
        raise AssertionError("masking switched the cyclic collector off")

    monkeypatch.setattr(gc, "disable", refuse)
    assert mask("card 4111 1111 1111 1111").kinds == ["card number"]
    assert gc.isenabled()


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Agent: what is the CVV? Customer: 1 2 3", "security code"),
        ("Agent: what is the expiry?\nCustomer: 12 27", "expiry date"),
        ("otp? 456789", "OTP"),
        ("UPI PIN? 1234", "UPI PIN"),
        ("Agent: please tell me the OTP.\nCustomer: 4 8 2 9 1 3", "OTP"),
        ("Agent: and the three digits at the back of the card?\nCustomer: 7 3 1", "security code"),
        ("Agent: what is the CVV? Customer: sorry, which one? Agent: the CVV. Customer: 123", "security code"),
    ],
)
def test_a_code_asked_for_is_masked_in_the_answer(text, kind):
    masked = mask(text)
    assert kind in masked.kinds
    assert not any(char.isdigit() for char in masked.text.split(":")[-1]), masked.text


@pytest.mark.parametrize(
    "text",
    [
        # The answer ends the question's reach: the next sentence is someone else's number.
        "Agent: what is the CVV? Customer: I don't have it. Agent: ok, I will call at 530 then.",
        "Agent: what is the OTP? Customer: it did not come.\nAgent: I'll resend, it takes 120 seconds.",
    ],
)
def test_a_question_reaches_no_further_than_its_answer(text):
    assert mask(text).text == text


def test_a_long_run_after_a_card_word_is_masked_whatever_its_digits():
    masked = mask("my card 4111111111111111 1111111111111111 1111111111")
    assert masked.text == "my card [card number]"


def test_card_context_reaches_across_the_agents_turn():
    text = (
        "Customer: I want to pay by card. Agent: Sure, go ahead, take your time and please read it"
        " slowly.\nCustomer: 4111 1111 1111 1112"
    )
    masked = mask(text)
    assert masked.text.endswith("Customer: [card number]") and masked.kinds == ["card number"]


@pytest.mark.parametrize(
    "text",
    [
        "call me on 9876543210 and 9123456780",
        "call me on 98765 43210 and 91234 56780",
        "card payment for 8780463809892",
        "the call was on 25/08/2024 17:35:14",
        "the number 234123412346 is on the letter",  # Verhoeff-valid, but one piece and no word
        "my card was declined, transaction id 4111111111111111",
    ],
)
def test_ordinary_numbers_stay(text):
    assert mask(text).text == text


def test_an_aadhaar_grouped_in_fours_needs_no_word():
    assert mask("it is 2341 2341 2346").text == "it is [Aadhaar number]"
