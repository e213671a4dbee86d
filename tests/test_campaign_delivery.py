"""Issue 18's done-when: a photo campaign with a button and ``{first_name}``, scheduled a
minute ahead and spread over two minutes, reaches every client of a segment exactly once
through the Telegram and WhatsApp emulators across a restart of the sending engine, and its
report shows sent, failed, read (WhatsApp), replies and a block — memory broker on SQLite, Redis on
PostgreSQL. The campaign's tick runs on an injected clock (two seconds a tick), so the minute
and the two minutes pass in seconds; the platforms, the adapters, the webhooks, the broker and
the workers are the real ones."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.campaign_report import report
from commands.campaigns import pacing
from config import Settings
from emulators import whatsapp_payloads as wp
from emulators.telegram import TelegramEmulator
from emulators.whatsapp import GraphEmulator
from store.campaigns import audience, model
from store.campaigns.schedule import tick
from store.clients.query import select_clients
from store.clock import utcnow
from store.filters import parse_filter
from store.models import Client, ListMembership, MailingList, Message, Operator
from tests.broadcast_rig import until
from tests.conftest import migrated_store
from tests.services import REDIS_URL, redis_namespace, temporary_postgres_database
from tests.telegram_support import SECRET, TOKEN, register_webhook
from tests.whatsapp_support import ACCESS_TOKEN, APP_SECRET, PHONE_ID, VERIFY_TOKEN, serve
from workers.engine import Engine

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
TG_USERS = {501: "Анна", 502: "Борис", 503: "Вера", 504: "Глеб"}
BLOCKED_USER = 505
OUTSIDER = 599
WA_PHONES = ("79990000001", "79990000002", "79990000003")


class StepClock:
    """The campaign tick's clock: starts well behind the real one (so the outbox rows it
    dates are due at once) and moves ``step_s`` per tick."""

    def __init__(self, start: dt.datetime, step_s: float) -> None:
        self.now = start
        self.step = dt.timedelta(seconds=step_s)
        self.lock = threading.Lock()

    def advance(self) -> dt.datetime:
        with self.lock:
            self.now += self.step
            return self.now


@pytest.fixture(params=["memory+sqlite", "redis+postgres"])
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "memory+sqlite":
        with migrated_store(f"sqlite:///{tmp_path / 'store.db'}"):
            yield "memory://", "campaign"
        return
    with temporary_postgres_database() as url, migrated_store(url), redis_namespace() as ns:
        yield REDIS_URL, ns


def _settings(tg: TelegramEmulator, wa: GraphEmulator, broker: str, ns: str) -> Settings:
    bots = [
        {
            "name": "tg",
            "kind": "telegram",
            "token": TOKEN,
            "webhook_secret": SECRET,
            "api_base": tg.base_url,
        },
        {
            "name": "wa",
            "kind": "whatsapp",
            "phone_number_id": PHONE_ID,
            "access_token": ACCESS_TOKEN,
            "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN,
            "api_base": wa.url,
        },
    ]
    delivery = {
        "namespace": ns,
        "dispatch_interval_s": 0.1,
        "worker_threads": 4,
        "stale_after_s": 3.0,
        "max_wait_s": 1.0,
    }
    return Settings.model_validate(
        {"broker_url": broker, "timezone": "Europe/Moscow", "bots": bots, "delivery": delivery}
    )


def _engine(settings: Settings, clock: StepClock) -> Engine:
    engine = Engine(settings)
    engine.tick_hooks.append(lambda: tick(pacing(settings), now=clock.advance()))
    engine.start_dispatcher()
    engine.start_workers()
    return engine


def _done(campaign_id: int) -> int:
    return (
        Message.select()
        .where(
            Message.dedup_key.startswith(f"campaign:{campaign_id}:")
            & Message.status.in_(["sent", "delivered", "read", "failed"])
        )
        .count()
    )


async def test_a_spread_photo_campaign_reaches_a_segment_once_across_a_restart(
    mode: tuple[str, str], tmp_path: Path
) -> None:
    photo = tmp_path / "xmas.png"
    photo.write_bytes(PNG)
    broker, ns = mode
    async with (
        TelegramEmulator(tokens=[TOKEN], limits=False) as tg,
        GraphEmulator(access_token=ACCESS_TOKEN, app_secret=APP_SECRET) as wa,
    ):
        settings = _settings(tg, wa, broker, ns)
        async with serve(settings) as base:
            await register_webhook(tg.base_url, base)
            wa_hook = f"{base}/webhooks/whatsapp/wa"
            wa.receipts_url = wa_hook
            # Clients arrive through the real ingest: they write first.
            for user_id, name in {**TG_USERS, BLOCKED_USER: "Дина", OUTSIDER: "Ева"}.items():
                await tg.user(TOKEN, user_id, first_name=name).send_text("/start")
            for n, phone in enumerate(WA_PHONES):
                hello = wp.envelope(PHONE_ID, messages=[wp.text(phone, "hi", wamid=f"w{n}")])
                assert (await wa.post_webhook(wa_hook, hello))[0] == 200
            tg.user(TOKEN, BLOCKED_USER, blocked=True)  # blocks the bot, silently
            # They wrote an hour before the campaign (whose clock runs behind the real one).
            for said in Message.select():
                Message.update(created_at=said.created_at - dt.timedelta(hours=1)).where(
                    Message.id == said.id
                ).execute()
            vip = MailingList.create(name="VIP")
            segment = Client.select().where(Client.messenger_id != str(OUTSIDER))
            for client in segment:
                ListMembership.create(client=client, mailing_list=vip)
            admin = Operator.create(telegram_id=1, name="Owner", role="admin")

            clock = StepClock(utcnow() - dt.timedelta(minutes=10), step_s=2.0)
            content = {
                "text": "С Рождеством, <b>{first_name}</b>!",
                "media": {"kind": "photo", "path": str(photo)},
                "buttons": [{"text": "В магазин", "url": "https://shop.example/xmas"}],
            }
            draft = model.create(
                "Xmas",
                [content],
                filter_text="list:VIP",
                start_at=clock.now + dt.timedelta(minutes=1),
                spread_s=120.0,
                operator_id=admin.id,
                now=clock.now,
            )
            flt = parse_filter("list:VIP", admin, settings.zone)
            campaign = audience.launch(
                draft.id,
                select_clients(flt, admin),
                steps=pacing(settings).steps,
                window_since=pacing(settings).window_since(clock.now),
                now=clock.now,
            )
            assert campaign.total == len(TG_USERS) + 1 + len(WA_PHONES)
            with pytest.raises(model.CampaignError, match="already scheduled"):
                audience.launch(
                    draft.id, select_clients(flt, admin), steps={}, window_since=clock.now
                )

            engine = _engine(settings, clock)
            try:
                await until(lambda: _done(campaign.id) >= 3, "the first sends", 60)
                assert model.get(campaign.id).status == "sending"
                assert _done(campaign.id) < campaign.total  # the spread is still going
            finally:
                engine.stop()
            engine = _engine(settings, clock)  # the sending process again, from scratch
            try:
                await until(lambda: model.get(campaign.id).status == "done", "the campaign", 60)
            finally:
                engine.stop()

            # Every client of the segment exactly once, nobody else.
            photos = Counter(call.params.get("chat_id") for call in tg.calls_of("sendPhoto"))
            assert photos == Counter({str(u): 1 for u in (*TG_USERS, BLOCKED_USER)})
            captions = {m.chat_id: m.caption for m in tg.sent(TOKEN) if m.caption}
            assert captions == {u: f"С Рождеством, {name}!" for u, name in TG_USERS.items()}
            assert Counter(m.to for m in wa.sent) == Counter({p: 1 for p in WA_PHONES})
            first = next(m for m in wa.sent if m.to == WA_PHONES[0])

            # Afterwards: a WhatsApp read receipt and two replies, through the webhooks.
            await wa.send_receipts(wa_hook, PHONE_ID, first.wamid, first.to, ("read",))
            await tg.user(TOKEN, 501).send_text("Спасибо!")
            await tg.user(TOKEN, 502).block()  # Telegram tells the bot: my_chat_member
            reply = wp.envelope(PHONE_ID, messages=[wp.text(WA_PHONES[1], "ok", wamid="w-r")])
            assert (await wa.post_webhook(wa_hook, reply))[0] == 200

    lines = report(model.get(campaign.id), settings.zone)
    assert lines[1] == "clients 8: sent 7, failed 1, uncertain 0, skipped 0, remaining 0"
    assert lines[2] == "failed by reason: 403 1"
    assert "WhatsApp: of 3 sent, delivered 3 (100.0 %), read 1 (33.3 %)" in lines
    assert lines[-1] == "within 24 h of the send: replied 2 (28.6 %), blocked the bot 1 (14.3 %)"
