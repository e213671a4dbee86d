"""``broadcast`` and ``resend-failed`` from the shell: the plan first, then --dry-run, --yes, a
terminal's confirmation, or a one-line refusal without a terminal — on both databases."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from store import outbox
from store.models import Bot, Client, Job, Message
from store.setup import sync_bots
from tests import factories as f
from tests.conftest import migrated_store, run_cli
from tests.terminal import switchboard_on_a_terminal

RESEND_HEAD = "Resend of failed messages plan: 2 recipients of 2 matching."
PLAN_HEAD = "Broadcast plan: 2 recipients of 4 matching; 2 skipped (1 unsubscribed, 1 blocked)."


@pytest.fixture
def shop(tmp_path: Path, db_url: str) -> str:
    """A configured Telegram bot with four clients (one unsubscribed, one blocked), two of
    whose last message failed; returns the database URL."""
    config = {
        "database_url": db_url,
        "bots": [{"name": "tg", "kind": "telegram", "token": "1:abc", "messages_per_second": 10}],
    }
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    with migrated_store(db_url):
        sync_bots([("tg", "telegram")])
        tg = Bot.get(Bot.name == "tg")
        clients = [
            f.client("a", "100", on=tg),
            f.client("b", "101", on=tg),
            f.client("c", "102", on=tg, unsubscribed=True),
            f.client("d", "103", on=tg, blocked=True),
        ]
        for client in clients[:2]:
            row = outbox.enqueue(client, "your order")
            outbox.claim(row.id)
            outbox.mark_failed(row.id, "500", "boom")
    return db_url


def _jobs_and_rows(db_url: str) -> tuple[int, int]:
    with migrated_store(db_url):
        return Job.select().count(), Message.select().where(Message.job.is_null(False)).count()


def test_without_a_terminal_and_without_yes_nothing_is_sent(tmp_path: Path, shop: str) -> None:
    for args, head, verb in (
        (("broadcast", "--text", "Sale"), PLAN_HEAD, "send"),
        (
            ("resend-failed",),
            "Resend of failed messages plan: 2 recipients of 2 matching.",
            "resend",
        ),
    ):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 1, result
        assert result.stdout.splitlines()[0] == head
        assert result.stderr.strip().splitlines() == [
            f"switchboard: not a terminal, so no one can confirm: add --yes to {verb} "
            "(or --dry-run to see the plan only)"
        ]
    assert _jobs_and_rows(shop) == (0, 0)


def test_jobs_are_listed_in_the_project_zone(tmp_path: Path, shop: str) -> None:
    config = json.loads((tmp_path / "config.yaml").read_text())
    (tmp_path / "config.yaml").write_text(json.dumps(config | {"timezone": "Asia/Almaty"}))
    before = dt.datetime.now(dt.UTC)
    assert run_cli("broadcast", "--text", "Sale", "--yes", cwd=tmp_path).returncode == 0
    shown = json.loads(run_cli("jobs", "show", "1", "--json", cwd=tmp_path).stdout)
    created = dt.datetime.fromisoformat(shown["created_at"])
    # ISO 8601 with the project's offset, the instant the job was made.
    assert created.utcoffset() == dt.timedelta(hours=5), shown
    assert before - dt.timedelta(seconds=1) <= created <= dt.datetime.now(dt.UTC)
    header, row = run_cli("jobs", "list", cwd=tmp_path).stdout.splitlines()
    assert header == (
        "id\tkind\tstate\tprogress\ttotal\tsent\tfailed\tskipped\tcancelled\tremaining\tstarted"
    )
    local = created.strftime("%Y-%m-%d %H:%M")
    assert row.startswith("1\tbroadcast\t") and row.endswith(f"\t{local} +05:00"), row
    plain = run_cli("jobs", "show", "1", cwd=tmp_path).stdout
    assert f", started {local} +05:00: total 4" in plain, plain


def test_dry_run_prints_the_plan_and_sends_nothing(tmp_path: Path, shop: str) -> None:
    result = run_cli("broadcast", "--text", "Sale", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        PLAN_HEAD,
        "• tg (telegram): 2 recipients, 2 skipped; limit 10 msg/s; about under 1 s",
        "Estimated time to finish: about under 1 s.",
        "Dry run: nothing was sent.",
    ]
    resend = run_cli("resend-failed", "--interval", "3", "--dry-run", "--yes", cwd=tmp_path)
    assert resend.returncode == 0, resend.stderr
    assert resend.stdout.splitlines() == [
        "Resend of failed messages plan: 2 recipients of 2 matching.",
        "• tg (telegram): 2 recipients; limit 10 msg/s, one every 3 s; about 6 s",
        "Estimated time to finish: about 6 s.",
        "Dry run: nothing was sent.",
    ]
    assert _jobs_and_rows(shop) == (0, 0)


def test_yes_starts_the_jobs(tmp_path: Path, shop: str) -> None:
    resent = run_cli("resend-failed", "--yes", cwd=tmp_path)
    assert resent.returncode == 0, resent.stderr
    assert resent.stdout.startswith(RESEND_HEAD)
    assert "Started job 1 (2 recipients)" in resent.stdout
    made = run_cli("broadcast", "--text", "Sale", "--yes", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(PLAN_HEAD)
    assert "Started job 2 (2 recipients)" in made.stdout
    with migrated_store(shop):
        rows = Message.select(Message.job, Message.text, Client.messenger_id).join(Client)
        got = sorted((r.job_id, r.text, r.client.messenger_id) for r in rows.where(Message.job > 0))
        assert got == [
            (1, "your order", "100"),
            (1, "your order", "101"),
            (2, "Sale", "100"),
            (2, "Sale", "101"),
        ]


def test_a_terminal_is_asked_to_confirm(tmp_path: Path, shop: str) -> None:
    code, out = switchboard_on_a_terminal(tmp_path, ["broadcast", "--text", "Sale"], "n")
    assert code == 1 and PLAN_HEAD in out, out
    assert "Send to 2 recipients? [y/N]" in out and "cancelled: nothing was sent" in out
    assert _jobs_and_rows(shop) == (0, 0)
    code, out = switchboard_on_a_terminal(tmp_path, ["broadcast", "--text", "Sale"], "y")
    assert code == 0 and "Started job 1 (2 recipients)" in out, out
    assert _jobs_and_rows(shop) == (1, 2)


def test_purge_and_bulk_follow_the_same_rule(tmp_path: Path, shop: str) -> None:
    refused = run_cli("clients", "purge-unsubscribed", cwd=tmp_path)
    assert refused.returncode == 1 and "add --yes to apply purge-unsubscribed" in refused.stderr
    dry = run_cli("clients", "bulk", "label-add", "hot", "--dry-run", cwd=tmp_path)
    assert dry.stdout.splitlines() == [
        "label-add hot: 4 client(s) would be affected (tg 4).",
        "Dry run: nothing was changed.",
    ]
    code, out = switchboard_on_a_terminal(tmp_path, ["clients", "purge-unsubscribed"], "y")
    assert code == 0 and "purge-unsubscribed: apply to 2 client(s)? [y/N]" in out, out
    with migrated_store(shop):
        assert sorted(c.messenger_id for c in Client.select()) == ["100", "101"]
