"""Phone numbers typed by operators (F1): E.164 out, or one clear line saying why not."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat
from pydantic import ValidationError

from bots.whatsapp.phone import InvalidPhone, normalise_phone
from tests.whatsapp_support import settings_for

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Every country's example mobile number, as libphonenumber's metadata gives it.
EXAMPLES = sorted(
    (region, number)
    for region in phonenumbers.SUPPORTED_REGIONS
    if (number := phonenumbers.example_number_for_type(region, 1)) is not None
)
SEPARATORS = st.sampled_from([" ", "-", ".", "(", ")", "/", "  "])


def spaced(text: str, cuts: list[bool], separator: str) -> str:
    """``text`` with ``separator`` after each character whose cut is True."""
    return "".join(c + (separator if cut else "") for c, cut in zip(text, cuts, strict=False))


@given(
    example=st.sampled_from(EXAMPLES),
    form=st.sampled_from(["e164", "international", "double_zero", "bare_digits"]),
    cuts=st.lists(st.booleans(), min_size=20, max_size=20),
    separator=SEPARATORS,
)
def test_every_countrys_number_in_any_international_spelling_is_one_e164(
    example: tuple[str, phonenumbers.PhoneNumber], form: str, cuts: list[bool], separator: str
) -> None:
    _, number = example
    expected = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    written = {
        "e164": expected,
        "international": phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        "double_zero": "00" + expected[1:],
        "bare_digits": expected[1:],  # WhatsApp's wa_id form
    }[form]
    head, tail = written[:1], written[1:]
    typed = f"  {head}{spaced(tail, cuts, separator)} "
    assert normalise_phone(typed) == expected
    assert normalise_phone(expected) == expected  # idempotent


@given(example=st.sampled_from(EXAMPLES), cuts=st.lists(st.booleans(), min_size=20, max_size=20))
def test_national_form_is_read_in_the_bots_default_region(
    example: tuple[str, phonenumbers.PhoneNumber], cuts: list[bool]
) -> None:
    region, number = example
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    expected = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    digits = re.sub(r"[^0-9]", "", national)
    # Some countries' national forms carry characters we refuse (e.g. "ext."); they are rare.
    if phonenumbers.parse(digits, region) != number:
        return
    assert normalise_phone(spaced(digits, cuts, " "), region) == expected
    # A number with its country code is the same number whatever the default region.
    assert normalise_phone(expected, "DE" if region != "DE" else "FR") == expected


@given(st.text(max_size=40))
def test_any_text_is_either_a_valid_e164_number_or_refused_in_one_line(text: str) -> None:
    try:
        result = normalise_phone(text)
    except InvalidPhone as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message
        assert "phone number" in message
        return
    assert E164.match(result)
    assert phonenumbers.is_valid_number(phonenumbers.parse(result))


@given(st.text(alphabet="0123456789 +-()", max_size=25), st.sampled_from([None, "RU", "US"]))
def test_digit_soup_never_raises_anything_but_invalid_phone(text: str, region: str | None) -> None:
    try:
        assert E164.match(normalise_phone(text, region))
    except InvalidPhone as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize(
    ("typed", "region", "reason"),
    [
        ("", None, "it is empty"),
        ("   ", None, "it is empty"),
        ("+", None, "it has no digits"),
        ("call me", None, "it has no digits"),
        ("call 555 1234", None, "only digits, a leading +"),
        ("+7 916 123 45 67 ext 5", None, "only digits, a leading +"),
        ("+7 (916) 1234", None, "too short"),
        ("+7 916 123 45 67 89 01 23", None, "too long"),
        ("89161234567", None, "unknown country code"),  # national form, but no default_region
        ("+999 1234 5678", None, "unknown country code"),
        ("+7 000 000 00 00", None, "not a valid phone number of RU (+7)"),
        ("8 916 123", "RU", "too short"),
    ],
)
def test_refusals_say_what_is_wrong(typed: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_phone(typed, region)
    assert reason in str(caught.value)


def test_default_region_is_checked_in_the_configuration() -> None:
    assert settings_for(default_region="ru").bots[0].default_region == "RU"  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="country code such as RU"):
        settings_for(default_region="Russia")
