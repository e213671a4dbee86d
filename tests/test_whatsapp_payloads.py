"""Reading Cloud API webhook payloads (shapes from Meta's documentation) and signatures."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.whatsapp.buttons import render_buttons
from bots.whatsapp.payloads import PayloadError, parse_payload
from bots.whatsapp.signature import sign, signature_valid
from emulators import whatsapp_payloads as wp

PHONE_ID = "106540352242922"
DOC_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
SENDER = "16315551181"


def parse(*messages: dict[str, Any], statuses: tuple[dict[str, Any], ...] = ()) -> Any:
    body = wp.envelope(
        PHONE_ID, messages=messages, statuses=statuses, profiles={SENDER: "Kerry Fisher"}
    )
    return parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID)


def test_text_message_from_the_documentation() -> None:
    # The example of Meta's "Text messages" webhook reference, verbatim.
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_ID,
                            },
                            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": SENDER}],
                            "messages": [
                                {
                                    "from": SENDER,
                                    "id": DOC_WAMID,
                                    "timestamp": "1749416383",
                                    "type": "text",
                                    "text": {"body": "Does it come in another color?"},
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    parsed = parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID)
    (message,) = parsed.messages
    assert message.messenger_id == "+16315551181"
    assert message.name == "Sheena Nelson"
    assert message.text == "Does it come in another color?"
    assert message.dedup_key == f"wa:{DOC_WAMID}"
    assert message.sent_at == dt.datetime(2025, 6, 8, 20, 59, 43)
    assert message.extra == {"type": "text", "to": "15550783881"}
    assert parsed.statuses == []


@pytest.mark.parametrize(
    ("kind", "attachment_kind", "extra"),
    [
        ("image", "photo", {}),
        ("video", "video", {}),
        ("document", "document", {"filename": "invoice.pdf"}),
        ("sticker", "sticker", {}),
        ("audio", "audio", {}),
        ("audio", "voice", {"voice": True}),
    ],
)
def test_media_messages_become_attachments(
    kind: str, attachment_kind: str, extra: dict[str, Any]
) -> None:
    caption = None if kind in ("sticker", "audio") else "look"
    payload = wp.media(kind, SENDER, "1480010", mime_type="x/y", caption=caption, **extra)
    (message,) = parse(payload).messages
    (attachment,) = message.attachments
    assert attachment.kind == attachment_kind
    assert attachment.file_id == "1480010"
    assert attachment.mime_type == "x/y"
    assert attachment.file_name == extra.get("filename")
    assert message.text == (caption or "")
    assert message.extra["type"] == kind


def test_location_contacts_replies_reactions_unsupported() -> None:
    card = {
        "name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara"},
        "phones": [{"phone": "+1 (940) 555-1234", "type": "HOME", "wa_id": "19405551234"}],
    }
    parsed = parse(
        wp.location(SENDER, 37.4, -122.1, name="Philz Coffee", address="101 Forest Ave"),
        wp.contacts(SENDER, [card]),
        wp.button_reply(SENDER, "yes-1", "Yes"),
        wp.list_reply(SENDER, "row-2", "Large", "XL and up"),
        wp.template_button(SENDER, "Stop promotions", "STOP"),
        wp.reaction(SENDER, "wamid.OURS", "\U0001f44d"),
        wp.reaction(SENDER, "wamid.OURS", None),
        wp.unsupported(SENDER),
        wp.text(SENDER, "a reply", context_id="wamid.OURS"),
    )
    loc, contact, button, row, template, react, unreact, unsupported, reply = parsed.messages
    assert loc.text == "Philz Coffee, 101 Forest Ave"
    assert loc.attachments[0].kind == "location"
    assert loc.attachments[0].extra["latitude"] == 37.4
    assert contact.text == "Barbara J. Johnson"
    assert contact.attachments[0].kind == "contact"
    assert contact.attachments[0].extra["phones"][0]["wa_id"] == "19405551234"
    assert (button.text, button.extra["reply"]["id"]) == ("Yes", "yes-1")
    assert button.extra["reply"]["type"] == "button_reply"
    assert (row.text, row.extra["reply"]["id"]) == ("Large", "row-2")
    assert row.extra["reply"]["description"] == "XL and up"
    assert (template.text, template.extra["reply"]["payload"]) == ("Stop promotions", "STOP")
    assert react.text == "reacted \U0001f44d" and react.author_kind == "system"
    assert react.extra["reaction"] == {"message_id": "wamid.OURS", "emoji": "\U0001f44d"}
    assert unreact.text == "removed the reaction" and unreact.extra["reaction"]["emoji"] is None
    assert not react.mark_unread and not unreact.mark_unread
    assert unsupported.extra["type"] == "unsupported"
    assert unsupported.extra["errors"][0]["code"] == 131051
    assert reply.extra["reply_to"] == "wamid.OURS"
    assert all(m.name == "Kerry Fisher" for m in parsed.messages)


def test_statuses_with_and_without_errors() -> None:
    parsed = parse(
        statuses=(
            wp.status("wamid.A", "delivered", SENDER, timestamp=1674144785),
            wp.status(
                "wamid.B",
                "failed",
                SENDER,
                error_code=131047,
                error_title="Re-engagement message",
                error_details="More than 24 hours have passed.",
            ),
        )
    )
    delivered, failed = parsed.statuses
    assert (delivered.wamid, delivered.status, delivered.error_code) == (
        "wamid.A",
        "delivered",
        None,
    )
    assert delivered.at == dt.datetime(2023, 1, 19, 16, 13, 5)
    assert (failed.status, failed.error_code) == ("failed", "131047")
    assert failed.error_text == "Re-engagement message: More than 24 hours have passed."


def test_other_phone_numbers_and_fields_are_skipped() -> None:
    body = wp.envelope("999", messages=[wp.text(SENDER, "not for us")])
    body["entry"][0]["changes"].append({"field": "message_template_status_update", "value": {}})
    parsed = parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID)
    assert parsed.messages == [] and parsed.skipped == 2


@pytest.mark.parametrize(
    "body",
    [
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account", "entry": {}},
    ],
)
def test_malformed_payloads_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(PayloadError):
        parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"object": "whatsapp_business_account", "entry": [{"changes": [1]}]}, "change"),
        ({"object": "whatsapp_business_account", "entry": [7]}, "entry"),
        (wp.envelope(PHONE_ID, messages=[{"type": "text"}]), "message.id"),
        (wp.envelope(PHONE_ID, messages=[{"id": "wamid.A", "type": "text"}]), "message.from"),
        (wp.envelope(PHONE_ID, messages=[wp.text("1555", "x", wamid="w" * 513)]), "message.id"),
        (wp.envelope(PHONE_ID, messages=[{"id": 7, "from": "1555"}]), "message.id"),
        (wp.envelope(PHONE_ID, messages=[{"id": "w", "from": "1555", "type": 5}]), "message.type"),
        (wp.envelope(PHONE_ID, statuses=[{"id": "wamid.X"}]), "status.status"),
    ],
)
def test_unusable_items_are_returned_not_raised(body: dict[str, Any], reason: str) -> None:
    parsed = parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID)
    assert parsed.messages == [] and parsed.statuses == []
    assert [u.reason for u in parsed.unusable] == [reason]


SENDERS = [True, 1.5, 16315551181, ["16315551181"], {}, "", "+16315551181", "1631555\u200b1181"]
SENDERS += ["A" * 100_000, "1" * 21, "١٦٣١٥٥٥١١٨١", None]


@pytest.mark.parametrize("sender", SENDERS, ids=range(len(SENDERS)))
def test_from_of_any_other_form_is_unusable(sender: Any) -> None:
    message = {"id": "wamid.bad", "type": "text", "text": {"body": "x"}, "from": sender}
    good = wp.text("16315551181", "fine", wamid="wamid.good")
    parsed = parse_payload(
        wp.envelope(PHONE_ID, messages=[message, good]), bot_name="wa", phone_number_id=PHONE_ID
    )
    assert [m.text for m in parsed.messages] == ["fine"]
    assert [u.reason for u in parsed.unusable] == ["message.from"]
    assert "AAAA" not in parsed.unusable[0].detail  # the value itself is never in the detail


def test_contact_name_and_error_data_as_strings() -> None:
    card = wp.contacts("16315551181", [{"name": "Bob Plain", "phones": []}], wamid="wamid.c")
    failed = {
        "id": "wamid.s",
        "status": "failed",
        "recipient_id": "16315551181",
        "timestamp": "1700000000",
        "errors": [{"code": 131026, "title": "Undeliverable", "error_data": "no such user"}],
    }
    body = wp.envelope(PHONE_ID, messages=[card], statuses=[failed])
    parsed = parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID)
    assert [m.text for m in parsed.messages] == ["Bob Plain"]
    (status,) = parsed.statuses
    assert (status.error_code, status.error_text) == ("131026", "Undeliverable: no such user")


@given(st.text(max_size=300), st.text(alphabet="0123456789", min_size=5, max_size=15))
def test_any_text_round_trips(text: str, sender: str) -> None:
    body = json.loads(json.dumps(wp.envelope(PHONE_ID, messages=[wp.text(sender, text)])))
    (message,) = parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID).messages
    assert message.text == text
    assert message.messenger_id == f"+{sender}"


@given(st.binary(max_size=200), st.text(min_size=1, max_size=40))
def test_signature_accepts_only_the_exact_body(body: bytes, secret: str) -> None:
    header = sign(body, secret)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature_valid(body, header, secret)
    assert signature_valid(body, header.upper().replace("SHA256=", "sha256="), secret)
    assert not signature_valid(body + b"x", header, secret)
    assert not signature_valid(body, header, secret + "x")
    assert not signature_valid(body, None, secret)
    assert not signature_valid(body, header[7:], secret)


def test_buttons_fit_or_degrade_to_text() -> None:
    yes_no = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}], [{"text": "No"}]]}
    rendered = render_buttons("Sure?", yes_no)
    assert [(b.title, b.id) for b in rendered.reply] == [("Yes", "y"), ("No", "No")]
    link = render_buttons("Site", {"inline_keyboard": [[{"text": "Open", "url": "https://x.y"}]]})
    assert link.link is not None and link.link.url == "https://x.y"
    four = {"keyboard": [["a", "b"], ["c", "d"]]}
    assert render_buttons("Pick", four).text == "Pick\n\n1. a\n2. b\n3. c\n4. d"
    mixed = {"inline_keyboard": [[{"text": "a", "callback_data": "1"}, {"text": "u", "url": "h"}]]}
    degraded = render_buttons("T", mixed)
    assert degraded.reply == () and degraded.text == "T\n\n1. a\n2. u: h"
    long_title = {"inline_keyboard": [[{"text": "x" * 21, "callback_data": "1"}]]}
    assert render_buttons("T", long_title).text.endswith("1. " + "x" * 21)
    assert render_buttons("plain", None).text == "plain"
