"""The Mini App's card, dialog, reply, upload and broadcast endpoints over real HTTP on SQLite
and PostgreSQL: the admin bot's scope (404), capabilities (403), the reply in the outbox's
interactive lane, files refused when too big (413) or of the wrong type (415) with nothing
kept, and a broadcast planned, started once and cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import peewee
import pytest

from store import outbox
from store.clients.unread import is_unread
from store.models import Client, Job, Message, Operator
from store.outbox import PRIORITY_INTERACTIVE
from store.permissions import set_override
from tests import factories as f
from tests.admin_support import ADMIN_ID, OPERATOR_ID, OTHER_ID, make_staff
from tests.app_support import BOT_TOKEN, app_settings, serving_app, signed_init_data

API = "/app/api/v1"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 256
PDF = b"%PDF-1.7\n" + b"0" * 256
MB = 1024 * 1024


class Caller:
    """One operator's session against the served app."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http, self.base = http, base
        self.auth = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **query: Any) -> tuple[int, Any]:
        params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items()}
        async with self.http.get(self.base + API + path, params=params, headers=self.auth) as r:
            return r.status, await r.json()

    async def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.http.post(self.base + API + path, json=body or {}, headers=self.auth) as r:
            return r.status, await r.json()

    async def upload(self, path: str, parts: list[tuple[str, str, bytes]], text: str = "") -> Any:
        form = aiohttp.FormData()
        if text:
            form.add_field("text", text)
        for name, file_name, content in parts:
            form.add_field(name, content, filename=file_name)
        async with self.http.post(self.base + API + path, data=form, headers=self.auth) as r:
            return r.status, await r.json()


@pytest.fixture
async def service(db: peewee.Database, tmp_path: Path) -> AsyncIterator[str]:
    make_staff()
    settings = app_settings(admin_bot={"files_dir": str(tmp_path / "files")})
    async with serving_app(settings) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def login(http: aiohttp.ClientSession, base: str, telegram_id: int) -> Caller:
    init_data = signed_init_data(BOT_TOKEN, telegram_id)
    async with http.post(f"{base}{API}/session", json={"init_data": init_data}) as r:
        assert r.status == 200
        return Caller(http, base, (await r.json())["token"])


def read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _one_line(body: dict[str, Any]) -> str:
    assert body["ok"] is False and "\n" not in body["error"]
    return str(body["error"])


def _operator(telegram_id: int) -> Operator:
    return Operator.get(Operator.telegram_id == telegram_id)


async def test_card_scope_follows_the_admin_bot(service: str, http: aiohttp.ClientSession) -> None:
    vera = _operator(OTHER_ID)
    theirs = f.client("Vera's", responsible=vera.id)
    free = f.client("Free", unread=True)
    boris = await login(http, service, OPERATOR_ID)
    status, card = await boris.get(f"/clients/{free.id}/card", open=True)
    assert status == 200 and card["actions"][:2] == ["reply", "comment"]
    assert "delete" not in card["actions"] and not is_unread(free.id)
    status, peek = await boris.get(f"/clients/{theirs.id}/card")
    assert status == 200 and peek["read_only"] and peek["actions"] == []  # view_others
    status, body = await boris.post(f"/clients/{theirs.id}/action", {"action": "pin"})
    assert status == 404 and "among yours" in _one_line(body)
    set_override(_operator(OPERATOR_ID), "view_others", False, app_settings().permissions)
    for path in ("card", "messages", "changes"):
        status, body = await boris.get(f"/clients/{theirs.id}/{path}")
        assert status == 404, path
    admin = await login(http, service, ADMIN_ID)
    status, card = await admin.get(f"/clients/{theirs.id}/card")
    assert status == 200 and "delete" in card["actions"] and card["responsible"] == "Vera"
    assert (await admin.get("/clients/999999/card"))[0] == 404
    assert not Client.get_by_id(theirs.id).pinned


async def test_menu_actions_and_capability_refusals(
    service: str, http: aiohttp.ClientSession
) -> None:
    c = f.client("Menu", lists=("VIP",))
    boris = await login(http, service, OPERATOR_ID)
    status, answer = await boris.post(f"/clients/{c.id}/action", {"action": "pin"})
    assert status == 200 and answer["card"]["pinned"] and "unpin" in answer["card"]["actions"]
    status, body = await boris.post(f"/clients/{c.id}/action", {"action": "delete"})
    assert status == 403 and "'delete' permission" in _one_line(body)
    status, body = await boris.post(f"/clients/{c.id}/action", {"action": "explode"})
    assert status == 400
    status, picks = await boris.get(f"/clients/{c.id}/choices", kind="operators")
    assert [p["name"] for p in picks["choices"]] == ["Boris", "Nobody"]
    me = picks["choices"][0]["id"]
    status, answer = await boris.post(
        f"/clients/{c.id}/action", {"action": "assign", "arg": str(me)}
    )
    assert status == 200 and answer["card"]["responsible"] == "your client"
    status, answer = await boris.post(
        f"/clients/{c.id}/named", {"kind": "label", "name": "Hot lead"}
    )
    assert status == 200 and answer["card"]["labels"] == ["Hot lead"]
    status, body = await boris.post("/broadcast/plan", {"filter": "tab:all", "text": "hi"})
    assert status == 403 and "'broadcast' permission" in _one_line(body)
    set_override(_operator(OPERATOR_ID), "reply", False, app_settings().permissions)
    status, body = await boris.post(f"/clients/{c.id}/reply", {"text": "hello"})
    assert status == 403 and "'reply' permission" in _one_line(body)
    status, body = await boris.upload(f"/clients/{c.id}/upload", [("photo", "a.jpg", JPEG)])
    assert status == 403
    assert Message.select().count() == 0
    admin = await login(http, service, ADMIN_ID)
    status, answer = await admin.post(f"/clients/{c.id}/action", {"action": "delete"})
    assert status == 200 and answer["card"] is None
    assert Client.get_or_none(Client.id == c.id) is None


async def test_reply_and_comment_reach_the_store_and_changes_bring_them(
    service: str, http: aiohttp.ClientSession
) -> None:
    c = f.client("Replied", unread=True)
    boris = await login(http, service, OPERATOR_ID)
    status, page = await boris.get(f"/clients/{c.id}/messages")
    assert status == 200 and page["messages"] == []
    status, answer = await boris.post(f"/clients/{c.id}/reply", {"text": "Здравствуйте!"})
    assert status == 200 and "queued" in answer["notice"]
    row = Message.get(Message.client == c.id)
    assert (row.status, row.author_kind, row.priority) == (
        "queued",
        "operator",
        PRIORITY_INTERACTIVE,
    )
    assert row.operator_id == _operator(OPERATOR_ID).id and not is_unread(c.id)
    assert (await boris.post(f"/clients/{c.id}/comment", {"text": "called, no answer"}))[0] == 200
    status, changes = await boris.get(
        f"/clients/{c.id}/changes", after=page["newest_id"], since=page["since"]
    )
    assert [(m["label"], m["text"]) for m in changes["messages"]] == [
        ("You", "Здравствуйте!"),
        ("Comment (you)", "called, no answer"),
    ]
    status, body = await boris.post(f"/clients/{c.id}/reply", {"text": ""})
    assert status == 400 and "text" in _one_line(body)
    Client.update(blocked=True).where(Client.id == c.id).execute()
    status, body = await boris.post(f"/clients/{c.id}/reply", {"text": "again"})
    assert status == 400 and "unblock it first" in _one_line(body)
    assert Message.select().where(Message.author_kind == "operator").count() == 1


async def test_files_are_checked_kept_and_queued(
    service: str, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    tg = f.client("Telegram client")
    wa = f.client("WhatsApp client", on=f.bot("shop_wa", "whatsapp"))
    boris = await login(http, service, OPERATOR_ID)
    parts = [("photo", "cat.jpg", JPEG), ("document", "bill.pdf", PDF)]
    status, answer = await boris.upload(f"/clients/{tg.id}/upload", parts, text="See attached")
    assert status == 200 and "2 file(s)" in answer["notice"]
    row = Message.get(Message.client == tg.id)
    assert row.text == "See attached" and row.priority == PRIORITY_INTERACTIVE
    assert [(a["kind"], read(a["path"])) for a in row.attachments] == [
        ("photo", JPEG),
        ("document", PDF),
    ]
    kept = set((tmp_path / "files").iterdir())
    big = JPEG + b"\x00" * (5 * 1024 * 1024)
    refused = [
        ([("photo", "big.jpg", big)], 413, "at most 5.0 MB"),
        ([("photo", "bill.jpg", PDF)], 415, "not a JPEG or PNG"),
        ([("document", "tool.exe", b"MZ\x90\x00")], 415, "cannot be sent"),
        ([("video", "clip.mp4", b"x")], 400, "unknown part"),
        ([("document", "a.pdf", PDF + b"0" * 60 * MB)] * 2, 413, "files of one message together"),
    ]
    for files, code, words in refused:
        status, body = await boris.upload(f"/clients/{wa.id}/upload", files)
        assert status == code and words in _one_line(body), (files[0][1], body)
    async with http.post(
        f"{service}{API}/clients/{wa.id}/upload", json={"text": "x"}, headers=boris.auth
    ) as r:
        assert r.status == 415
    assert Message.select().where(Message.client == wa.id).count() == 0
    assert set((tmp_path / "files").iterdir()) == kept  # nothing of the refused kept


async def test_broadcast_plan_start_once_progress_and_cancel(
    service: str, http: aiohttp.ClientSession
) -> None:
    for i in range(3):
        f.client(f"VIP {i}", lists=("VIP",))
    admin = await login(http, service, ADMIN_ID)
    status, plan = await admin.post("/broadcast/plan", {"filter": "list:VIP", "text": "Sale!"})
    assert status == 200 and plan["recipients"] == 3 and plan["token"]
    status, started = await admin.post("/broadcast/start", {"token": plan["token"]})
    assert status == 200 and started["job"]["active"] and started["job"]["planned"] == 3
    status, again = await admin.post("/broadcast/start", {"token": plan["token"]})
    assert status == 400 and "already sent" in _one_line(again)
    job_id = started["job"]["id"]
    boris = await login(http, service, OPERATOR_ID)
    assert (await boris.get(f"/jobs/{job_id}"))[0] == 404
    assert (await boris.post(f"/jobs/{job_id}/cancel"))[0] == 404
    status, jobs = await admin.get("/jobs")
    assert [j["id"] for j in jobs["jobs"]] == [job_id]
    status, cancelled = await admin.post(f"/jobs/{job_id}/cancel")
    assert status == 200 and cancelled["job"]["state"] == "cancelled"
    assert cancelled["job"]["cancelled"] == 3 and not cancelled["job"]["active"]
    assert Job.select().count() == 1 and Message.select().count() == 0
    status, body = await admin.post("/broadcast/plan", {"filter": "list:", "text": "x"})
    assert status == 400 and "Filter" in _one_line(body)


async def test_resend_failed_plan_and_start(service: str, http: aiohttp.ClientSession) -> None:
    c = f.client("Failed once")
    row = outbox.enqueue(c, "promo", author_kind="bot")
    outbox.claim(row.id)
    outbox.mark_failed(row.id, "500", "boom")
    admin = await login(http, service, ADMIN_ID)
    status, body = await admin.post("/resend/plan", {"args": "interval:-1"})
    assert status == 400 and "interval" in _one_line(body)
    status, plan = await admin.post("/resend/plan", {"args": "interval:2"})
    assert status == 200 and plan["recipients"] == 1 and plan["token"]
    status, started = await admin.post("/resend/start", {"token": plan["token"]})
    assert status == 200 and started["job"]["kind"] == "resend_failed"
    resent = Message.get(Message.job == started["job"]["id"])
    assert (resent.text, resent.status) == ("promo", "queued")
    status, again = await admin.post("/resend/start", {"token": plan["token"]})
    assert status == 400 and "already started" in _one_line(again)
