"""The client list screen in Debian's Chromium at 390×844 (issue 17 item 6): it is the first
screen, with the tabs' counts and the unread badge; infinite scroll adds keyset pages; the
filter bar completes label names and shows a bad term's one line; "select all N matching" then
label-add reaches the store after the confirmation; the dark theme follows Telegram's colours.

``APP_SCREENSHOTS=docs/app`` saves the screenshots docs/app.md shows (list, completion,
confirmation, dark)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import peewee
import pytest
from playwright.async_api import BrowserContext, Page, expect

from store.clock import utcnow
from store.models import Client, Label, LabelMembership, Operator
from tests import factories as f
from tests.admin_support import ADMIN_ID, OPERATOR_ID, make_staff
from tests.app_support import (
    BOT_TOKEN,
    DARK,
    LIGHT,
    app_settings,
    open_app,
    serving_app,
    signed_init_data,
)
from tests.browser import chromium

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
pytestmark = SQLITE_ONLY  # the screen, not the database, is under test (the API tests run both)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async with chromium(tmp_path) as context:
        yield context


def seed() -> None:
    """45 free clients (every fifth unread, three awaiting payment), two of Boris's."""
    boris = Operator.get(Operator.telegram_id == OPERATOR_ID).id
    t0 = utcnow() - dt.timedelta(hours=1)
    for n in range(45):
        f.client(
            f"Клиент {n:02}",
            unread=n % 5 == 0,
            labels=("Ждёт оплаты",) if n < 3 else (),
            lists=("VIP",) if n % 2 else (),
            last_action_at=t0 - dt.timedelta(minutes=n),
        )
    f.client("Boris's own", responsible=boris, pinned=True, last_action_at=t0)
    f.client("Boris's second", responsible=boris, last_action_at=t0)


async def shot(page: Page, name: str) -> None:
    folder = os.environ.get("APP_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / name))


async def cards(page: Page) -> list[str]:
    ids = "(xs) => xs.map((x) => x.dataset.id)"
    return list(await page.locator("#clients li.card").evaluate_all(ids))


def _rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


async def test_list_tabs_scroll_filter_completion_and_select_all_label_add(
    db: peewee.Database, browser: BrowserContext
) -> None:
    make_staff()
    seed()
    async with serving_app(app_settings()) as url:
        page = await open_app(browser, url, signed_init_data(BOT_TOKEN, ADMIN_ID), LIGHT)
        await page.wait_for_selector("#clients li.card")
        tabs = page.locator("#tabs .tab")
        # The counts come beside the first page (GET /clients/tabs): waited for, not raced.
        await expect(tabs).to_have_text(
            [
                "All47",
                "Unanswered9",
                "Mine0",
                "Others2",
                "Free45",
            ]
        )
        first = await cards(page)
        assert len(first) == 30 and first[0] == str(Client.get(Client.pinned == True).id)  # noqa: E712
        assert await page.locator("#clients li.card.unread").count() > 0
        await shot(page, "list.png")
        # Infinite scroll: the next keyset page joins at the bottom, no client twice.
        await page.locator("#sentinel").scroll_into_view_if_needed()
        await expect(page.locator("#clients li.card")).to_have_count(47)
        assert len(set(await cards(page))) == 47
        assert await page.locator("#list-end").inner_text() == "That is all."

        await page.locator('#tabs .tab[data-tab="unanswered"]').click()
        await expect(page.locator("#clients li.card")).to_have_count(9)

        # The filter bar: a key, then a label's name, completed from the store.
        await page.locator('#tabs .tab[data-tab="all"]').click()
        field = page.locator("#filter")
        await field.click()
        await field.type("lab")
        await page.wait_for_selector('#completions li[data-text="label:"]')
        await page.locator('#completions li[data-text="label:"]').click()
        assert await field.input_value() == "label:"
        option = page.locator("#completions li[data-text='label:\"Ждёт оплаты\"']")
        await option.wait_for()
        await shot(page, "list-completion.png")
        await option.click()
        assert await field.input_value() == 'label:"Ждёт оплаты" '
        await expect(page.locator("#clients li.card")).to_have_count(3)
        assert await page.locator("#list-count").inner_text() == "3 clients"

        # A tap opens the client (app-dialog's screen); Back returns to the same filter.
        await page.locator("#clients li.card").first.click()
        await page.locator('.screen[data-screen="client"]').wait_for()
        await page.locator("#back").click()
        await expect(page.locator("#clients li.card")).to_have_count(3)
        assert await field.input_value() == 'label:"Ждёт оплаты"'

        # A bad term: its one line under the bar, nothing listed.
        await field.fill("list:Nope")
        await field.press("Enter")
        error = page.locator("#filter-error")
        await error.wait_for(state="visible")
        assert "no list named 'Nope'" in await error.inner_text()
        assert await page.locator("#clients li.card").count() == 0

        # Select all 23 in VIP, label them after the count and the confirmation.
        await field.fill("list:VIP")
        await field.press("Enter")
        await expect(page.locator("#clients li.card")).to_have_count(22)
        await page.locator("#select-toggle").click()
        await page.locator("#select-all").click()
        assert await page.locator("#chosen").inner_text() == "22 chosen"
        await page.locator("#main-button").click()
        await page.locator('#sheet [data-action="label-add"]').click()
        await page.locator("#action-argument").fill("Позвонить")
        await page.locator("#action-next").click()
        question = page.locator("#confirm-question")
        await question.wait_for()
        assert "label-add Позвонить — 22 clients" in await question.inner_text()
        assert not Label.select().where(Label.name == "Позвонить").exists()  # only asked
        await shot(page, "list-confirm.png")
        await page.locator("#confirm-yes").click()
        await page.wait_for_selector("#toast:not([hidden])")
        assert "Done: label-add on 22 clients" in await page.locator("#toast").inner_text()
        label = Label.get(Label.name == "Позвонить")
        vip = LabelMembership.select().where(LabelMembership.label == label)
        assert {m.client.name for m in vip} == {f"Клиент {n:02}" for n in range(1, 45, 2)}
        await page.close()


async def test_dark_theme_and_an_operators_scope(
    db: peewee.Database, browser: BrowserContext
) -> None:
    make_staff()
    seed()
    async with serving_app(app_settings()) as url:
        page = await open_app(browser, url, signed_init_data(BOT_TOKEN, OPERATOR_ID), DARK)
        await page.wait_for_selector("#clients li.card")
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        name = await page.locator("#clients li.card .name").first.evaluate(
            "(x) => getComputedStyle(x).color"
        )
        assert (background, name) == (_rgb(DARK["bg_color"]), _rgb(DARK["text_color"]))
        active = page.locator("#tabs .tab.active")
        assert await active.evaluate("(x) => getComputedStyle(x).color") == _rgb(DARK["link_color"])
        await page.locator('#tabs .tab[data-tab="mine"]').click()
        await expect(page.locator("#clients li.card")).to_have_count(2)
        await shot(page, "list-dark.png")
        # Boris may not delete: the action is not offered.
        await page.locator("#select-toggle").click()
        await page.locator("#clients li.card").first.click()
        assert await page.locator("#chosen").inner_text() == "1 chosen"
        await page.locator("#main-button").click()
        await page.locator('#sheet [data-action="pin"]').wait_for()
        assert await page.locator('#sheet [data-action="delete"]').count() == 0
        await page.close()
