"""The admin bot end to end: the real aiogram dispatcher behind our webhook (and polling),
talking to the Bot API emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import peewee
import pytest
from aiohttp import web

from commands.admin import ADMIN_COMMANDS, CommandContext, CommandSet
from commands.admin.gate import stored_secret
from commands.admin.progress import progress_reply
from commands.admin.reply import CALLBACK_LIMIT, MESSAGE_LIMIT, Reply
from commands.admin.telegram import ADMIN_BOT_KEY, AdminBot, install_admin_bot
from commands.web import build_app
from commands.write import deliver_now
from config import Settings
from emulators.loopback import free_port, served
from emulators.telegram import SECRET_HEADER, TelegramEmulator
from emulators.telegram.model import SentMessage
from store import jobs
from store.clients.unread import is_unread
from store.models import Client, Job, Message, Operator, ProjectSetting
from store.setup import bootstrap_operators
from tests import factories

TOKEN = "777001:ADMIN-bot_token"
CLIENT_TOKEN = "777002:SHOP-bot_token"
SECRET = "admin-hook_secret"
ANNA, ARTEM, BORIS, STRANGER = 111, 112, 222, 999


@dataclass
class Env:
    emu: TelegramEmulator
    admin: AdminBot
    url: str
    settings: Settings

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return self.emu.sent(TOKEN, chat_id)

    async def say(self, user_id: int, text: str) -> None:
        await self.emu.user(TOKEN, user_id).send_text(text)

    async def reply(
        self,
        user_id: int,
        to: SentMessage,
        text: str | None = None,
        *,
        photo: bytes | None = None,
        document: tuple[bytes, str, str] | None = None,
    ) -> None:
        """The operator answers a bot message with Telegram's reply: text, a photo or a
        document ``(bytes, file name, MIME type)``, the text then being the caption."""
        user = self.emu.user(TOKEN, user_id)
        if photo is not None:
            await user.send_photo(photo, caption=text, reply_to=to)
        elif document is not None:
            data, name, mime = document
            await user.send_document(data, name, mime_type=mime, caption=text, reply_to=to)
        else:
            await user.send_text(text or "", reply_to=to)


def admin_settings(db_url: str, port: int, files: Path, **extra: Any) -> Settings:
    """The admin bot and the shop's client bot ``shop_tg``, both on the emulator."""
    shop = {
        "name": "shop_tg",
        "kind": "telegram",
        "token": CLIENT_TOKEN,
        "api_base": extra["api_base"],
    }
    return Settings.model_validate(
        {
            "database_url": db_url,
            "bots": [shop],
            "admin_bot": {
                "token": TOKEN,
                "webhook_secret": SECRET,
                "api_base": extra.pop("api_base"),
                "webhook_url": f"http://127.0.0.1:{port}/webhooks/admin",
                "files_dir": str(files),
                "notify_interval_s": 3600,
                "progress_interval_s": 0.01,
                **extra,
            },
        }
    )


@asynccontextmanager
async def running(
    db_url: str,
    tmp_path: Path,
    *,
    limits: bool = False,
    commands: CommandSet = ADMIN_COMMANDS,
    admin_extra: dict[str, Any] | None = None,
) -> AsyncIterator[Env]:
    """The emulator, our HTTP app with the admin bot's webhook, the bot started on it;
    ``admin_extra``: more ``admin_bot`` settings."""
    bootstrap_operators(
        [
            (ANNA, "admin", "Anna", None),
            (ARTEM, "admin", "Artem", None),
            (BORIS, "operator", "Boris", None),
        ]
    )
    factories.bot("shop_tg")
    port = free_port()
    async with TelegramEmulator(tokens=[TOKEN, CLIENT_TOKEN], limits=limits) as emu:
        for uid in (ANNA, ARTEM, BORIS, STRANGER):
            emu.user(TOKEN, uid)
        extra = admin_extra or {}
        settings = admin_settings(db_url, port, tmp_path / "files", api_base=emu.url, **extra)
        app = build_app(settings)
        admin = AdminBot(settings, commands)
        admin.grace_s = 0.0  # notify at once: the tests add messages, then run a round
        admin.add_routes(app)
        async with served(app, port) as url:
            await admin.start(background=False)
            try:
                yield Env(emu, admin, url, settings)
            finally:
                await admin.close()


@pytest.fixture
async def env(db: peewee.Database, db_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with running(db_url, tmp_path) as environment:
        yield environment


# The transport alone does not depend on the database: those tests run on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def buttons(message: SentMessage) -> list[str]:
    return [b["callback_data"] for b in message.buttons() if "callback_data" in b]


def text_of(message: SentMessage) -> str:
    """The message's text; every message these tests read is a text message."""
    assert message.text is not None, message
    return message.text


@SQLITE_ONLY
async def test_commands_run_for_operators_with_keyboards_and_edits(env: Env) -> None:
    hook = env.emu.bots[TOKEN].webhook
    assert hook is not None and hook.secret_token == SECRET  # registered at start
    # The command menu: operators' commands by default, everything in each admin's chat.
    menus = {
        (c.params.get("scope") or {}).get("chat_id"): {d["command"] for d in c.params["commands"]}
        for c in env.emu.calls_of("setMyCommands")
    }
    assert set(menus) == {None, ANNA, ARTEM}
    operator_may = Settings().permissions.of_role("operator")
    commands = ADMIN_COMMANDS.commands.values()
    admin_only = {c.name for c in commands if c.capability not in (None, *operator_may)}
    assert "help" in menus[None] and "reply" in menus[None] and "operators" in admin_only
    assert not admin_only & menus[None]
    assert menus[ANNA] == menus[ARTEM] == menus[None] | admin_only
    await env.say(ANNA, "/help")
    [help_message] = env.sent_to(ANNA)
    assert "Hello, Anna (admin)" in text_of(help_message) and "/operators" in text_of(help_message)
    await env.say(BORIS, "/help")
    assert "/operators" not in text_of(env.sent_to(BORIS)[0])  # role scoping reaches Telegram

    await env.say(BORIS, "/preview")
    preview = env.sent_to(BORIS)[-1]
    datas = buttons(preview)
    assert datas and all(len(d.encode()) <= CALLBACK_LIMIT for d in datas)
    before = preview.reply_markup
    await env.emu.press(TOKEN, BORIS, preview, datas[0])
    assert preview.edits, "the button press edited the message it was pressed on"
    assert preview.reply_markup != before
    assert len(env.sent_to(BORIS)) == 2  # edited, not a new message
    assert len(env.emu.bots[TOKEN].answers) == 1  # answerCallbackQuery


@SQLITE_ONLY
async def test_strangers_get_one_polite_refusal_and_nothing_else(env: Env) -> None:
    await env.say(STRANGER, "/help")
    await env.say(STRANGER, "/operators add 999 admin Me")
    await env.say(STRANGER, "hello?")
    [refusal] = env.sent_to(STRANGER)
    assert "staff of this business only" in text_of(refusal) and "999" in text_of(refusal)
    assert Operator.get_or_none(Operator.telegram_id == STRANGER) is None
    # A stranger pressing a button (an old message) gets a toast and nothing runs.
    anna_chat = env.emu.user(TOKEN, ANNA)
    await env.say(ANNA, "/preview")
    preview = env.sent_to(ANNA)[-1]
    await anna_chat.press(preview, buttons(preview)[0])
    assert len(env.sent_to(STRANGER)) == 1


@SQLITE_ONLY
async def test_webhook_checks_the_secret_and_the_body(env: Env) -> None:
    update = {
        "update_id": 1,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}},
    }
    async with aiohttp.ClientSession() as http:
        url = env.url + "/webhooks/admin"
        async with http.post(url, json=update) as missing:
            assert missing.status == 401
        async with http.post(url, json=update, headers={SECRET_HEADER: SECRET + "x"}) as wrong:
            assert wrong.status == 401
        async with http.post(url, data=b"{nope", headers={SECRET_HEADER: SECRET}) as bad:
            assert bad.status == 400
        async with http.post(url, json={"update_id": "x"}, headers={SECRET_HEADER: SECRET}) as odd:
            assert odd.status == 400
        async with http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as ok:
            assert ok.status == 200


@SQLITE_ONLY
async def test_long_replies_are_split_within_the_limit_and_flood_limits_waited(
    db: peewee.Database, db_url: str, tmp_path: Path
) -> None:
    async with running(db_url, tmp_path, limits=True) as env:
        Operator.insert_many(
            [
                {"telegram_id": 5000 + i, "name": f"Operator number {i} " + "x" * 60}
                for i in range(170)
            ]
        ).execute()
        await env.say(ANNA, "/operators")
        parts = env.sent_to(ANNA)
        # 4 messages to one chat: Telegram allows bursts of 3, then answers 429 retry after 1 s.
        assert len(parts) >= 4
        assert any(c.status == 429 for c in env.emu.calls_of("sendMessage"))
        assert all(len(p.text or "") <= MESSAGE_LIMIT for p in parts)
        lines = "\n".join(p.text or "" for p in parts).splitlines()
        assert sum(1 for line in lines if "Operator number" in line) == 170


async def test_notification_reply_and_buttons(env: Env, tmp_path: Path) -> None:
    await env.admin.run_round()  # places the cursor
    cid = factories.inbound("c1", "Do you ship to Kazan?")
    assert await env.admin.run_round() == 2  # both admins: the client is free
    [note] = env.sent_to(ANNA)
    assert "Do you ship to Kazan?" in text_of(note) and "Client c1" in text_of(note)
    assert buttons(note) == [f"nt:r:{cid}", f"nt:o:{cid}", f"nt:m:{cid}", f"nt:a:{cid}"]
    assert len(env.sent_to(ARTEM)) == 1 and env.sent_to(BORIS) == []
    assert await env.admin.run_round() == 0  # nothing new, nothing sent

    await env.reply(ANNA, note, text="Yes, in two days.")
    out = Message.get((Message.client == cid) & (Message.direction == "out"))
    assert (out.text, out.author_kind, out.status) == ("Yes, in two days.", "operator", "queued")
    assert "queued for Client c1" in text_of(env.sent_to(ANNA)[-1])

    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    await env.reply(ANNA, note, text="Our van", photo=jpeg)
    photo = Message.select().where(Message.client == cid).order_by(Message.id.desc()).get()
    [attachment] = photo.attachments
    assert attachment["kind"] == "photo" and photo.text == "Our van"
    assert await asyncio.to_thread(Path(attachment["path"]).read_bytes) == jpeg
    assert Path(attachment["path"]).is_relative_to(tmp_path / "files")

    pdf = b"%PDF-1.4 price list"
    await env.reply(ANNA, note, document=(pdf, "../prices 2025.pdf", "application/pdf"))
    doc = Message.select().where(Message.client == cid).order_by(Message.id.desc()).get()
    [attachment] = doc.attachments
    assert (attachment["kind"], attachment["file_name"]) == ("document", "prices 2025.pdf")
    assert attachment["mime_type"] == "application/pdf" and doc.text == ""
    assert await asyncio.to_thread(Path(attachment["path"]).read_bytes) == pdf

    # A reply to a bot message that is no notification is an ordinary command.
    await env.say(ANNA, "/help")
    await env.reply(ANNA, env.sent_to(ANNA)[-1], text="/help")
    assert "Hello, Anna" in (env.sent_to(ANNA)[-1].text or "")
    assert Message.select().where(Message.client == cid, Message.direction == "out").count() == 3

    # The Reply button asks for the answer with Telegram's ForceReply; answering it writes.
    await env.emu.press(TOKEN, ANNA, note, f"nt:r:{cid}")
    prompt = env.sent_to(ANNA)[-1]
    assert "Your answer to Client c1" in (prompt.text or "")
    assert (prompt.params.get("reply_markup") or {}).get("force_reply") is True
    await env.reply(ANNA, prompt, text="Anything else?")
    assert Message.select().where(Message.client == cid, Message.direction == "out").count() == 4

    await env.emu.press(TOKEN, ANNA, note, f"nt:m:{cid}")
    assert not is_unread(cid)
    await env.emu.press(TOKEN, ANNA, note, f"nt:a:{cid}")
    assert Client.get_by_id(cid).responsible_id == Operator.get(Operator.telegram_id == ANNA).id
    answers = [a.get("text") for a in env.emu.bots[TOKEN].answers]
    assert any("marked read" in (t or "") for t in answers)

    # Bound to Anna now: the next message notifies her only.
    factories.inbound("c1", "Thanks!", 1)
    assert await env.admin.run_round() == 1
    assert len(env.sent_to(ARTEM)) == 1


async def test_a_photo_reply_reaches_the_client_through_the_delivery_engine(env: Env) -> None:
    """Operator -> admin bot -> outbox -> delivery engine -> the shop bot -> the client."""
    customer = env.emu.user(CLIENT_TOKEN, 5551, first_name="Olga")
    await env.admin.run_round()
    cid = factories.inbound("5551", "Is the red one in stock?")
    await env.admin.run_round()
    note = env.sent_to(ANNA)[-1]
    jpeg = b"\xff\xd8\xff\xe0" + b"red-one" * 100
    await env.reply(ANNA, note, text="Yes, this one", photo=jpeg)
    row = Message.get((Message.client == cid) & (Message.direction == "out"))
    sent = await asyncio.to_thread(deliver_now, env.settings, row.id)
    assert sent.status == "sent"
    [photo] = env.emu.sent(CLIENT_TOKEN, customer.user_id)
    assert photo.kind == "photo" and photo.caption == "Yes, this one"
    assert photo.file is not None and photo.file.data == jpeg


async def test_operator_cannot_reply_to_a_client_given_to_another(env: Env) -> None:
    await env.admin.run_round()
    cid = factories.inbound("c2", "hi Boris")
    boris = Operator.get(Operator.telegram_id == BORIS)
    Client.update(responsible=boris.id).where(Client.id == cid).execute()
    assert await env.admin.run_round() == 1  # Boris only: the client is his
    [note] = env.sent_to(BORIS)
    vera = factories.operator(333, "Vera")
    Client.update(responsible=vera.id).where(Client.id == cid).execute()
    await env.reply(BORIS, note, text="still mine?")
    assert "No client" in (env.sent_to(BORIS)[-1].text or "")
    assert Message.select().where(Message.client == cid, Message.direction == "out").count() == 0


async def test_a_burst_of_1000_messages_becomes_one_digest_each(env: Env) -> None:
    await env.admin.run_round()
    bot = factories.bot("shop_tg")
    clients = [factories.client(f"b{i}", on=bot) for i in range(50)]
    factories.inbound_burst([c.id for c in clients], 20, bot)
    assert await env.admin.run_round() == 2
    [digest] = env.sent_to(ANNA)
    assert text_of(digest).startswith("📥 1000 new messages from 50 clients")
    assert buttons(digest) == ["nt:u"]


def with_job_command() -> CommandSet:
    """The admin commands plus /testjob: a broadcast answered with its live progress, as
    /broadcast does."""
    commands = CommandSet()
    commands.commands = dict(ADMIN_COMMANDS.commands)
    commands.buttons = dict(ADMIN_COMMANDS.buttons)

    @commands.command("testjob", "/testjob", "Start a test broadcast.")
    def testjob(ctx: CommandContext, args: str) -> Reply:
        bot = factories.bot("shop_tg")
        job = jobs.create_broadcast(
            Client.select(), "Sale", steps={bot.id: 600.0}, operator_id=ctx.operator.id
        )
        reply = progress_reply(job.id)
        reply.edit = False
        return reply

    return commands


async def test_job_progress_is_edited_live_and_cancel_works(
    db: peewee.Database, db_url: str, tmp_path: Path
) -> None:
    async with running(db_url, tmp_path, commands=with_job_command()) as env:
        bot = factories.bot("shop_tg")
        for i in range(3):
            factories.client(f"j{i}", on=bot)
        await env.say(BORIS, "/testjob")
        [progress] = env.sent_to(BORIS)
        job = Job.get()
        assert f"Broadcast #{job.id}: running (0%)" in (progress.text or "")
        assert buttons(progress) == [f"pj:c:{job.id}"]
        first = Message.select().where(Message.job == job.id).order_by(Message.id).first()
        Message.update(status="sent").where(Message.id == first.id).execute()
        await asyncio.sleep(0.05)
        assert await env.admin.run_round() == 1  # the live message refreshed
        assert "sent 1" in (progress.text or "") and progress.edits
        assert len(env.sent_to(BORIS)) == 1  # edited in place
        await asyncio.sleep(0.05)
        assert await env.admin.run_round() == 0  # nothing changed: "not modified" is fine

        await env.emu.press(TOKEN, BORIS, progress, f"pj:c:{job.id}")
        assert jobs.progress(job.id).state == "cancelled"
        assert "cancelled" in (progress.text or "") and buttons(progress) == []
        edits = len(progress.edits)
        await asyncio.sleep(0.05)
        await env.admin.run_round()
        assert len(progress.edits) == edits  # the end was shown: no more refreshes


@SQLITE_ONLY
async def test_serve_installer_polls_when_configured(
    db: peewee.Database, db_url: str, tmp_path: Path
) -> None:
    bootstrap_operators([(ANNA, "admin", "Anna", None)])
    async with TelegramEmulator(tokens=[TOKEN], limits=False) as emu:
        emu.user(TOKEN, ANNA)
        settings = admin_settings(db_url, 1, tmp_path, api_base=emu.url, mode="polling")
        app = build_app(settings, installers=[install_admin_bot])
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            assert isinstance(app[ADMIN_BOT_KEY], AdminBot)
            assert not any(
                r.resource and r.resource.canonical == "/webhooks/admin"
                for r in app.router.routes()
            )
            await emu.user(TOKEN, ANNA).send_text("/help")
            [reply] = await emu.wait_sent(1, timeout_s=10, token=TOKEN, chat_id=ANNA)
            assert "Hello, Anna" in (reply.text or "")
            # The notification rounds run too: the first one places the cursor.
            await emu.wait_for(
                lambda: ProjectSetting.get_or_none(ProjectSetting.key == "admin_bot:notify_cursor"),
                timeout_s=5,
            )
        finally:
            await runner.cleanup()


def test_a_generated_secret_is_made_once_and_shared(db: peewee.Database) -> None:
    first = stored_secret(None)
    assert len(first) >= 32 and first == stored_secret(None)
    assert stored_secret("configured_1") == "configured_1"


@SQLITE_ONLY
async def test_every_command_answers_through_telegram_for_both_roles(env: Env) -> None:
    """Each registered command, bare, from an admin and an operator: an answer arrives, every
    text within 4,096 characters, every button's data within 64 bytes."""
    factories.client("Ann", on=factories.bot("shop_tg"))
    for user in (ANNA, BORIS):
        for name in sorted(ADMIN_COMMANDS.commands):
            before = len(env.sent_to(user))
            await env.say(user, f"/{name}")
            answers = env.sent_to(user)[before:]
            assert answers, f"/{name} answered nothing"
            for sent in answers:
                assert sent.kind == "document" or 0 < len(sent.text or "") <= MESSAGE_LIMIT
                assert all(len(d.encode()) <= CALLBACK_LIMIT for d in buttons(sent))
            if "cancel" in ADMIN_COMMANDS.commands:  # drop any prompt the command opened
                await env.say(user, "/cancel")
