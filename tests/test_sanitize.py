"""store.sanitize: text any database holds, clipping, the time window; the JSON request limits."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from bots.webhook import json_limits_exceeded
from store import sanitize
from store.inbound import InboundMessage
from store.models import Client, Message

NOW = dt.datetime(2026, 6, 1, 12, 0)
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)


@given(ANY_TEXT)
def test_clean_text_is_storable_and_idempotent(text: str) -> None:
    cleaned = sanitize.clean_text(text)
    cleaned.encode("utf-8")  # no lone surrogates left
    assert not any(ord(c) < 32 and c not in "\t\n" for c in cleaned)
    assert sanitize.clean_text(cleaned) == cleaned
    assert len(cleaned) <= len(text)


@given(st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=200))
def test_clean_text_keeps_ordinary_text(text: str) -> None:
    assert sanitize.clean_text(text) == text


def test_clean_text_examples() -> None:
    assert sanitize.clean_text("a\ud800b\x00c\r\nd\re\tf\x1b") == "a\ufffdbc\nd\ne\tf"


@given(st.text(max_size=700), st.text(max_size=700))
def test_clip_key_keeps_distinct_ids_distinct(a: str, b: str) -> None:
    ca, cb = sanitize.clip_key(a, 64), sanitize.clip_key(b, 64)
    assert len(ca) <= 64 and (ca == cb) == (a == b)


def test_column_sizes_match_the_models() -> None:
    assert Client.name.max_length == sanitize.NAME_CHARS
    assert Client.username.max_length == sanitize.USERNAME_CHARS
    assert Client.language.max_length == sanitize.LANGUAGE_CHARS
    assert Client.messenger_id.max_length == sanitize.MESSENGER_ID_CHARS
    assert Message.dedup_key.max_length == sanitize.KEY_CHARS
    assert Message.platform_message_id.max_length == sanitize.KEY_CHARS


def test_time_window() -> None:
    assert sanitize.sane_time(None, NOW) == (None, False)
    assert sanitize.sane_time(dt.datetime(2000, 1, 1), NOW) == (dt.datetime(2000, 1, 1), False)
    assert sanitize.sane_time(dt.datetime(1999, 12, 31, 23, 59), NOW) == (None, True)
    ahead = NOW + dt.timedelta(hours=23)
    assert sanitize.sane_time(ahead, NOW) == (ahead, False)
    assert sanitize.sane_time(NOW + dt.timedelta(days=2), NOW) == (None, True)
    assert sanitize.from_epoch(10**40) == dt.datetime(9999, 12, 31, 23, 59, 59)
    assert sanitize.from_epoch(-(10**40)) == dt.datetime(1, 1, 1)
    assert sanitize.from_epoch("1700000000") == dt.datetime(2023, 11, 14, 22, 13, 20)
    for odd in (True, 1.5, "", "x", "1e9", None, [1], "٣"):
        assert sanitize.from_epoch(odd) is None


def test_clean_event_records_what_changed() -> None:
    event = InboundMessage(
        bot_name="b",
        messenger_id="m\x00",
        dedup_key="k" * 600,
        text="t\x00",
        name="n" * 401,
        language="en-GB-oxendict-x",
        sent_at=dt.datetime(9999, 12, 31),
        extra={"a\x00": ["\ud800"]},
        variables={"v": "\x00"},
    )
    cleaned = sanitize.clean_event(event, NOW)
    assert cleaned.messenger_id == "m" and cleaned.text == "t"
    assert len(cleaned.dedup_key) == 512 and cleaned.name == "n" * 400
    assert cleaned.sent_at is None
    assert cleaned.extra == {
        "a": ["\ufffd"],
        "clipped": ["name"],
        "sent_at_replaced": "9999-12-31T00:00:00",
    }
    assert cleaned.variables == {"v": ""}


def test_json_limits() -> None:
    assert json_limits_exceeded(b"[" * 100 + b"]" * 100) is None
    assert json_limits_exceeded(b"[" * 101 + b"]" * 101) == "nested deeper than 100 levels"
    assert json_limits_exceeded(b'{"a": "' + b"[" * 500 + b'"}') is None
    assert json_limits_exceeded(b'{"a": "\\"[[[[", "b": 1}') is None
    assert json_limits_exceeded(b'{"a": ' + b"1" * 101 + b"}") is not None
    assert json_limits_exceeded(b'{"a": 1.' + b"1" * 100 + b"}") is None
    # an unterminated string is scanned in linear time (and left to json.loads to refuse)
    assert json_limits_exceeded(b'"' + b'\\"' * 300_000) is None


@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=30,
    )
)
def test_json_limits_accept_ordinary_json(value: object) -> None:
    assert json_limits_exceeded(json.dumps(value).encode()) is None


def _all_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_all_strings(k), *_all_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _all_strings(v)]
    return []


@given(
    texts=st.lists(ANY_TEXT, min_size=6, max_size=6),
    long_name=st.booleans(),
    sent_at=st.none() | st.datetimes(),
)
def test_clean_event_output_is_storable_and_clean_again(
    texts: list[str], long_name: bool, sent_at: dt.datetime | None
) -> None:
    name = texts[1] * 50 if long_name else texts[1]
    event = InboundMessage(
        bot_name="b",
        messenger_id=texts[0] or "m",
        dedup_key="k" + texts[0],
        text=texts[2],
        name=name,
        language=texts[3],
        sent_at=sent_at,
        extra={texts[4]: [texts[5], {"x": texts[2]}]},
        variables={texts[4]: texts[5]},
    )
    cleaned = sanitize.clean_event(event, NOW)
    assert sanitize.clean_event(cleaned, NOW) is cleaned  # nothing left to clean
    for text in _all_strings([cleaned.messenger_id, cleaned.text, cleaned.name, cleaned.extra]):
        text.encode("utf-8")
        assert not any(ord(c) < 32 and c not in "\t\n" for c in text)
    assert cleaned.name is None or len(cleaned.name) <= sanitize.NAME_CHARS
    assert (cleaned is event) == (cleaned == event)
