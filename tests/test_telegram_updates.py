"""Parsing Bot API updates into inbound events: the kinds, /start payloads, hostile input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.telegram.fields import UpdateError
from bots.telegram.updates import parse_update


def message(text: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": 3,
        "date": 1_700_000_000,
        "chat": {"id": 42, "type": "private", "first_name": "Ann"},
        "from": {"id": 42, "is_bot": False, "first_name": "Ann", "language_code": "fr"},
        **extra,
    }
    if text is not None:
        body["text"] = text
    return body


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("/start", None),
        ("/start abc_DEF-12", "abc_DEF-12"),
        ("/start@shop_bot ref42", "ref42"),
        ("/start   spaced  ", "spaced"),
        ("/starting now", None),
        ("hello /start x", None),
    ],
)
def test_start_payload(text: str, payload: str | None) -> None:
    parsed = parse_update("tg", {"update_id": 1, "message": message(text)})
    assert parsed is not None
    assert parsed.event.variables.get("start_payload") == payload
    assert parsed.event.text == text and parsed.event.language == "fr"


def test_group_message_is_the_group_client_with_the_sender_in_extra() -> None:
    body = message("hi all", chat={"id": -100, "type": "supergroup", "title": "Fans"})
    parsed = parse_update("tg", {"update_id": 2, "message": body})
    assert parsed is not None and parsed.user_id is None
    assert (parsed.event.messenger_id, parsed.event.name) == ("-100", "Fans")
    assert parsed.event.extra["from"]["id"] == 42


def test_location_contact_and_largest_photo() -> None:
    body = message(
        None,
        caption="here",
        photo=[{"file_id": "small", "file_size": 10}, {"file_id": "big", "file_size": 99}],
        location={"latitude": 1.5, "longitude": 2.5},
        contact={"phone_number": "+100", "first_name": "Bo"},
    )
    parsed = parse_update("tg", {"update_id": 3, "message": body})
    assert parsed is not None and parsed.event.text == "here"
    kinds = [(a.kind, a.file_id) for a in parsed.event.attachments]
    assert kinds == [("photo", "big"), ("location", None), ("contact", None)]


def test_unused_kinds_are_none_and_garbage_is_an_error() -> None:
    assert parse_update("tg", {"update_id": 4, "inline_query": {"id": "1"}}) is None
    for bad in ({}, {"update_id": "4"}, {"update_id": 4, "message": []}, {"update_id": True}):
        with pytest.raises(UpdateError):
            parse_update("tg", bad)


def test_member_status_changes() -> None:
    def change(status: str) -> dict[str, Any]:
        return {
            "update_id": 5,
            "my_chat_member": {
                "chat": {"id": 42, "type": "private", "first_name": "Ann"},
                "from": {"id": 42, "first_name": "Ann"},
                "date": 1_700_000_000,
                "old_chat_member": {"status": "member"},
                "new_chat_member": {"status": status},
            },
        }

    blocked = parse_update("tg", change("kicked"))
    back = parse_update("tg", change("member"))
    assert blocked is not None and blocked.event.unsubscribed is True
    assert not blocked.event.mark_unread and blocked.event.author_kind == "system"
    assert back is not None and back.event.unsubscribed is False


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "chat",
                    "id",
                    "from",
                    "text",
                    "caption",
                    "photo",
                    "document",
                    "date",
                    "type",
                    "message",
                    "data",
                    "new_chat_member",
                    "status",
                    "file_size",
                    "message_id",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@given(
    kind=st.sampled_from(["message", "edited_message", "callback_query", "my_chat_member"]),
    body=JSON,
    update_id=st.integers(min_value=-(2**40), max_value=2**40),
)
def test_any_json_is_parsed_or_refused_with_update_error(
    kind: str, body: Any, update_id: int
) -> None:
    try:
        parsed = parse_update("tg", {"update_id": update_id, kind: body})
    except UpdateError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert parsed is not None and parsed.event.dedup_key == f"tg:update:{update_id}"
    assert isinstance(parsed.event.text, str)
