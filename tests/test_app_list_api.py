"""The client list's API over real HTTP on SQLite and PostgreSQL: scope, keyset pages, a bad
filter's one line, completion, select-all + label-add reaching the store only after the plan's
one-use confirmation, capability refusals, saved filters, and export delivered as a document
through the admin bot to the Bot API emulator."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import peewee
import pytest

from commands.admin.telegram import install_admin_bot
from config import Settings
from emulators.telegram import TelegramEmulator
from store.clock import utcnow
from store.models import Client, Label, LabelMembership, Operator
from store.permissions import set_override
from tests import factories as f
from tests.admin_support import ADMIN_ID, OPERATOR_ID, OTHER_ID, make_staff
from tests.app_support import BOT_TOKEN, app_settings, serving_app, signed_init_data

API = "/app/api/v1"


class Caller:
    """One operator's session against the served app."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http, self.base, self.token = http, base, token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        kwargs: dict[str, Any] = {"headers": headers}
        if method in ("GET", "DELETE"):
            kwargs["params"] = body or {}
        else:
            kwargs["json"] = body or {}
        async with self.http.request(method, self.base + API + path, **kwargs) as r:
            return r.status, await r.json()


async def login(http: aiohttp.ClientSession, base: str, telegram_id: int) -> Caller:
    init = signed_init_data(BOT_TOKEN, telegram_id)
    async with http.post(f"{base}{API}/session", json={"init_data": init}) as r:
        assert r.status == 200, await r.text()
        return Caller(http, base, (await r.json())["token"])


def world() -> dict[str, list[int]]:
    """Boris's clients (2, one unread), Vera's (3), free ones (4, two unread)."""
    boris = Operator.get(Operator.telegram_id == OPERATOR_ID).id
    vera = Operator.get(Operator.telegram_id == OTHER_ID).id
    t0 = utcnow() - dt.timedelta(hours=1)
    made: dict[str, list[int]] = {"boris": [], "vera": [], "free": []}
    for i in range(2):
        made["boris"].append(
            f.client(f"Boris {i}", responsible=boris, unread=i == 0, last_action_at=t0).id
        )
    for i in range(3):
        made["vera"].append(
            f.client(f"Vera {i}", responsible=vera, labels=("Ждёт оплаты",), last_action_at=t0).id
        )
    for i in range(4):
        made["free"].append(
            f.client(f"Free {i}", unread=i < 2, lists=("VIP",), last_action_at=t0).id
        )
    return made


@pytest.fixture
async def service(db: peewee.Database) -> AsyncIterator[str]:
    make_staff()
    async with serving_app(app_settings()) as url:
        yield url


async def test_list_tabs_scope_and_unread(service: str) -> None:
    made = world()
    async with aiohttp.ClientSession() as http:
        boris = await login(http, service, OPERATOR_ID)
        status, page = await boris.call("GET", "/clients")
        assert status == 200 and page["count"] == "9"
        status, tabs = await boris.call("GET", "/clients/tabs")
        assert status == 200
        assert {t["name"]: t["count"] for t in tabs["tabs"]} == {
            "all": "9",
            "unanswered": "3",
            "mine": "2",
            "others": "3",
            "free": "4",
        }
        assert page["unread"] == 1 and page["next_cursor"] is None
        set_override(
            Operator.get(Operator.telegram_id == OPERATOR_ID),
            "view_others",
            False,
            Settings().permissions,
        )
        _, page = await boris.call("GET", "/clients", {"tab": "all"})
        assert {c["id"] for c in page["cards"]} == set(made["boris"] + made["free"])
        status, error = await boris.call("GET", "/clients", {"filter": "list:Nope"})
        assert status == 400 and "list:Nope" in error["error"] and "\n" not in error["error"]
        status, error = await boris.call("GET", "/clients", {"tab": "everything"})
        assert status == 400


async def test_keyset_pages_over_http(service: str) -> None:
    t0 = utcnow() - dt.timedelta(hours=1)
    made = [f.client(f"c{n:02}", last_action_at=t0 - dt.timedelta(minutes=n)).id for n in range(7)]
    async with aiohttp.ClientSession() as http:
        admin = await login(http, service, ADMIN_ID)
        seen: list[int] = []
        query: dict[str, Any] = {"per_page": 3}
        while True:
            status, page = await admin.call("GET", "/clients", query)
            assert status == 200
            seen += [c["id"] for c in page["cards"]]
            if page["next_cursor"] is None:
                break
            query = {"per_page": 3, "after": page["next_cursor"]}
        assert seen == made
        status, _ = await admin.call("GET", "/clients", {"after": "x" * 31})
        assert status == 400


async def test_completion_offers_the_stores_names(service: str) -> None:
    world()
    async with aiohttp.ClientSession() as http:
        boris = await login(http, service, OPERATOR_ID)
        typed = {"text": "unanswered label:жд", "cursor": 19}
        status, done = await boris.call("GET", "/clients/complete", typed)
        assert status == 200 and (done["start"], done["end"]) == (11, 19)
        assert [s["text"] for s in done["suggestions"]] == ['label:"Ждёт оплаты"']
        _, done = await boris.call("GET", "/clients/complete", {"text": "li", "cursor": 2})
        assert [s["text"] for s in done["suggestions"]] == ["list:"]


async def test_select_all_label_add_needs_the_plans_token(service: str) -> None:
    made = world()
    selection = {"filter": "", "tab": "all", "all": True}
    async with aiohttp.ClientSession() as http:
        boris = await login(http, service, OPERATOR_ID)
        status, _ = await boris.call("POST", "/clients/bulk/confirm", {"token": "0123456789"})
        assert status == 400  # no plan, nothing runs
        status, plan = await boris.call(
            "POST",
            "/clients/bulk/plan",
            {"action": "label-add", "argument": "hot", "selection": selection},
        )
        assert status == 200 and plan["count"] == 6 and plan["token"]
        assert not Label.select().where(Label.name == "hot").exists()
        status, done = await boris.call("POST", "/clients/bulk/confirm", {"token": plan["token"]})
        assert status == 200 and done["count"] == 6
        hot = Label.get(Label.name == "hot")
        rows = LabelMembership.select().where(LabelMembership.label == hot)
        labelled = {m.client_id for m in rows}
        assert labelled == set(made["boris"] + made["free"])  # never Vera's clients
        status, _ = await boris.call("POST", "/clients/bulk/confirm", {"token": plan["token"]})
        assert status == 400  # one use


async def test_capabilities_refuse_with_403(service: str) -> None:
    made = world()
    async with aiohttp.ClientSession() as http:
        boris = await login(http, service, OPERATOR_ID)
        picked = {"ids": [made["free"][0]]}
        status, error = await boris.call(
            "POST", "/clients/bulk/plan", {"action": "delete", "selection": picked}
        )
        assert status == 403 and "'delete'" in error["error"]
        status, error = await boris.call(
            "POST", "/clients/export", {"kind": "csv", "selection": picked}
        )
        assert status == 403 and "'export'" in error["error"]
        _, actions = await boris.call("GET", "/clients/actions")
        assert "delete" not in [a["name"] for a in actions["actions"]]
        assert Client.select().count() == 9


async def test_saved_filters_over_http(service: str) -> None:
    world()
    async with aiohttp.ClientSession() as http:
        admin = await login(http, service, ADMIN_ID)
        status, saved = await admin.call(
            "POST", "/filters/saved", {"name": "vip unread", "text": "list:VIP unanswered"}
        )
        assert status == 200 and saved["saved"] == [
            {"name": "vip unread", "text": "list:VIP unanswered"}
        ]
        _, page = await admin.call("GET", "/clients", {"filter": 'saved:"vip unread"'})
        assert page["value"] == 2
        status, error = await admin.call("POST", "/filters/saved", {"name": "x", "text": "list:"})
        assert status == 400 and "list:" in error["error"]
        status, saved = await admin.call("DELETE", "/filters/saved/vip unread")
        assert status == 200 and saved["saved"] == []


async def test_export_arrives_as_a_document_in_the_operators_chat(db: peewee.Database) -> None:
    make_staff()
    made = world()
    async with TelegramEmulator(tokens=[BOT_TOKEN]) as emu:
        emu.user(BOT_TOKEN, ADMIN_ID)
        settings = app_settings(admin_bot={"api_base": emu.url})
        async with (
            serving_app(settings, installers=[install_admin_bot]) as base,
            aiohttp.ClientSession() as http,
        ):
            admin = await login(http, base, ADMIN_ID)
            selection = {"filter": "list:VIP", "all": True}
            status, done = await admin.call(
                "POST", "/clients/export", {"kind": "csv", "selection": selection}
            )
        assert status == 200, done
        assert "4 clients" in done["message"]
        documents = [m for m in emu.sent(BOT_TOKEN, ADMIN_ID) if m.kind == "document"]
        assert len(documents) == 1 and documents[0].file is not None
        rows = list(csv.reader(io.StringIO(documents[0].file.data.decode("utf-8-sig"))))
        ids = {int(row[0]) for row in rows[1:]}
        assert ids == set(made["free"])
