"""Logs that help (issue 13 item 7): a message given up on is a WARNING naming the bot, the
client and the platform's code; retries are DEBUG; identical warnings repeated within a
minute are collapsed into one count; ``--log-format json`` writes one parseable object per
line; tokens never reach the output. Sends go through aiogram to the Bot API emulator."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import logs
from emulators.telegram import TelegramEmulator
from store import outbox
from store.inbound import get_or_create_client
from store.models import Bot, Message
from store.setup import sync_bots
from tests.conftest import cli_env, run_cli
from tests.services import REDIS_URL, redis_namespace
from tests.telegram_support import TOKEN, settings_for
from workers.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, Clock, logging.Logger]]:
    """A logger writing through the project's handler pieces (collapse on a fake clock)."""
    stream, clock = io.StringIO(), Clock()
    handler = logs.CollapsingHandler(stream, logs.CollapseRepeats(window_s=60, clock=clock))
    handler.setFormatter(logs.TextFormatter(logs.Redactor(["s3cret-value"])))
    logger = logging.getLogger("switchboard.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield stream, clock, logger
    logger.removeHandler(handler)
    logger.propagate = True


async def test_failures_warn_with_bot_client_and_code_and_retries_are_debug(
    db: peewee.Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with TelegramEmulator(tokens=[TOKEN]) as emu:
        emu.user(TOKEN, 42, first_name="Ann", blocked=True)
        emu.user(TOKEN, 43, first_name="Bob")
        settings = settings_for(emu.base_url).model_copy(
            update={"delivery": settings_for(None).delivery.model_copy(update={"max_attempts": 2})}
        )
        sync_bots([("tg", "telegram")])
        bot = Bot.get(Bot.name == "tg")
        ann = get_or_create_client(bot, "42")[0]
        bob = get_or_create_client(bot, "43")[0]
        engine = Engine(settings)
        try:
            caplog.set_level(logging.DEBUG, logger="switchboard.delivery")
            blocked = outbox.enqueue(ann, "hello")
            assert await asyncio.to_thread(engine.sender.send, blocked.id) == "failed"
            emu.fail_next("sendMessage", status=502, description="Bad Gateway")
            flaky = outbox.enqueue(bob, "hi")
            assert await asyncio.to_thread(engine.sender.send, flaky.id) == "retry"
        finally:
            await asyncio.to_thread(engine.stop)
    records = [r for r in caplog.records if r.name == "switchboard.delivery"]
    (failed,) = [r for r in records if "failed for good" in r.getMessage()]
    assert failed.levelno == logging.WARNING
    assert (failed.bot, failed.client_id, failed.code) == ("tg", ann.id, "403")  # type: ignore[attr-defined]
    assert "bot tg" in failed.getMessage() and f"client {ann.id}" in failed.getMessage()
    (retry,) = [r for r in records if "retry in" in r.getMessage()]
    assert retry.levelno == logging.DEBUG and retry.client_id == bob.id  # type: ignore[attr-defined]
    assert Message.get_by_id(flaky.id).status == "queued"
    assert TOKEN not in caplog.text


def test_identical_warnings_within_a_minute_are_collapsed(
    captured: tuple[io.StringIO, Clock, logging.Logger],
) -> None:
    stream, clock, log = captured
    for _ in range(58):
        log.error("dispatcher tick failed: database is locked")
        clock.now += 0.5
    log.warning("something else")  # a different message is never held back
    log.info("routine")  # INFO and below are never collapsed
    log.info("routine")
    clock.now = 61.0
    log.error("dispatcher tick failed: database is locked")
    lines = stream.getvalue().splitlines()
    locked = [line for line in lines if "database is locked" in line]
    assert len(locked) == 2
    assert locked[1].endswith("database is locked (… 57 more in the last minute)")
    assert sum("routine" in line for line in lines) == 2
    assert sum("something else" in line for line in lines) == 1


def test_a_quiet_key_is_summed_up_when_the_next_record_comes(
    captured: tuple[io.StringIO, Clock, logging.Logger],
) -> None:
    stream, clock, log = captured
    for _ in range(4):
        log.warning("imap shop: connection refused")
    clock.now = 90.0
    log.info("later")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("imap shop: connection refused")
    assert lines[1].endswith("imap shop: connection refused (… 3 more in the last minute)")
    assert lines[2].endswith("later")


def test_one_error_raised_for_many_messages_is_one_traceback_a_minute(
    captured: tuple[io.StringIO, Clock, logging.Logger],
) -> None:
    stream, clock, log = captured
    for message_id in range(1, 31):
        try:
            raise ConnectionResetError("the adapter's session broke")
        except ConnectionResetError:
            log.exception("message %s: unexpected error from %s", message_id, "tg")
        try:
            raise ValueError(f"bad value {message_id}")  # a different error each time
        except ValueError:
            log.exception("message %s: unexpected error from %s", message_id, "tg")
    clock.now = 60.0
    log.info("tick")
    text = stream.getvalue()
    assert text.count("ConnectionResetError: the adapter's session broke") == 1
    assert text.count("ValueError: bad value") == 30
    assert "message 1: unexpected error from tg (… 29 more in the last minute)" in text


def test_counts_still_held_back_are_written_when_the_handler_closes() -> None:
    stream = io.StringIO()
    handler = logs.CollapsingHandler(stream)
    handler.setFormatter(logs.TextFormatter())
    for _ in range(5):
        handler.handle(logging.makeLogRecord({"name": "x", "levelno": 30, "msg": "lost link"}))
    handler.close()  # what logging.shutdown does at exit
    assert stream.getvalue().splitlines()[-1].endswith("lost link (… 4 more in the last minute)")


@given(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
)
def test_secrets_and_tokens_never_reach_the_output(before: str, after: str) -> None:
    redact = logs.Redactor(["s3cret-value"])
    token = "123456789:AAH-abcdefghijklmnopqrstuvwxyz01234"
    text = redact(f"{before}s3cret-value{after} url https://api.telegram.org/bot{token}/getMe")
    assert "s3cret-value" not in text and token not in text
    assert redact("postgresql://app:hunter22@db:5432/sb") == "postgresql://app:***@db:5432/sb"


def test_json_lines_parse_with_extra_fields_and_no_secret() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter(logs.Redactor(["s3cret-value"])))
    log = logging.getLogger("switchboard.test_json")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("bot %s: token s3cret-value", "tg", extra={"bot": "tg", "client_id": 7})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("it broke")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "switchboard.test_json"
    assert first["message"] == "bot tg: token ***"
    assert (first["bot"], first["client_id"]) == ("tg", 7)
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["level"] == "ERROR" and "RuntimeError: boom" in second["exception"]


def test_serve_log_format_json_writes_json_lines(tmp_path: Path) -> None:
    """``switchboard serve --log-format json`` as an operator runs it: every line on stderr
    until Ctrl-C is one JSON object, and the bot's token is in none; a format we do not know
    is a one-line refusal."""
    token = "123456:TEST-token_abcdefghijklmnopqrstuv"
    config = {
        "database_url": f"sqlite:///{tmp_path / 'sb.db'}",
        "port": 0,
        "bots": [
            {
                "name": "tg",
                "kind": "telegram",
                "token": token,
                "mode": "polling",
                "api_base": "http://127.0.0.1:9",
            }
        ],
    }
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    lines = stderr_until(tmp_path, ["serve", "--log-format", "json"], "serving on", signal.SIGINT)
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(entry["message"].startswith("serving on") for entry in logged), lines
    for entry in logged:
        assert {"time", "level", "logger", "message"} <= entry.keys()
    assert not [line for line in lines if token in line or token.split(":")[1] in line]
    # Anything else on stderr is click's own one-line start and stop messages.
    assert all(line.startswith("{") or "Switchboard" in line for line in lines if line), lines
    bad = run_cli("serve", "--log-format", "xml", cwd=tmp_path)
    assert bad.returncode == 2 and "xml" in bad.stderr and "Traceback" not in bad.stderr


def test_worker_log_format_json_reaches_its_child_processes(tmp_path: Path) -> None:
    """``switchboard worker --log-format json``: the parent's and the spawned children's
    lines (``worker process ready``) are JSON objects."""
    with redis_namespace() as namespace:
        config = {
            "database_url": f"sqlite:///{tmp_path / 'sb.db'}",
            "broker_url": REDIS_URL,
            "delivery": {"namespace": namespace},
        }
        (tmp_path / "config.yaml").write_text(json.dumps(config))
        assert run_cli("migrate", cwd=tmp_path).returncode == 0
        worker = ["worker", "--processes", "1", "--threads", "1", "--log-format", "json"]
        lines = stderr_until(tmp_path, worker, "process ready", signal.SIGTERM)
    lines = [line for line in lines if line.strip()]
    logged = [json.loads(line) for line in lines]  # every line: a JSON object
    ready = [e for e in logged if e["message"].startswith("worker process ready")]
    assert ready and ready[0]["logger"] == "switchboard.worker"


def stderr_until(cwd: Path, args: list[str], text: str, stop: signal.Signals) -> list[str]:
    """Run ``switchboard ARGS`` in ``cwd`` until ``text`` appears on its stderr (a cold start
    on a busy machine: up to 90 s), then a second more, then ``stop`` it; its stderr lines."""
    path = cwd / "stderr.log"
    with path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "commands", *args], cwd=cwd, env=cli_env(), stderr=stderr
        )
        try:
            deadline = time.monotonic() + 90
            while text not in path.read_text():
                assert time.monotonic() < deadline, path.read_text()[-2000:]
                time.sleep(0.2)
            time.sleep(1.0)  # what comes right after (the poller's first calls) logs too
        finally:
            process.send_signal(stop)
            process.wait(timeout=60)
    return path.read_text().splitlines()
