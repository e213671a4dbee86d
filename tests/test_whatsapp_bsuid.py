"""WhatsApp business-scoped user ids (issue 16 item 2): a client by phone, by BSUID or both.

Payloads follow Meta's documented shape: the BSUID is ``contacts[].user_id``, the phone
``contacts[].wa_id`` / ``messages[].from``, both optional once a user adopts a username.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import peewee
import pytest

from bots.errors import PermanentError
from bots.whatsapp.adapter import wa_recipient
from bots.whatsapp.payloads import parse_payload
from commands.write import deliver_now
from emulators import whatsapp_payloads as wp
from emulators.whatsapp import GraphEmulator
from store import outbox
from store.clients.unread import is_unread, mark_read, mark_unread
from store.export import BASE_COLUMNS, iter_export_rows
from store.models import Client, Label, LabelMembership, Message
from tests.whatsapp_support import APP_SECRET, PHONE_ID, serve, settings_for

PHONE = "16315551181"
BSUID = "US.13491208655302741918"
OTHER_PHONE = "447700900123"
OTHER_BSUID = "GB.20011223344556677"


def payload(*messages: dict[str, Any], people: list[dict[str, Any]]) -> dict[str, Any]:
    return wp.envelope(PHONE_ID, messages=list(messages), people=people)


def batch(*bodies: dict[str, Any]) -> dict[str, Any]:
    """Several envelopes as one webhook (one entry each), as Meta batches them."""
    first = bodies[0]
    return {**first, "entry": [entry for body in bodies for entry in body["entry"]]}


def parse(body: dict[str, Any]) -> list[Any]:
    return parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID).messages


def test_a_bsuid_only_message_is_keyed_by_the_bsuid() -> None:
    body = payload(
        wp.text(None, "hi, no phone here", wamid="wamid.b1"),
        people=[wp.contact(user_id=BSUID, name="Kerry", username="@kerry")],
    )
    (message,) = parse(body)
    assert message.messenger_id == BSUID and message.extra["user_id"] == BSUID
    assert (message.name, message.username) == ("Kerry", "kerry")


def test_phone_and_bsuid_together_and_a_mixed_batch() -> None:
    both = payload(
        wp.text(PHONE, "with both", wamid="wamid.p1"),
        people=[wp.contact(wa_id=PHONE, user_id=BSUID, name="Kerry")],
    )
    only = payload(
        wp.text(None, "bsuid only", wamid="wamid.b2"),
        people=[wp.contact(user_id=OTHER_BSUID, name="Anna")],
    )
    plain = wp.envelope(
        PHONE_ID, messages=[wp.text(OTHER_PHONE, "old style")], profiles={OTHER_PHONE: "Bo"}
    )
    first, second, third = parse(batch(both, only, plain))
    assert (first.messenger_id, first.extra["user_id"]) == (f"+{PHONE}", BSUID)
    assert (second.messenger_id, second.extra["user_id"]) == (OTHER_BSUID, OTHER_BSUID)
    assert third.messenger_id == f"+{OTHER_PHONE}" and "user_id" not in third.extra


def test_from_user_id_names_the_contact_among_several() -> None:
    message = {**wp.text(None, "hello"), "from_user_id": OTHER_BSUID}
    body = payload(
        message,
        people=[
            wp.contact(user_id=BSUID, name="Kerry"),
            wp.contact(user_id=OTHER_BSUID, name="Anna"),
        ],
    )
    (parsed,) = parse(body)
    assert (parsed.messenger_id, parsed.name) == (OTHER_BSUID, "Anna")


def test_a_message_with_neither_id_is_unusable() -> None:
    body = payload(wp.text(None, "who?"), people=[])
    parsed = parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID)
    assert parsed.messages == []
    assert [(u.reason, u.detail) for u in parsed.unusable] == [
        ("message.from", "message.from: no 'from' and no user_id of the sender")
    ]


def test_recipients() -> None:
    assert wa_recipient("+16315551181") == "16315551181"
    assert wa_recipient(BSUID) == BSUID
    assert wa_recipient("US.ENT.11815799212886844830") == "US.ENT.11815799212886844830"
    with pytest.raises(PermanentError, match="BSUID"):
        wa_recipient("kerry")


async def post(meta: GraphEmulator, base: str, body: dict[str, Any]) -> dict[str, Any]:
    status, text = await meta.post_webhook(f"{base}/webhooks/whatsapp/wa", body)
    assert status == 200, text
    result: dict[str, Any] = json.loads(text)
    return result


async def test_bsuid_user_writes_in_is_answered_and_later_merges_with_the_phone(
    db: peewee.Database,
) -> None:
    async with GraphEmulator(app_secret=APP_SECRET) as meta:
        settings = settings_for(meta.url)
        async with serve(settings) as base:
            only = payload(
                wp.text(None, "I hide my number", wamid="wamid.b1"),
                people=[wp.contact(user_id=BSUID, name="Kerry", username="@kerry")],
            )
            assert (await post(meta, base, only))["messages"] == 1
            client = Client.get()
            assert (client.messenger_id, client.bsuid, client.username) == (BSUID, BSUID, "kerry")

            row = outbox.enqueue(client, "Hello Kerry")
            sent = await asyncio.to_thread(deliver_now, settings, row.id)
            assert sent.status == "sent", sent.error_text
            (out,) = meta.sent
            assert out.payload.get("recipient") == BSUID and "to" not in out.payload

            both = payload(
                wp.text(PHONE, "now you see it", wamid="wamid.p1"),
                people=[wp.contact(wa_id=PHONE, user_id=BSUID, name="Kerry")],
            )
            await post(meta, base, both)
            again = payload(  # the BSUID alone again: still the same client
                wp.text(None, "and gone again", wamid="wamid.b2"),
                people=[wp.contact(user_id=BSUID, name="Kerry")],
            )
            await post(meta, base, again)

            assert Client.select().count() == 1
            client = Client.get()
            assert (client.messenger_id, client.bsuid) == (f"+{PHONE}", BSUID)
            texts = [m.text for m in Message.select().order_by(Message.id)]
            assert texts == ["I hide my number", "Hello Kerry", "now you see it", "and gone again"]

            row = outbox.enqueue(client, "Phone first, as Meta recommends")
            assert (await asyncio.to_thread(deliver_now, settings, row.id)).status == "sent"
            assert meta.sent[-1].payload.get("to") == PHONE
            assert "recipient" not in meta.sent[-1].payload

    (exported,) = next(iter_export_rows(Client.select(), dt.UTC))
    assert exported.base[BASE_COLUMNS.index("messenger_id")] == f"+{PHONE}"  # stays the phone


async def test_a_phone_client_and_a_bsuid_client_found_to_be_one_person_merge(
    db: peewee.Database,
) -> None:
    async with GraphEmulator(app_secret=APP_SECRET) as meta, serve(settings_for(meta.url)) as base:
        old = wp.envelope(
            PHONE_ID,
            messages=[wp.text(PHONE, "before BSUIDs", wamid="wamid.o1")],
            profiles={PHONE: "Kerry"},
        )
        await post(meta, base, old)
        await post(
            meta,
            base,
            payload(
                wp.text(None, "username now", wamid="wamid.b1"),
                people=[wp.contact(user_id=BSUID, username="kerry")],
            ),
        )
        assert Client.select().count() == 2
        by_bsuid = Client.get(Client.messenger_id == BSUID)
        vip = Label.create(name="VIP")
        LabelMembership.create(client=by_bsuid, label=vip)
        mark_unread([by_bsuid.id])
        by_phone = Client.get(Client.messenger_id == f"+{PHONE}")
        mark_read([by_phone.id])

        mixed = batch(
            payload(
                wp.text(PHONE, "both ids at last", wamid="wamid.p1"),
                people=[wp.contact(wa_id=PHONE, user_id=BSUID, name="Kerry")],
            ),
            payload(
                wp.text(None, "someone else", wamid="wamid.x1"),
                people=[wp.contact(user_id=OTHER_BSUID, name="Anna")],
            ),
        )
        assert (await post(meta, base, mixed))["messages"] == 2

    kerry = Client.get(Client.bsuid == BSUID)
    assert kerry.id == by_phone.id and kerry.messenger_id == f"+{PHONE}" and is_unread(kerry.id)
    assert Client.get_or_none(Client.messenger_id == BSUID) is None  # folded into kerry
    assert [
        m.text for m in Message.select().where(Message.client == kerry).order_by(Message.id)
    ] == [
        "before BSUIDs",
        "username now",
        "both ids at last",
    ]
    assert LabelMembership.get().client_id == kerry.id
    anna = Client.get(Client.messenger_id == OTHER_BSUID)
    assert anna.bsuid == OTHER_BSUID and anna.name == "Anna"
    assert Client.select().count() == 2


async def test_a_changed_number_moves_the_client_with_its_new_bsuid(db: peewee.Database) -> None:
    new_phone, new_bsuid = "16325550000", "US.55500011122233344"
    async with GraphEmulator(app_secret=APP_SECRET) as meta, serve(settings_for(meta.url)) as base:
        await post(
            meta,
            base,
            payload(
                wp.text(PHONE, "old number", wamid="wamid.o1"),
                people=[wp.contact(wa_id=PHONE, user_id=BSUID, name="Kerry")],
            ),
        )
        change = wp.system(
            PHONE,
            f"User Kerry changed from {PHONE} to {new_phone}",
            new_phone,
            user_id=new_bsuid,
            wamid="wamid.sys",
        )
        await post(meta, base, wp.envelope(PHONE_ID, messages=[change]))  # no contacts, as Meta
        await post(
            meta,
            base,
            payload(
                wp.text(new_phone, "new number", wamid="wamid.n1"),
                people=[wp.contact(wa_id=new_phone, user_id=new_bsuid, name="Kerry")],
            ),
        )
        await post(
            meta,
            base,
            payload(
                wp.text(None, "new id changed again", wamid="wamid.n2"),
                people=[wp.contact(user_id="US.77788899900011122", name="Kerry")],
            ),
        )
        moved = Client.get(Client.messenger_id == f"+{new_phone}")
        assert moved.bsuid == new_bsuid
        system = wp.system(
            new_phone,
            "Kerry's user id changed",
            user_id="US.77788899900011122",
            kind="user_changed_user_id",
            wamid="wamid.sys2",
        )
        await post(meta, base, wp.envelope(PHONE_ID, messages=[system]))

    kerry = Client.get(Client.messenger_id == f"+{new_phone}")
    assert kerry.bsuid == "US.77788899900011122"
    assert Client.select().count() == 1  # the BSUID-only client of "n2" was folded in too
    texts = [m.text for m in Message.select().where(Message.client == kerry).order_by(Message.id)]
    assert texts[0] == "old number" and "new number" in texts and "new id changed again" in texts
    assert len(texts) == 5
