"""/broadcast, /resendfailed, /jobs, /export, /write_email through the command layer."""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile

import peewee
import pytest

from commands.admin import ADMIN_COMMANDS, CommandContext
from config import EmailBotSettings, ImapSettings, SmtpSettings
from store import outbox
from store.models import Client, Job, Message
from store.permissions import set_override
from store.setup import sync_bots
from tests import factories as f
from tests.admin_support import buttons, make_staff, press, run


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    """The staff, Boris granted broadcast and export: these tests are about an operator's
    scope (what he may do at all is tests/test_permissions.py's)."""
    staff = make_staff()
    boris = staff["operator"]
    for capability in ("broadcast", "export"):
        set_override(boris.operator, capability, True, boris.settings.permissions)
    return staff


def _failed(client: Client, text: str) -> None:
    row = outbox.enqueue(client, text)
    outbox.claim(row.id)
    outbox.mark_failed(row.id, "500", "boom")


def test_broadcast_asks_for_the_text_then_confirms(staff: dict[str, CommandContext]) -> None:
    ctx = staff["operator"]
    mine = [f.client(f"Mine {i}", lists=("VIP",), responsible=ctx.operator.id) for i in range(3)]
    f.client("Vera's VIP", lists=("VIP",), responsible=staff["other"].operator.id)
    f.client("Blocked VIP", lists=("VIP",), blocked=True)
    asked = run(ctx, "/broadcast list:VIP")
    # Boris's scope: his three and the free blocked one; Vera's client is not counted.
    assert asked.text.startswith("4 clients match 'list:VIP'")
    confirm = run(ctx, "Скидка 20% до пятницы")
    assert confirm.text.startswith(
        "Broadcast plan: 3 recipients of 4 matching; 1 skipped (0 unsubscribed, 1 blocked)."
    )
    assert Job.select().count() == 0  # nothing before the confirmation
    started = press(ctx, confirm, "📣 Send")
    job = Job.get()
    assert started.edit and started.text.startswith(f"Broadcast #{job.id}: running")
    assert "skipped 1" in started.text and started.live == f"pj:s:{job.id}"
    assert f"pj:c:{job.id}" in [b.data for b in buttons(started)]
    rows = list(Message.select().where(Message.job == job.id))
    assert {r.client_id for r in rows} == {c.id for c in mine}
    assert {r.text for r in rows} == {"Скидка 20% до пятницы"}
    # A second tap on Send does not send twice.
    again = press(ctx, confirm, "📣 Send")
    assert again.error and Job.select().count() == 1
    # /jobs shows the progress with Cancel; Cancel stops it: queued rows disappear.
    listing = run(ctx, "/jobs")
    assert f"#{job.id}" in listing.text and "left 3" in listing.text
    cancelled = press(ctx, listing, "✖ Cancel")
    assert "cancelled" in cancelled.text and not cancelled.buttons
    assert not Message.select().where(Message.job == job.id).exists()


def test_broadcast_can_be_cancelled_and_refuses_bad_input(
    staff: dict[str, CommandContext],
) -> None:
    ctx = staff["admin"]
    f.client("Someone")
    assert "Give a filter" in run(ctx, "/broadcast").text
    assert "Filter:" in run(ctx, "/broadcast list:Nowhere").text
    assert "No clients match" in run(ctx, "/broadcast search:zzzz").text
    run(ctx, "/broadcast tab:all")
    assert run(ctx, "/cancel").text == "Cancelled."
    assert "Send a command" in run(ctx, "hello everyone").text
    run(ctx, "/broadcast tab:all")
    confirm = run(ctx, "hello everyone")
    assert "Broadcast cancelled" in press(ctx, confirm, "Cancel").text
    assert Job.select().count() == 0 and Message.select().count() == 0


def test_resendfailed_options_progress_and_scope(staff: dict[str, CommandContext]) -> None:
    admin, boris = staff["admin"], staff["operator"]
    wa = f.bot("shop_wa", "whatsapp")
    tg_free = f.client("TG free")
    wa_vera = f.client("WA vera", on=wa, responsible=staff["other"].operator.id)
    _failed(tg_free, "promo tg")
    _failed(wa_vera, "promo wa")
    for bad, expected in [
        ("since:31.02.2026", "is not a date"),
        ("channel:viber", "no such messenger or bot"),
        ("interval:fast", "seconds from 0 to 3600"),
        ("interval:-1", "seconds from 0 to 3600"),
        ("since:2026-01-01 since:2026-01-02", "given twice"),
        ("list:Nope", "Filter:"),
    ]:
        reply = run(admin, f"/resendfailed {bad}")
        assert expected in reply.text and reply.error, (bad, reply.text)
    assert Job.select().count() == 0
    # Boris resends only within his scope: the free Telegram client. The plan comes first.
    ask = run(boris, "/resendfailed")
    assert ask.text.splitlines()[:2] == [
        "Resend of failed messages plan: 1 recipients of 1 matching.",
        "• shop_tg (telegram): 1 recipients; this bot is not configured or disabled: its "
        "messages will fail",
    ]
    assert Job.select().count() == 0  # nothing before the confirmation
    mine = press(boris, ask, "🔁 Resend")
    job = Job.get()
    assert [m.client_id for m in Message.select().where(Message.job == job.id)] == [tg_free.id]
    assert mine.text.startswith(f"Resend of failed messages #{job.id}: running")
    assert "left 1" in mine.text and mine.live == f"pj:s:{job.id}" and mine.edit
    assert press(boris, ask, "🔁 Resend").error and Job.select().count() == 1  # a double tap
    ask = run(admin, "/resendfailed channel:whatsapp interval:5 since:2020-01-01")
    assert "• shop_wa (whatsapp): 1 recipients" in ask.text
    reply = press(admin, ask, "🔁 Resend")
    wa_job = Job.select().order_by(Job.id.desc()).get()
    assert wa_job.interval_s == 5.0 and f"#{wa_job.id}: running" in reply.text
    assert [m.text for m in Message.select().where(Message.job == wa_job.id)] == ["promo wa"]
    # /jobs: Boris sees his own job only; Anna sees both.
    assert f"#{wa_job.id}" not in run(boris, "/jobs").text
    assert f"#{job.id}" in run(boris, "/jobs").text
    both = run(admin, "/jobs").text
    assert f"#{wa_job.id}" in both and f"#{job.id}" in both
    refused = ADMIN_COMMANDS.handle_button(boris, f"pj:c:{wa_job.id}")
    assert refused.error and Message.select().where(Message.job == wa_job.id).exists()
    assert "No client's last message failed" in run(admin, "/resendfailed since:2099-01-01").text
    _failed(f.client("Another"), "promo")
    cancelled = press(admin, run(admin, "/resendfailed"), "Cancel")
    assert "Resend cancelled" in cancelled.text and Job.select().count() == 2


def test_export_sends_a_file_of_the_viewers_clients(staff: dict[str, CommandContext]) -> None:
    f.client("Ксения", variables={"Размер": "XS"})
    f.client("Vera's", responsible=staff["other"].operator.id)
    reply = run(staff["operator"], "/export csv")
    (file,) = reply.files
    assert file.file_name.endswith(".csv") and file.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert table[0][:2] == ["client_id", "name"] and table[0][-1] == "Размер"
    assert [row[1] for row in table[1:]] == ["Ксения"]
    xlsx = run(staff["admin"], "/export xlsx")
    (book,) = xlsx.files
    assert zipfile.is_zipfile(io.BytesIO(book.content)) and "2 clients" in xlsx.text
    assert "Say csv or xlsx" in run(staff["admin"], "/export pdf").text


def test_write_email_queues_a_mail(staff: dict[str, CommandContext]) -> None:
    bot = EmailBotSettings(
        name="shop_mail",
        kind="email",
        # model_validate, as from config.yaml: the ports come from ``security``.
        imap=ImapSettings.model_validate({"host": "127.0.0.1", "user": "shop", "password": "x"}),
        smtp=SmtpSettings.model_validate(
            {"host": "127.0.0.1", "from_address": "shop@shop.example"}
        ),
    )
    sync_bots([("shop_mail", "email")])
    ctx = dataclasses.replace(
        staff["operator"], settings=staff["operator"].settings.model_copy(update={"bots": [bot]})
    )
    reply = run(ctx, "/write_email shop_mail Anna@Example.test Ваш заказ готов | Заберите завтра")
    # No sender runs here: the reply says so instead of promising a delivery.
    assert "Mail to anna@example.test queued, not sent: no delivery worker" in reply.text
    assert "(new client)" in reply.text
    row = Message.get()
    assert (row.subject, row.text, row.status) == ("Ваш заказ готов", "Заберите завтра", "queued")
    assert row.operator_id == ctx.operator.id
    for bad, expected in [
        ("shop_mail a@b.test no bar", "then | and the text"),
        ("nomail a@b.test Hi | text", "No email bot named 'nomail'"),
        ("shop_mail a@b.test Hi |   ", "then | and the text"),
        ("shop_mail not-an-address Hi | text", "address"),
    ]:
        answer = run(ctx, f"/write_email {bad}")
        assert expected in answer.text and answer.error, answer.text
    assert Message.select().count() == 1


def test_write_whatsapp_queues_the_first_contact_template(
    staff: dict[str, CommandContext],
) -> None:
    from tests.whatsapp_support import settings_for

    settings = settings_for(default_region="US")
    sync_bots((b.name, b.kind) for b in settings.bots)
    ctx = dataclasses.replace(staff["operator"], settings=settings)
    reply = run(ctx, '/write_whatsapp wa "+1 631 555 1181" Ваш заказ готов')
    assert "WhatsApp message to +16315551181 queued, not sent" in reply.text
    assert "(new client)" in reply.text
    assert "template" in reply.text  # a new number: outside the 24-hour window
    row = Message.get()
    assert row.status == "queued" and row.operator_id == ctx.operator.id
    assert row.extra["template"]["name"]
    for bad, expected in [
        ("wa", "Give the bot, the phone number"),
        ("wa +16315551181", "Give the bot, the phone number"),
        ("nowa +16315551181 hi", "No whatsapp bot named 'nowa'"),
        ("wa 12ab hi", "12ab"),
    ]:
        answer = run(ctx, f"/write_whatsapp {bad}")
        assert expected in answer.text and answer.error, answer.text
    assert Message.select().count() == 1
    again = run(ctx, "/write_whatsapp wa +16315551181 second")
    assert "queued" in again.text and "(new client)" not in again.text
