"""The admin bot opens the Mini App (issue 17 item 3), against the Bot API emulator: the menu
button set at start, ``/app`` answering a WebApp button, "Open in app" on client cards, and
without ``admin_bot.public_url`` the line saying what to configure."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from pydantic import ValidationError

from commands.admin import ADMIN_COMMANDS
from commands.admin.miniapp import NOT_CONFIGURED, app_url
from commands.admin.render import keyboard
from commands.admin.reply import Button
from config import Settings
from tests import factories
from tests.admin_support import make_staff, run
from tests.test_admin_telegram import ANNA, BORIS, SQLITE_ONLY, running

PUBLIC = "https://shop.example"


@SQLITE_ONLY
async def test_menu_button_app_command_and_card_button(
    db: peewee.Database, db_url: str, tmp_path: Path
) -> None:
    extra = {"public_url": PUBLIC + "/"}  # the trailing slash is dropped
    async with running(db_url, tmp_path, admin_extra=extra) as env:
        [call] = env.emu.calls_of("setChatMenuButton")
        button = call.params["menu_button"]
        assert button["type"] == "web_app" and button["web_app"] == {"url": f"{PUBLIC}/app/"}
        assert env.emu.bots[env.admin.bot.token].menu_buttons[None]["text"] == "Inbox"

        await env.say(BORIS, "/app")
        [answer] = env.sent_to(BORIS)
        assert [b.get("web_app") for b in answer.buttons()] == [{"url": f"{PUBLIC}/app/"}]

        client = factories.client("Kseniya", on=factories.bot("shop_tg"))
        await env.say(ANNA, f"/client {client.id}")
        card = env.sent_to(ANNA)[-1]
        apps = [b["web_app"]["url"] for b in card.buttons() if "web_app" in b]
        assert apps == [f"{PUBLIC}/app/?screen=client&id={client.id}"]


@SQLITE_ONLY
async def test_without_a_public_url_the_bot_says_what_to_configure(
    db: peewee.Database, db_url: str, tmp_path: Path
) -> None:
    async with running(db_url, tmp_path) as env:
        assert env.emu.calls_of("setChatMenuButton") == []
        await env.say(BORIS, "/app")
        [answer] = env.sent_to(BORIS)
        assert answer.text == NOT_CONFIGURED and answer.buttons() == []
        client = factories.client("Kseniya", on=factories.bot("shop_tg"))
        await env.say(ANNA, f"/client {client.id}")
        assert not [b for b in env.sent_to(ANNA)[-1].buttons() if "web_app" in b]


def test_app_command_from_the_shell_and_its_arguments(db: peewee.Database) -> None:
    staff = make_staff()
    assert run(staff["operator"], "/app").text == NOT_CONFIGURED
    assert run(staff["operator"], "/app now").error
    assert "app" in {c.name for c in ADMIN_COMMANDS.visible_to(staff["operator"])}


@pytest.mark.parametrize(
    "url", ["http://shop.example", "ftp://x", "https://", "https://shop.example/?a=1", "shop"]
)
def test_public_url_must_be_https(url: str) -> None:
    with pytest.raises(ValidationError, match="https"):
        Settings.model_validate({"admin_bot": {"token": "1:a", "public_url": url}})


def test_app_links_and_the_web_app_button() -> None:
    settings = Settings.model_validate({"admin_bot": {"token": "1:a", "public_url": PUBLIC}})
    assert app_url(settings) == f"{PUBLIC}/app/"
    assert app_url(settings, "client", id=7) == f"{PUBLIC}/app/?screen=client&id=7"
    assert app_url(Settings()) is None
    markup = keyboard([[Button("Open", web_app=f"{PUBLIC}/app/")]])
    assert markup is not None
    [[rendered]] = markup.inline_keyboard
    assert rendered.web_app is not None and rendered.web_app.url == f"{PUBLIC}/app/"
    assert rendered.callback_data is None
