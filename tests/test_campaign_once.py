"""At most once per (campaign, client) at the sender: a send whose answer timed out after it
reached the platform is ``uncertain`` and never sent again, where an ordinary message is
retried; the platforms' timeouts are classified as "may have arrived" — on both databases."""

from __future__ import annotations

import time

import aiogram.exceptions
import httpx
import peewee
import pytest
from aiogram.methods import SendMessage

from bots.telegram.errors import classify as classify_telegram
from bots.whatsapp.errors import classify as classify_whatsapp
from config import Settings
from store import outbox
from store.campaigns import audience, model, schedule
from store.campaigns.results import results
from store.clock import utcnow
from store.inbound import get_or_create_client
from store.models import Bot, Client, Message
from store.setup import sync_bots
from tests.platform_double import ScriptedAdapter, ScriptedPlatform
from tests.test_campaigns import pacing
from workers.engine import Engine


def _settings() -> Settings:
    delivery = {"dispatch_interval_s": 0.05, "backoff_base_s": 0.05, "max_attempts": 3}
    bots = [{"name": "shop_tg", "kind": "telegram", "token": "1:abc"}]
    return Settings.model_validate({"bots": bots, "delivery": delivery})


def _unfinished(ids: list[int]) -> int:
    return (
        Message.select().where(Message.id.in_(ids) & Message.status.in_(["queued", "sending"]))
    ).count()


def test_a_timed_out_campaign_send_is_uncertain_and_never_resent(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    late, ok = (get_or_create_client(bot, m)[0] for m in ("late", "ok"))
    draft = model.create("Once", [{"text": "Sale"}])
    now = utcnow()
    audience.launch(draft.id, Client.select(), steps={}, window_since=now, now=now)
    schedule.tick(pacing(), now=now)
    campaign_rows = [m.id for m in Message.select()]
    ordinary = outbox.enqueue(late, "your order").id  # the same timeout, outside a campaign
    platform = ScriptedPlatform()
    engine = Engine(_settings(), adapter_factory=lambda b, s: ScriptedAdapter(b.name, platform))
    engine.start_dispatcher()
    engine.start_workers()
    try:
        deadline = time.monotonic() + 30
        while _unfinished([*campaign_rows, ordinary]) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Handing the uncertain row over again (a sweep, a second dispatcher) sends nothing.
        once = Message.get((Message.client == late) & Message.dedup_key.is_null(False))
        engine.hand_over([once.id])
        time.sleep(0.3)
    finally:
        engine.stop()
    assert (once.status, once.attempts, once.error_code) == ("uncertain", 1, "timeout")
    assert platform.delivered[once.id] == 1 and platform.tries["late"] == 1 + 3
    retried = Message.get_by_id(ordinary)
    assert (retried.status, retried.attempts) == ("failed", 3)  # retried as ever
    assert Message.get(Message.client == ok).status == "sent"
    figures = results(draft.id)[0]
    assert (figures.sent, figures.uncertain, figures.remaining) == (1, 1, 0)


def test_a_late_answer_that_it_was_sent_still_wins(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    client = get_or_create_client(Bot.get(Bot.name == "shop_tg"), "1")[0]
    row = outbox.enqueue(client, "hi", dedup_key="campaign:1:1")
    assert outbox.claim(row.id) is not None
    assert outbox.mark_uncertain(row.id, "timeout", "Request timeout error")
    assert outbox.claim(row.id) is None
    assert outbox.mark_sent(row.id, "p-1")
    assert Message.get_by_id(row.id).status == "sent"


@pytest.mark.parametrize(
    ("error", "maybe"),
    [
        (
            aiogram.exceptions.TelegramNetworkError(
                SendMessage(chat_id=1, text="x"), "Request timeout error"
            ),
            True,
        ),
        (
            aiogram.exceptions.TelegramNetworkError(
                SendMessage(chat_id=1, text="x"), "Cannot connect"
            ),
            False,
        ),
        (httpx.ReadTimeout("read"), True),
        (httpx.WriteTimeout("write"), True),
        (httpx.ConnectTimeout("connect"), False),
        (httpx.PoolTimeout("pool"), False),
    ],
)
def test_a_timeout_after_the_request_left_may_have_arrived(error: Exception, maybe: bool) -> None:
    classify = (
        classify_telegram
        if isinstance(error, aiogram.exceptions.TelegramAPIError)
        else classify_whatsapp
    )
    assert classify(error).maybe_delivered is maybe  # type: ignore[attr-defined]
