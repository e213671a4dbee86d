"""The admin bot's /campaign wizard and /campaigns (commands.admin.campaigns), on both
databases: content -> audience -> plan -> test to me -> start and spread -> launch once."""

from __future__ import annotations

import datetime as dt

import peewee
import pytest

from commands.admin import ADMIN_COMMANDS, CommandContext, Reply, find_operator
from commands.admin.reply import Button
from config import Settings
from store.models import Bot, Campaign, CampaignRecipient, Client, Message, Variable
from store.setup import bootstrap_operators

MESSAGE = """<b>Friday sale</b>, {first_name}! 20% off in {var:Город|your city}.
photo: https://cdn.example/sale.jpg
button: Shop now | https://shop.example/sale"""


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    bootstrap_operators([(111, "admin", "Anna", None), (222, "operator", "Boris", None)])
    settings = Settings.model_validate(
        {
            "bots": [{"name": "shop_tg", "kind": "telegram", "token": "1:x"}],
            "timezone": "UTC",
            "permissions": {"operator": ["reply", "broadcast"]},
        }
    )
    shop = Bot.create(name="shop_tg", kind="telegram")
    for n, name in enumerate(["Ольга Иванова", "Bob", ""]):
        client = Client.create(bot=shop, messenger_id=str(1000 + n), name=name)
        if n == 0:
            Variable.create(client=client, name="Город", value="Казань")
    Client.create(bot=shop, messenger_id="111", name="Anna (me)")  # the admin's own chat
    return {
        role: CommandContext(operator=find_operator(tid), settings=settings)  # type: ignore[arg-type]
        for role, tid in (("admin", 111), ("operator", 222))
    }


def press(ctx: CommandContext, reply: Reply, starts: str) -> Reply:
    button = next(b for row in reply.buttons for b in row if b.text.startswith(starts))
    assert button.data is not None
    return ADMIN_COMMANDS.handle_button(ctx, button.data)


def buttons(reply: Reply) -> list[Button]:
    return [b for row in reply.buttons for b in row]


def test_wizard_from_message_to_a_launched_spread_campaign(
    staff: dict[str, CommandContext],
) -> None:
    admin = staff["admin"]
    asked = ADMIN_COMMANDS.handle_text(admin, "/campaign Friday sale")
    assert "Send the campaign's message" in asked.text
    bad = ADMIN_COMMANDS.handle_text(admin, "<b>unclosed {first_name}")
    assert bad.error and "never closed" in bad.text  # the prompt stays open
    read = ADMIN_COMMANDS.handle_text(admin, MESSAGE)
    assert "photo: https://cdn.example/sale.jpg" in read.text
    assert "Friday sale, Anna! 20% off in your city." in read.text
    plan = ADMIN_COMMANDS.handle_text(admin, "channel:shop_tg")
    assert "Placeholder {first_name} has no value and no default for 1 clients" in plan.text
    assert any(b.text == "🚀 Launch to 4" for b in buttons(plan))
    assert any(b.text == "✅ Now" for b in buttons(plan))

    spread = press(admin, plan, "2 h")
    assert spread.edit and "spread over" in spread.text
    assert any(b.text == "✅ 2 h" for b in buttons(spread))
    ask_time = press(admin, spread, "⏰")
    assert "start time" in ask_time.text
    wrong = ADMIN_COMMANDS.handle_text(admin, "next friday")
    assert wrong.error and "expected a time like" in wrong.text
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(second=0, microsecond=0)
    timed = ADMIN_COMMANDS.handle_text(admin, start.strftime("%Y-%m-%d %H:%M"))
    assert any(b.text == "✅ ⏰ At a time…" for b in buttons(timed))

    tested = press(admin, timed, "🧪")
    assert "Test sent" in tested.text
    (test_row,) = Message.select().where(Message.direction == "out")
    assert test_row.client.messenger_id == "111"
    assert test_row.text.startswith("<b>Friday sale</b>, Anna!")
    assert test_row.attachments == [{"kind": "photo", "url": "https://cdn.example/sale.jpg"}]
    assert Campaign.select().count() == 0  # a test launches nothing

    launched = press(admin, timed, "🚀")
    campaign = Campaign.get()
    assert f"Campaign {campaign.id}" in launched.text and "scheduled" in launched.text
    assert campaign.spread_s == 2 * 3600
    assert campaign.start_at == start.replace(tzinfo=None)
    assert campaign.filter_text == "channel:shop_tg"
    assert CampaignRecipient.select().count() == campaign.total == 4
    again = press(admin, timed, "🚀")  # a double tap
    assert again.error and "already launched" in again.text
    assert Campaign.select().count() == 1


def test_campaigns_list_show_pause_resume_cancel(staff: dict[str, CommandContext]) -> None:
    admin, operator = staff["admin"], staff["operator"]
    ADMIN_COMMANDS.handle_text(admin, "/campaign Sale")
    ADMIN_COMMANDS.handle_text(admin, "Hello {first_name|friend}")
    plan = ADMIN_COMMANDS.handle_text(admin, "tab:all")
    press(admin, plan, "🚀")
    campaign = Campaign.get()
    listing = ADMIN_COMMANDS.handle_text(admin, "/campaigns")
    assert f"#{campaign.id} «Sale» scheduled, 4 clients" in listing.text
    shown = press(admin, listing, f"#{campaign.id}")
    assert "clients 4" in shown.text
    assert shown.live is None  # scheduled: nothing moves until it starts
    Campaign.update(status="sending").where(Campaign.id == campaign.id).execute()
    sending = ADMIN_COMMANDS.handle_text(admin, f"/campaigns {campaign.id}")
    assert sending.live == f"cs:{campaign.id}:v"  # the admin bot refreshes it while it sends
    Campaign.update(status="scheduled").where(Campaign.id == campaign.id).execute()
    paused = press(admin, shown, "⏸")
    assert Campaign.get().status == "paused" and paused.edit
    resumed = press(admin, paused, "▶")
    assert Campaign.get().status == "scheduled"
    asked = press(admin, resumed, "✖")
    assert "Cancel campaign" in asked.text and Campaign.get().status == "scheduled"
    press(admin, asked, "Yes, cancel")
    assert Campaign.get().status == "cancelled"
    # an operator sees their own campaigns only
    assert "No campaigns yet" in ADMIN_COMMANDS.handle_text(operator, "/campaigns").text
    other = ADMIN_COMMANDS.handle_text(operator, f"/campaigns {campaign.id}")
    assert other.error and "another operator's" in other.text


def test_cancel_and_expired_buttons_launch_nothing(staff: dict[str, CommandContext]) -> None:
    admin = staff["admin"]
    ADMIN_COMMANDS.handle_text(admin, "/campaign Sale")
    ADMIN_COMMANDS.handle_text(admin, "Hello")
    plan = ADMIN_COMMANDS.handle_text(admin, "tab:all")
    assert "nothing was sent" in press(admin, plan, "Cancel").text
    assert "already launched, cancelled or has expired" in press(admin, plan, "🚀").text
    assert Campaign.select().count() == 0
    none = ADMIN_COMMANDS.handle_text(admin, "/campaign Empty")
    assert not none.error
    ADMIN_COMMANDS.handle_text(admin, "Hi")
    nobody = ADMIN_COMMANDS.handle_text(admin, "label:nobody-has-this")
    assert nobody.error


def test_without_broadcast_permission_nothing_starts(staff: dict[str, CommandContext]) -> None:
    settings = Settings.model_validate({"permissions": {"operator": ["reply"]}})
    ctx = CommandContext(operator=staff["operator"].operator, settings=settings)
    for command in ("/campaign Sale", "/campaigns"):
        refused = ADMIN_COMMANDS.handle_text(ctx, command)
        assert refused.error and "needs the 'broadcast' permission" in refused.text
    assert "needs the 'broadcast'" in ADMIN_COMMANDS.handle_button(ctx, "cs:1:v").text


def test_variant_b_makes_an_ab_campaign(staff: dict[str, CommandContext]) -> None:
    admin = staff["admin"]
    ADMIN_COMMANDS.handle_text(admin, "/campaign A/B sale")
    ADMIN_COMMANDS.handle_text(admin, "Sale today, {first_name|friend}!")
    plan = ADMIN_COMMANDS.handle_text(admin, "tab:all")
    asked = press(admin, plan, "➕ Variant B")
    assert "variant B" in asked.text
    assert "Variant B: " in ADMIN_COMMANDS.handle_text(admin, "<i>oops").text  # stays open
    both = ADMIN_COMMANDS.handle_text(
        admin, "<b>Last day</b> of the sale\nbutton: Shop | https://s.example"
    )
    assert "A/B: the recipients are split at random" in both.text
    dropped = press(admin, both, "✖ Drop variant B")
    assert "split at random" not in dropped.text
    press(admin, dropped, "➕ Variant B")
    both = ADMIN_COMMANDS.handle_text(admin, "<b>Last day</b> of the sale")
    tested = press(admin, both, "🧪")
    assert len(Message.select().where(Message.direction == "out")) == 2  # one per variant
    assert "Test sent" in tested.text
    press(admin, both, "🚀")
    campaign = Campaign.get()
    assert [v["text"] for v in campaign.variants] == [
        "Sale today, {first_name|friend}!",
        "<b>Last day</b> of the sale",
    ]
    variants = {r.variant for r in CampaignRecipient.select()}
    assert variants <= {0, 1} and CampaignRecipient.select().count() == 4
