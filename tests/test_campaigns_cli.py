"""``switchboard campaigns`` from the shell: the plan (recipients per bot, skipped, missing
placeholders, start and finish), the confirm rule, one-line errors, list/show/pause/resume/
cancel — on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store.models import Bot, Campaign, CampaignRecipient, Message
from store.setup import sync_bots
from tests import factories as f
from tests.conftest import migrated_store, run_cli


@pytest.fixture
def shop(tmp_path: Path, db_url: str) -> str:
    return _shop(tmp_path, db_url)


@pytest.fixture
def sqlite_shop(tmp_path: Path) -> str:
    """The shop on SQLite only: for checks that fail before the store is touched."""
    return _shop(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")


def _shop(tmp_path: Path, db_url: str) -> str:
    config = {
        "database_url": db_url,
        "timezone": "Europe/Moscow",
        "bots": [{"name": "tg", "kind": "telegram", "token": "1:abc", "messages_per_second": 10}],
        "campaigns": {"quiet_hours": "22:00-09:00"},
        "operators": [{"telegram_id": 111, "name": "Ольга Owner", "role": "admin"}],
    }
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    with migrated_store(db_url):
        sync_bots([("tg", "telegram")])
        tg = Bot.get(Bot.name == "tg")
        f.client("Анна Петрова", "100", on=tg, lists=("VIP",))
        f.client("", "101", on=tg, lists=("VIP",))
        f.client("Борис", "102", on=tg, lists=("VIP",), unsubscribed=True)
        f.client("Вера", "103", on=tg)
        f.client("Ольга", "111", on=tg)  # the owner's own chat with the bot
    return db_url


def test_the_plan_then_a_scheduled_campaign_then_its_report(tmp_path: Path, shop: str) -> None:
    args = ("campaigns", "create", "list:VIP", "--name", "Xmas", "--text", "Hi {first_name}!")
    dry = run_cli(*args, "--spread", "2h", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == (  # the owner's chat is not in the VIP list
        "Campaign «Xmas» plan: 2 recipients of 3 matching; 1 skipped (1 unsubscribed, 0 blocked)."
    )
    assert "Placeholder {first_name} has no value and no default for 1 clients" in dry.stdout
    assert "spread over 2 h; finishes about" in dry.stdout
    assert "Quiet hours 22:00-09:00" in dry.stdout
    refused = run_cli(*args, cwd=tmp_path)  # no terminal, no --yes
    assert refused.returncode == 1 and "add --yes" in refused.stderr
    with migrated_store(shop):
        assert Campaign.select().count() == 0
    done = run_cli(*args, "--at", "2030-12-24 10:00", "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Campaign 1 scheduled: 3 clients frozen." in done.stdout
    with migrated_store(shop):
        campaign = Campaign.get()
        assert campaign.start_at is not None
        assert campaign.start_at.isoformat() == "2030-12-24T07:00:00"  # 10:00 in Moscow
        assert CampaignRecipient.select().count() == 3
    show = run_cli("campaigns", "show", "1", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "start 2030-12-24 10:00 MSK" in show.stdout
    assert "clients 3: sent 0, failed 0, uncertain 0, skipped 1, remaining 2" in show.stdout
    assert "Telegram and email report" not in show.stdout  # nothing sent yet
    paused = run_cli("campaigns", "pause", "1", cwd=tmp_path)
    assert "«Xmas» paused" in paused.stdout
    again = run_cli("campaigns", "pause", "1", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == "switchboard: campaign 1 is paused: it cannot be paused"
    listed = run_cli("campaigns", "list", cwd=tmp_path)
    assert listed.stdout.splitlines()[1].split("\t")[:4] == ["1", "Xmas", "paused", "3"]


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (("--text", "<b>bold"), "switchboard: text: <b> opened at 0 is never closed"),
        (("--text", "a", "--at", "soon"), "--at 'soon': expected a time like 2026-12-24 10:00"),
        (("--text", "a", "--spread", "8"), "--spread '8': expected a duration like 8h"),
        (("--text", "a", "--at", "2001-01-01 10:00"), "--at '2001-01-01 10:00' is in the past"),
        (("--text", "a", "--button", "no-url"), "--button: expected TEXT|URL"),
        (("--variant", "a") * 3, "a campaign has 1 to 2 variants, got 3"),
        (("--text", "a", "--live"), "--live needs a scheduled start"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, sqlite_shop: str, extra: tuple[str, ...], error: str
) -> None:
    result = run_cli("campaigns", "create", "--name", "X", *extra, "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and error in result.stderr
    with migrated_store(sqlite_shop):
        assert Campaign.select().count() == 0


def test_test_to_sends_the_rendered_message_to_the_operator_only(
    tmp_path: Path, sqlite_shop: str
) -> None:
    args = ("campaigns", "create", "list:VIP", "--name", "X", "--text", "Hi <b>{first_name}</b>")
    sent = run_cli(*args, "--button", "Shop|https://shop.example", "--test-to", "111", cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("Test sent to operator 111: outbox rows [")
    with migrated_store(sqlite_shop):
        row = Message.get(Message.direction == "out")
        assert (row.client.messenger_id, row.text, row.author_kind) == (
            "111",
            "Hi <b>Ольга</b>",
            "operator",
        )
        assert row.extra["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://shop.example"
        assert Campaign.select().count() == 0 and Message.select().count() == 1
    nobody = run_cli(*args, "--test-to", "999", cwd=tmp_path)
    assert nobody.returncode == 1
    assert nobody.stderr.strip() == "switchboard: --test-to 999: no operator with this Telegram id"
