"""The More screen's API over real HTTP on SQLite and PostgreSQL: F1 and F2 queue the first
message of a new client in the outbox (the bot asked for when several), F3 and F8 count first
and write only on their plan's one-use confirmation within the operator's scope, the purge is
refused without its capability, and F6's preview settings reach the operator's row."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.admin.preferences import PREVIEW_FIELDS
from store.clients.unread import unread_ids
from store.clock import utcnow
from store.models import Client, Message, Operator, OperatorPreference
from store.setup import sync_bots
from tests import factories as f
from tests.admin_support import ADMIN_ID, OPERATOR_ID, OTHER_ID, make_staff
from tests.app_support import app_settings, serving_app
from tests.test_app_list_api import Caller, login
from tests.whatsapp_support import ACCESS_TOKEN, APP_SECRET, PHONE_ID, VERIFY_TOKEN


def wa_bot(name: str, phone_id: str = PHONE_ID) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "whatsapp",
        "phone_number_id": phone_id,
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "default_region": "US",
    }


MAIL_BOT = {
    "name": "mail",
    "kind": "email",
    "imap": {"host": "127.0.0.1", "port": 1, "security": "none", "user": "u", "password": "p"},
    "smtp": {"host": "127.0.0.1", "port": 1, "security": "none", "from_address": "shop@x.test"},
}


@pytest.fixture
async def service(db: peewee.Database) -> AsyncIterator[str]:
    make_staff()
    bots = [wa_bot("wa"), wa_bot("wa2", "2000"), MAIL_BOT]
    sync_bots((b["name"], b["kind"]) for b in bots)
    async with serving_app(app_settings(bots=bots)) as url:
        yield url


async def as_user(http: aiohttp.ClientSession, base: str, telegram_id: int) -> Caller:
    return await login(http, base, telegram_id)


async def test_write_whatsapp_and_email_queue_a_new_clients_first_message(service: str) -> None:
    async with aiohttp.ClientSession() as http:
        boris = await as_user(http, service, OPERATOR_ID)
        status, found = await boris.call("GET", "/tools")
        assert status == 200 and found["whatsapp_bots"] == ["wa", "wa2"]
        assert found["email_bots"] == ["mail"] and found["can_write"] and not found["can_purge"]
        status, error = await boris.call(
            "POST", "/write/whatsapp", {"phone": "+16315551181", "text": "Hi"}
        )
        assert status == 400 and error["error"] == "choose the WhatsApp bot: wa, wa2"
        assert Client.select().count() == 0  # nothing half-written
        status, error = await boris.call(
            "POST", "/write/whatsapp", {"bot": "wa", "phone": "12", "text": "Hi"}
        )
        assert status == 400 and "\n" not in error["error"] and Client.select().count() == 0
        status, wrote = await boris.call(
            "POST", "/write/whatsapp", {"bot": "wa2", "phone": "(631) 555-1181", "text": "Hi"}
        )
        assert status == 200, wrote
        assert wrote["recipient"] == "+16315551181" and wrote["client_created"]
        row = Message.get_by_id(wrote["message_id"])
        boris_id = Operator.get(Operator.telegram_id == OPERATOR_ID).id
        assert (row.direction, row.status, row.operator_id) == ("out", "queued", boris_id)
        assert row.client.bot.name == "wa2" and row.client_id == wrote["client_id"]
        status, mailed = await boris.call(
            "POST",
            "/write/email",
            {"address": "Kerry@Example.COM", "subject": "Your order", "text": "Ready."},
        )
        assert status == 200, mailed
        row = Message.get_by_id(mailed["message_id"])
        assert (row.subject, row.text, row.status) == ("Your order", "Ready.", "queued")
        assert row.client.messenger_id == "kerry@example.com"
        status, error = await boris.call(
            "POST", "/write/email", {"address": "no-at-sign", "subject": "s", "text": "t"}
        )
        assert status == 400 and Client.select().count() == 2


async def test_write_needs_the_reply_capability(service: str) -> None:
    from config import Settings
    from store.permissions import set_override

    vera = Operator.get(Operator.telegram_id == OTHER_ID)
    set_override(vera, "reply", False, Settings().permissions)
    async with aiohttp.ClientSession() as http:
        caller = await as_user(http, service, OTHER_ID)
        status, error = await caller.call(
            "POST", "/write/whatsapp", {"bot": "wa", "phone": "+16315551181", "text": "Hi"}
        )
    assert status == 403 and "reply" in error["error"] and Message.select().count() == 0


async def test_readall_counts_then_clears_only_the_operators_scope_once(service: str) -> None:
    boris = Operator.get(Operator.telegram_id == OPERATOR_ID).id
    vera = Operator.get(Operator.telegram_id == OTHER_ID).id
    t0 = utcnow() - dt.timedelta(hours=1)
    mine = f.client("Mine", responsible=boris, unread=True, last_action_at=t0).id
    free = f.client("Free", unread=True, last_action_at=t0).id
    hers = f.client("Hers", responsible=vera, unread=True, last_action_at=t0).id
    f.client("Answered", responsible=boris, unread=False, last_action_at=t0)  # not counted
    from config import Settings
    from store.permissions import set_override

    set_override(Operator.get_by_id(boris), "view_others", False, Settings().permissions)
    async with aiohttp.ClientSession() as http:
        caller = await as_user(http, service, OPERATOR_ID)
        status, plan = await caller.call("POST", "/readall/plan")
        assert status == 200 and plan["count"] == 2 and plan["token"]
        assert Client.select().where(Client.id.in_(unread_ids())).count() == 3
        status, done = await caller.call("POST", "/readall/confirm", {"token": plan["token"]})
        assert status == 200 and done["message"] == "Marked 2 dialogs read."
        status, again = await caller.call("POST", "/readall/confirm", {"token": plan["token"]})
        assert status == 400 and "already confirmed" in again["error"]
        status, error = await caller.call("POST", "/readall/confirm", {})
        assert status == 400 and "token" in error["error"]
    unread = {c.id for c in Client.select().where(Client.id.in_(unread_ids()))}
    assert unread == {hers} and mine not in unread and free not in unread


async def test_purge_needs_its_capability_a_count_and_a_confirmation(service: str) -> None:
    f.client("Gone", unsubscribed=True)
    f.client("Blocked", blocked=True)
    kept = f.client("Kept").id
    async with aiohttp.ClientSession() as http:
        boris = await as_user(http, service, OPERATOR_ID)
        status, error = await boris.call("POST", "/purge/plan")
        assert status == 403 and "purge" in error["error"]
        anna = await as_user(http, service, ADMIN_ID)
        status, plan = await anna.call("POST", "/purge/plan")
        assert status == 200 and plan["count"] == 2 and "cannot be undone" in plan["question"]
        assert Client.select().count() == 3  # counting deletes nothing
        status, _ = await boris.call("POST", "/purge/confirm", {"token": plan["token"]})
        assert status == 403  # another operator's refusal does not spend the token either
        status, _ = await anna.call(
            "POST", "/tools/cancel", {"kind": "purge", "token": plan["token"]}
        )
        assert status == 200
        status, error = await anna.call("POST", "/purge/confirm", {"token": plan["token"]})
        assert status == 400 and Client.select().count() == 3
        _, plan = await anna.call("POST", "/purge/plan")
        status, done = await anna.call("POST", "/purge/confirm", {"token": plan["token"]})
        assert status == 200 and done["message"] == "Deleted 2 blocked or unsubscribed clients."
    assert [c.id for c in Client.select()] == [kept]


async def test_preview_settings_reach_the_operators_row(service: str) -> None:
    async with aiohttp.ClientSession() as http:
        boris = await as_user(http, service, OPERATOR_ID)
        status, shown = await boris.call("GET", "/preview")
        assert status == 200 and [x["key"] for x in shown["fields"]] == list(PREVIEW_FIELDS)
        chosen = ["labels", "username"]
        status, shown = await boris.call(
            "PUT", "/preview", {"fields": chosen, "variables": ["city", " ", "city", "plan"]}
        )
        assert status == 200
        assert [x["key"] for x in shown["fields"] if x["shown"]] == ["username", "labels"]
        status, error = await boris.call("PUT", "/preview", {"fields": ["nope"]})
        assert status == 400 and "'nope'" in error["error"]
    boris_id = Operator.get(Operator.telegram_id == OPERATOR_ID).id
    pref = OperatorPreference.get(OperatorPreference.operator == boris_id)
    assert (pref.preview_fields, pref.preview_variables) == (
        ["username", "labels"],
        ["city", "plan"],
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chosen=st.lists(st.sampled_from(list(PREVIEW_FIELDS)), max_size=15), extra=st.text(max_size=8)
)
def test_set_preview_keeps_display_order_and_refuses_unknown_keys(
    db: peewee.Database, chosen: list[str], extra: str
) -> None:
    from commands.admin.context import CommandError
    from commands.app import tools

    ctx = make_staff()["operator"]
    result = tools.set_preview(ctx, chosen, [])
    assert [k for k, _, shown in result.fields if shown] == [
        k for k in PREVIEW_FIELDS if k in chosen
    ]
    if extra not in PREVIEW_FIELDS:
        with pytest.raises(CommandError):
            tools.set_preview(ctx, [*chosen, extra], ["x"])
        assert tools.preview(ctx).variables == []  # nothing written on a bad name
