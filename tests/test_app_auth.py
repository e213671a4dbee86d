"""Telegram's initData check and the app's session tokens, without a server: valid, forged,
tampered (Hypothesis over every field), stale, from the future, without a user; tokens that
are forged, altered or expired."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.app.auth import CLOCK_SKEW_S, AuthError, SessionKeys, verify_init_data
from tests.app_support import BOT_TOKEN, init_data_fields, sign, signed_init_data

MAX_AGE = 3600


def test_valid_init_data_names_its_user() -> None:
    parsed = verify_init_data(BOT_TOKEN, signed_init_data(BOT_TOKEN, 111), max_age_s=MAX_AGE)
    assert parsed.user is not None and parsed.user.id == 111


def test_another_bots_signature_is_refused() -> None:
    forged = signed_init_data("999:other-bot", 111)
    with pytest.raises(AuthError, match="not signed"):
        verify_init_data(BOT_TOKEN, forged, max_age_s=MAX_AGE)


def test_stale_and_future_init_data_are_refused() -> None:
    now = time.time()
    old = signed_init_data(BOT_TOKEN, 111, auth_date=int(now) - MAX_AGE - 1)
    with pytest.raises(AuthError, match="stale"):
        verify_init_data(BOT_TOKEN, old, max_age_s=MAX_AGE, now=now)
    # Just inside the limit still passes.
    fresh = signed_init_data(BOT_TOKEN, 111, auth_date=int(now) - MAX_AGE + 5)
    assert verify_init_data(BOT_TOKEN, fresh, max_age_s=MAX_AGE, now=now).user is not None
    ahead = signed_init_data(BOT_TOKEN, 111, auth_date=int(now) + CLOCK_SKEW_S + 30)
    with pytest.raises(AuthError, match="future"):
        verify_init_data(BOT_TOKEN, ahead, max_age_s=MAX_AGE, now=now)


def test_signed_init_data_without_a_user_is_refused() -> None:
    fields = init_data_fields(111)
    del fields["user"]
    with pytest.raises(AuthError, match="no user"):
        verify_init_data(BOT_TOKEN, sign(BOT_TOKEN, fields), max_age_s=MAX_AGE)


@pytest.mark.parametrize("init_data", ["", "hash=", "a=1", "%%%", "x" * 9000, "user=1&hash=zz"])
def test_garbage_is_refused_in_one_line(init_data: str) -> None:
    with pytest.raises(AuthError) as caught:
        verify_init_data(BOT_TOKEN, init_data, max_age_s=MAX_AGE)
    assert "\n" not in str(caught.value)


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(["user", "auth_date", "query_id", "hash", "start_param"]),
    value=st.text(max_size=40),
)
def test_any_tampered_field_is_refused(key: str, value: str) -> None:
    """Changing or adding any field after signing breaks the signature (or the data)."""
    fields = dict(parse_qsl(signed_init_data(BOT_TOKEN, 111)))
    if fields.get(key) == value or (key not in fields and value == ""):
        return  # not a change: an empty field reads as an absent one (parse_qsl), signed or not
    fields[key] = value
    with pytest.raises(AuthError):
        verify_init_data(BOT_TOKEN, urlencode(fields), max_age_s=MAX_AGE)


@settings(max_examples=100, deadline=None)
@given(user_id=st.integers(min_value=1, max_value=2**52), other=st.integers(1, 2**52))
def test_a_signature_covers_the_user(user_id: int, other: int) -> None:
    """initData signed for one user does not pass with another user's id put in."""
    good = dict(parse_qsl(signed_init_data(BOT_TOKEN, user_id)))
    assert verify_init_data(BOT_TOKEN, urlencode(good), max_age_s=MAX_AGE).user.id == user_id  # type: ignore[union-attr]
    if other == user_id:
        return
    good["user"] = good["user"].replace(f'"id":{user_id}', f'"id":{other}')
    with pytest.raises(AuthError):
        verify_init_data(BOT_TOKEN, urlencode(good), max_age_s=MAX_AGE)


def test_session_tokens_name_their_operator_until_they_expire() -> None:
    keys = SessionKeys.from_bot_token(BOT_TOKEN, lifetime_s=900)
    token, expires = keys.issue(7, now=1_000_000)
    assert expires == 1_000_900
    assert keys.operator_id(token, now=1_000_899) == 7
    with pytest.raises(AuthError, match="expired"):
        keys.operator_id(token, now=1_000_900)
    other_bot = SessionKeys.from_bot_token("1:rotated", lifetime_s=900)
    with pytest.raises(AuthError, match="not valid"):
        other_bot.operator_id(token, now=1_000_000)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_an_altered_token_is_refused(data: st.DataObject) -> None:
    """Another operator id, a later expiry or any changed character: refused."""
    keys = SessionKeys.from_bot_token(BOT_TOKEN, lifetime_s=900)
    token, _ = keys.issue(7)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != token[position]))
    altered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(AuthError):
        keys.operator_id(altered)
    prefix, _operator, expires, mac = token.split(".")
    for forged in (f"{prefix}.8.{expires}.{mac}", f"{prefix}.7.{int(expires) + 9999}.{mac}"):
        with pytest.raises(AuthError):
            keys.operator_id(forged)
