"""Checking a phone number typed by an operator (F1): E.164 out, or one clear reason.

WhatsApp addresses people by phone number; the store keeps them in E.164 (``+79161234567``),
the form webhooks arrive in (``bots.whatsapp.payloads.e164``), so a number written by an
operator and the same person writing in land on one client.

Accepted input: international form with ``+`` or ``00`` (``+7 916 123-45-67``,
``0049 151 12345678``), WhatsApp's own bare digits with the country code (``16505551234``), and
— when the bot has a ``default_region`` — the national form of that country (``8 916 123 45
67`` for RU). Separators ``space - . ( ) /`` are ignored. The number must be a valid number of
its country by Google's libphonenumber metadata (``phonenumbers``), not merely the right length.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

_ALLOWED = re.compile(r"^\+?[0-9 ().\-/]+$")
_SEPARATORS = re.compile(r"[ ().\-/]")

_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong number of digits for its country",
}
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_LONG: "too long",
}
HINT = "write it as +<country code><number>, e.g. +7 916 123-45-67"


class InvalidPhone(ValueError):
    """``str()`` is one line: the number as typed and what is wrong with it."""


def _shown(text: str) -> str:
    shown = " ".join(text.split())
    return repr(text) if not shown else (shown if len(shown) <= 40 else shown[:40] + "...")


def normalise_phone(text: str, default_region: str | None = None) -> str:
    """``text`` as an E.164 number (``+`` and digits), or ``InvalidPhone`` saying why.

    ``default_region`` (ISO 3166 alpha-2, e.g. ``RU``) is the country of numbers written
    without ``+``/``00``; without it such digits are read as country code + number.
    """
    shown = _shown(text)
    raw = text.strip()
    if not raw:
        raise InvalidPhone(f"{shown} is not a phone number: it is empty")
    if not any(c.isdigit() for c in raw):
        raise InvalidPhone(f"{shown} is not a phone number: it has no digits")
    if not _ALLOWED.match(raw):
        raise InvalidPhone(
            f"{shown} is not a phone number: only digits, a leading +, spaces and - ( ) . / "
            "are allowed"
        )
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+") and default_region is None:
        digits = "+" + digits  # WhatsApp's wa_id form: country code and number, no plus
    try:
        number = phonenumbers.parse(digits, None if digits.startswith("+") else default_region)
    except NumberParseException as exc:
        why = _PARSE_REASONS.get(exc.error_type, "not a number")
        raise InvalidPhone(f"{shown} is not a phone number: {why}; {HINT}") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _REASONS:
        raise InvalidPhone(f"{shown} is not a phone number: {_REASONS[reason]}; {HINT}")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{shown} is not a valid phone number of {_invalid_because(number)}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _invalid_because(number: phonenumbers.PhoneNumber) -> str:
    """Why a number of the right shape is still not valid, compared with its country's
    example mobile number (lengths vary within some countries: this is a hint, not a rule)."""
    code = number.country_code or 0
    region = phonenumbers.region_code_for_country_code(code)
    digits = len(phonenumbers.national_significant_number(number))
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    usual = len(phonenumbers.national_significant_number(example)) if example else digits
    where = f"{region} (+{code})"
    if digits != usual:
        size = "too short" if digits < usual else "too long"
        return f"{where}: {size}, {digits} digits after +{code} where {usual} are usual"
    return f"{where}: no numbers are assigned in that range"
