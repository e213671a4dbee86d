"""``switchboard telegram set-webhook / delete-webhook / webhook-info`` against the emulator.

The commands run in-process (click's runner, in a thread so the emulator's event loop keeps
serving); one case runs the real ``switchboard`` process to show the one-line error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import peewee
import pytest
from click.testing import CliRunner, Result

from bots.telegram.secret import stored_secret
from commands.cli import cli
from emulators.telegram import TelegramEmulator
from tests.conftest import run_cli
from tests.telegram_support import SECRET, TOKEN

CONFIG = """\
database_url: "{db}"
bots:
  - {{name: tg, kind: telegram, token: "{token}", api_base: "{api}"{extra}}}
  - {{name: spare, kind: telegram, enabled: false}}
"""
URL = "https://shop.example/webhooks/telegram/tg"


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN]) as emulator:
        yield emulator


def write_config(tmp_path: Path, db_url: str, api: str, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(db=db_url, token=TOKEN, api=api, extra=extra))
    return path


async def invoke(config: Path, *args: str) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, cli, ["--config", str(config), "telegram", *args], catch_exceptions=False
    )


async def test_set_webhook_generates_and_keeps_a_secret(
    db: peewee.Database, db_url: str, tmp_path: Path, emu: TelegramEmulator
) -> None:
    config = write_config(tmp_path, db_url, emu.base_url)
    done = await invoke(config, "set-webhook", "tg", "--url", URL)
    assert done.exit_code == 0, done.output
    assert "generated, kept in the store" in done.output
    hook = emu.bots[TOKEN].webhook
    assert hook is not None and hook.url == URL
    secret = stored_secret("tg")
    assert secret and hook.secret_token == secret and secret not in done.output
    assert hook.allowed_updates == [
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
        "message_reaction",
        "chat_join_request",
    ]
    again = await invoke(config, "set-webhook", "tg", "--url", URL)
    assert again.exit_code == 0 and emu.bots[TOKEN].webhook.secret_token == secret  # type: ignore[union-attr]
    info = await invoke(config, "webhook-info", "tg")
    assert f"url: {URL}" in info.output and "pending updates: 0" in info.output
    deleted = await invoke(config, "delete-webhook", "tg")
    assert deleted.exit_code == 0 and emu.bots[TOKEN].webhook is None


async def test_configured_secret_is_used_and_a_foreign_path_gets_a_note(
    tmp_path: Path, emu: TelegramEmulator
) -> None:
    config = write_config(
        tmp_path, "sqlite:///unused.db", emu.base_url, f", webhook_secret: {SECRET}"
    )
    done = await invoke(config, "set-webhook", "tg", "--url", "https://shop.example/hooks/tg")
    assert done.exit_code == 0 and "(secret: configured)" in done.output
    assert "forwards the URL there" in done.output
    assert emu.bots[TOKEN].webhook.secret_token == SECRET  # type: ignore[union-attr]
    assert not (tmp_path / "unused.db").exists()  # a configured secret needs no store


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody",), "no telegram bot named 'nobody' (telegram bots: tg, spare)"),
        (("spare",), "telegram bot 'spare' is disabled"),
        (("tg", "--url", "ftp://x"), "--url must be an https:// URL, got 'ftp://x'"),
    ],
)
async def test_bad_arguments(
    tmp_path: Path, emu: TelegramEmulator, args: tuple[str, ...], message: str
) -> None:
    config = write_config(tmp_path, "sqlite:///unused.db", emu.base_url)
    full = [*args, "--url", URL] if "--url" not in args else list(args)
    done = await invoke(config, "set-webhook", *full)
    assert done.exit_code == 1 and message in done.output
    assert emu.bots[TOKEN].webhook is None


async def test_telegram_refusal_is_one_line_from_the_real_command(
    tmp_path: Path, emu: TelegramEmulator
) -> None:
    write_config(tmp_path, "sqlite:///unused.db", emu.base_url, f", webhook_secret: {SECRET}")
    emu.fail_next(
        "setWebhook", status=400, description="Bad Request: bad webhook: Failed to resolve host"
    )
    done = await asyncio.to_thread(
        run_cli, "telegram", "set-webhook", "tg", "--url", URL, cwd=tmp_path
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "switchboard: Telegram refused: Bad Request: bad webhook: Failed to resolve host"
    ]
    assert emu.bots[TOKEN].webhook is None
