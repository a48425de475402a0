"""Payment and identity data never reaches a stored transcript."""

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
        ("two three four one two three four one two three four six", "[Aadhaar number]", ["Aadhaar number"]),
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
