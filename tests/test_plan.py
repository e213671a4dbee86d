"""The plan of a bulk send (``commands.plan``): figures on both databases, the admin bot's
/broadcast shows it, paid broadcasts change the pace."""

from __future__ import annotations

import dataclasses
import datetime as dt

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from commands.jobs import steps
from commands.plan import broadcast_plan, duration, render, resend_plan, start_broadcast
from config import Settings, TelegramBotSettings, WhatsAppBotSettings
from config.bots import WhatsAppTemplateSettings
from store import outbox
from store.clock import utcnow
from store.models import Bot, Client, Job, ListMembership, MailingList, Message
from store.plan import reach_by_bot
from store.setup import sync_bots
from tests import factories as f
from tests.admin_support import make_staff, press, run

NOW = utcnow()  # the admin bot plans at the real time: seed around it


def _settings(*, paid: bool = False) -> Settings:
    return Settings(
        bots=[
            TelegramBotSettings(
                name="tg", kind="telegram", token=SecretStr("1:abc"), messages_per_second=10,
                paid_broadcast=paid,
            ),
            WhatsAppBotSettings(
                name="wa", kind="whatsapp", phone_number_id="1", access_token=SecretStr("t"),
                app_secret=SecretStr("s"), verify_token=SecretStr("v"), messages_per_second=2,
            ),
        ]
    )  # fmt: skip


def _wrote(client: Client, ago: dt.timedelta) -> None:
    Message.create(
        client=client,
        bot=client.bot_id,
        direction="in",
        author_kind="client",
        text="hi",
        created_at=NOW - ago,
    )


def _seed() -> dict[str, Client]:
    """tg: two reachable, one unsubscribed, one blocked, one both. wa: one inside the 24-hour
    window, three outside (30 h ago, 23 h 55 min ago — inside the margin —, never), one
    unsubscribed who never wrote (skipped, so not counted as outside)."""
    sync_bots([("tg", "telegram"), ("wa", "whatsapp")])
    tg, wa = Bot.get(Bot.name == "tg"), Bot.get(Bot.name == "wa")
    c = {
        "t0": f.client("t0", "100", on=tg),
        "t1": f.client("t1", "101", on=tg),
        "t2": f.client("t2", "102", on=tg, unsubscribed=True),
        "t3": f.client("t3", "103", on=tg, blocked=True),
        "t4": f.client("t4", "104", on=tg, blocked=True, unsubscribed=True),
        "w0": f.client("w0", "+1555000", on=wa),
        "w1": f.client("w1", "+1555001", on=wa),
        "w2": f.client("w2", "+1555002", on=wa),
        "w3": f.client("w3", "+1555003", on=wa),
        "w4": f.client("w4", "+1555004", on=wa, unsubscribed=True),
    }
    _wrote(c["w0"], dt.timedelta(hours=1))
    _wrote(c["w0"], dt.timedelta(hours=40))
    _wrote(c["w1"], dt.timedelta(hours=30))
    _wrote(c["w2"], dt.timedelta(hours=23, minutes=55))
    _wrote(c["t0"], dt.timedelta(hours=50))
    return c


def test_broadcast_plan_figures_per_bot(db: peewee.Database) -> None:
    _seed()
    plan = broadcast_plan(_settings(), Client.select(), now=NOW)
    got = {
        b.reach.name: (
            b.reach.matched,
            b.reach.recipients,
            b.reach.blocked,
            b.reach.unsubscribed,
            b.reach.outside_window,
            b.rate_per_s,
            b.eta_s,
        )
        for b in plan.bots
    }
    assert got == {"tg": (5, 2, 2, 1, 0, 10.0, 0.2), "wa": (5, 4, 0, 1, 3, 2.0, 2.0)}
    assert (plan.matched, plan.recipients, plan.blocked, plan.unsubscribed) == (10, 6, 2, 2)
    assert (plan.outside_window, plan.eta_s) == (3, 2.0)
    assert render(plan).splitlines() == [
        "Broadcast plan: 6 recipients of 10 matching; 4 skipped (2 unsubscribed, 2 blocked).",
        "• tg (telegram): 2 recipients, 3 skipped; limit 10 msg/s; about under 1 s",
        "• wa (whatsapp): 4 recipients, 1 skipped, 3 of them outside WhatsApp's 24-hour window: "
        "they get the template hello_world (en_US), without your text; limit 2 msg/s; about 2 s",
        "Estimated time to finish: about 2 s.",
    ]


def test_paid_broadcast_and_an_unconfigured_bot_in_the_plan(db: peewee.Database) -> None:
    _seed()
    sync_bots([("old", "telegram")])
    f.client("o0", "200", on=Bot.get(Bot.name == "old"))
    paid = _settings(paid=True)
    plan = broadcast_plan(paid, Client.select(), now=NOW)
    lines = {b.reach.name: b for b in plan.bots}
    assert lines["tg"].rate_per_s == 1000 and lines["tg"].paid
    assert lines["old"].rate_per_s == 0 and lines["old"].reach.recipients == 1
    text = render(plan)
    assert "2 recipients, 3 skipped; limit 1000 msg/s (paid broadcast: up to 0.2 Telegram" in text
    assert "• old (telegram): 1 recipients; this bot is not configured or disabled" in text
    # The job's rows are paced at the paid rate too; WhatsApp is unchanged.
    tg, wa = Bot.get(Bot.name == "tg"), Bot.get(Bot.name == "wa")
    assert steps(paid) == {tg.id: 0.001, wa.id: 0.5}
    assert steps(_settings()) == {tg.id: 0.1, wa.id: 0.5}


def _failed(client: Client, text: str) -> None:
    row = outbox.enqueue(client, text)
    outbox.claim(row.id)
    outbox.mark_failed(row.id, "500", "boom")


def test_resend_plan_counts_the_failed_and_their_pace(db: peewee.Database) -> None:
    c = _seed()
    for name in ("t0", "t2", "w1", "w0"):
        _failed(c[name], f"for {name}")
    row = outbox.enqueue(c["w0"], "later, sent")  # w0's last message did not fail
    outbox.claim(row.id)
    outbox.mark_sent(row.id, "wamid.1")
    plan = resend_plan(_settings(), None, interval_s=5, now=NOW)
    got = {b.reach.name: (b.reach.matched, b.reach.recipients, b.step_s) for b in plan.bots}
    assert got == {"tg": (2, 1, 5.0), "wa": (1, 1, 5.0)}
    assert plan.outside_window == 1 and plan.eta_s == 5.0
    assert "one every 5 s; about 5 s" in render(plan)
    only_tg = resend_plan(_settings(), None, bot_ids=[c["t0"].bot_id], now=NOW)
    assert [(b.reach.name, b.reach.recipients) for b in only_tg.bots] == [("tg", 1)]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["tg", "wa"]), st.booleans(), st.booleans(), st.integers(0, 3)),
        max_size=12,
    )
)
def test_reach_matches_a_count_by_hand(
    db: peewee.Database, rows: list[tuple[str, bool, bool, int]]
) -> None:
    """For any mix of bots, blocked / unsubscribed flags and last-message ages (0: never;
    1: 1 h; 2: 23 h 55 min; 3: 30 h ago) the grouped query agrees with counting one by one."""
    Message.delete().execute()
    Client.delete().execute()
    sync_bots([("tg", "telegram"), ("wa", "whatsapp")])
    bots = {b.name: b for b in Bot.select()}
    ages = {1: dt.timedelta(hours=1), 2: dt.timedelta(hours=23, minutes=55)}
    ages[3] = dt.timedelta(hours=30)
    expected: dict[str, list[int]] = {}
    for i, (name, blocked, unsub, age) in enumerate(rows):
        client = f.client(
            f"c{i}", str(1000 + i), on=bots[name], blocked=blocked, unsubscribed=unsub
        )
        if age:
            _wrote(client, ages[age])
        e = expected.setdefault(name, [0, 0, 0, 0])
        e[0] += 1
        e[1] += blocked
        e[2] += unsub and not blocked
        e[3] += name == "wa" and not (blocked or unsub) and age != 1
    since = NOW - dt.timedelta(hours=23, minutes=50)
    got = {
        r.name: [r.matched, r.blocked, r.unsubscribed, r.outside_window]
        for r in reach_by_bot(Client.select(), since)
    }
    assert got == expected


def _add_to_list(name: str, clients: list[Client]) -> None:
    the_list = MailingList.create(name=name)
    for client in clients:
        ListMembership.create(client=client, mailing_list=the_list)


def test_admin_broadcast_shows_the_plan_before_send(db: peewee.Database) -> None:
    c = _seed()
    staff = make_staff()
    ctx = dataclasses.replace(staff["admin"], settings=_settings())
    _add_to_list("VIP", [c[name] for name in ("t0", "t2", "w0", "w1")])
    asked = run(ctx, "/broadcast list:VIP")
    assert asked.text.startswith("4 clients match"), asked.text
    confirm = run(ctx, "Скидка 20%")
    lines = confirm.text.splitlines()
    assert lines[0] == (
        "Broadcast plan: 3 recipients of 4 matching; 1 skipped (1 unsubscribed, 0 blocked)."
    )
    assert lines[1].startswith("• tg (telegram): 1 recipients, 1 skipped; limit 10 msg/s")
    assert lines[2].startswith("• wa (whatsapp): 2 recipients, 1 of them outside WhatsApp's")
    assert "Estimated time to finish: about 1 s." in confirm.text
    assert confirm.text.endswith("The message:\n\nСкидка 20%")
    assert Job.select().count() == 0  # shown, nothing sent yet
    started = press(ctx, confirm, "📣 Send")
    assert started.text.startswith("Broadcast #")
    job = Job.get()
    assert Message.select().where(Message.job == job.id).count() == 3


def test_admin_broadcast_with_everyone_skipped_offers_no_send(db: peewee.Database) -> None:
    c = _seed()
    ctx = dataclasses.replace(make_staff()["admin"], settings=_settings())
    _add_to_list("Gone", [c["t2"], c["t3"]])
    run(ctx, "/broadcast list:Gone")
    reply = run(ctx, "hello")
    assert "Nothing to send" in reply.text and not reply.buttons
    assert Job.select().count() == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "under 1 s"), (42.4, "42 s"), (185, "3 min 5 s"), (120, "2 min"), (7800, "2 h 10 min")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_plan_uses_the_clock_it_is_given(db: peewee.Database) -> None:
    _seed()
    later = broadcast_plan(_settings(), Client.select(), now=NOW + dt.timedelta(hours=2))
    assert later.outside_window == 3  # w0 wrote 3 h before: still inside
    much_later = broadcast_plan(_settings(), Client.select(), now=NOW + dt.timedelta(days=1))
    assert much_later.outside_window == 4


def test_a_broadcast_sends_the_template_outside_the_window(db: peewee.Database) -> None:
    """Where the plan says a WhatsApp client is outside the window, the job's row carries the
    bot's template (decided in the INSERT ... SELECT); inside it, and on Telegram, the text."""
    c = _seed()
    job = start_broadcast(_settings(), Client.select(), "Sale", now=NOW)
    rows = {r.client_id: r for r in Message.select().where(Message.job == job.id)}
    assert set(rows) == {c[n].id for n in ("t0", "t1", "w0", "w1", "w2", "w3")}
    for name in ("t0", "t1", "w0"):
        assert (rows[c[name].id].text, rows[c[name].id].extra) == ("Sale", {})
    hello = {"name": "hello_world", "language": "en_US", "components": []}
    for name in ("w1", "w2", "w3"):
        row = rows[c[name].id]
        assert (row.text, row.extra) == ("", {"template": hello, "operator_text": "Sale"})
    promo = _settings().model_copy(deep=True)
    wa = promo.bots[1]
    assert isinstance(wa, WhatsAppBotSettings)
    template = WhatsAppTemplateSettings(name="promo", language="ru", text_parameter=True)
    promo = promo.model_copy(
        update={"bots": [promo.bots[0], wa.model_copy(update={"first_contact_template": template})]}
    )
    plan = render(broadcast_plan(promo, Client.select(), now=NOW))
    assert "they get the template promo (ru), your text as its parameter" in plan
    second = start_broadcast(promo, Client.select(), "Скидка\n20%", now=NOW)
    row = Message.get((Message.job == second.id) & (Message.client == c["w2"].id))
    assert row.text == "Скидка 20%"  # a template parameter holds no line break
    assert row.extra["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Скидка 20%"}
    ]
