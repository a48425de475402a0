"""Amounts of money as people read them: "₹1,234.50", in the account's currency (BILLING_CURRENCY).

Vobiz sends storage amounts and rates as bare numbers (`0.000000`); the account is billed in one
currency, which the pages name with every amount.
"""

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal, list_currencies
from django import template
from django.conf import settings
from django.utils.translation import to_locale

register = template.Library()

# Up to four decimals, for the fractions of a paisa or cent a single recording's storage costs.
PRECISE = "¤#,##0.00##"
KNOWN_CURRENCIES = frozenset(list_currencies())  # list_currencies() builds a new set on every call


@register.filter
def money(amount: Decimal | float | int | str | None, style: str = "") -> str:
    """`amount` in BILLING_CURRENCY: "₹1,234.50"; with "precise", up to four decimals ("₹0.0054").
    A missing amount is none ("–"): an unknown cost is not a free one."""
    return amount_in(amount, settings.BILLING_CURRENCY, precise=style == "precise")


def amount_in(amount: Decimal | float | int | str | None, currency: str, *, precise: bool = False) -> str:
    """`amount` in `currency` (an ISO code such as INR), as `money` shows it; "–" when missing.

    A code Babel does not know (a hostile or garbled field) follows the bare number, for the page
    to escape, rather than being passed off as a currency."""
    if amount is None or amount == "":
        return "–"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return "–"
    if currency not in KNOWN_CURRENCIES:
        return f"{format_decimal(value, format='#,##0.00##', locale=locale())} {currency}"
    if precise:
        return format_currency(value, currency, format=PRECISE, locale=locale(), currency_digits=False)
    return format_currency(value, currency, locale=locale())


def locale() -> str:
    return to_locale(settings.LANGUAGE_CODE)
