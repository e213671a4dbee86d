"""Writing to a client by address: what F1 (WhatsApp) and F2 (email) share.

Both are: check the bot and the recipient — a refusal is one line (``WriteRefused``), raised
before anything is written; then, in one transaction, create the client if new and queue the
message in the durable outbox (``store.outbox``). The admin bot leaves the row to the running
service's workers; ``switchboard ... write`` delivers it at once from its own process through
the delivery engine's ``Sender`` (rate limits, error classes, retries exactly as the workers
apply them; a row a running worker took first is left to it). Both then say what happened
(``commands.write_outcome``): sent, failed and why, or queued and why. A transient failure
leaves the row queued for the workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from commands.write_outcome import (
    Outcome,
    next_attempt,
    pickup_s,
    reason,
    settled,
    watch_outcome,
)
from config import EmailBotSettings, Settings, TelegramBotSettings, WhatsAppBotSettings
from store import outbox
from store.db import write_transaction
from store.errors import NotFound
from store.inbound import get_or_create_client
from store.models import Bot, Client, Message

AnyBot = TypeVar("AnyBot", TelegramBotSettings, WhatsAppBotSettings, EmailBotSettings)
KIND_OF: dict[type, str] = {
    TelegramBotSettings: "telegram",
    WhatsAppBotSettings: "whatsapp",
    EmailBotSettings: "email",
}


class WriteRefused(ValueError):
    """Why a write was refused, in one line (unknown bot, bad address or number, no text)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """What goes into the outbox row, decided once the client is known.

    ``note``: one line for the operator about what is sent instead of what they asked (a
    template outside WhatsApp's 24-hour window), empty when nothing to say.
    """

    text: str
    subject: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Started:
    client_id: int
    client_created: bool
    message_id: int  # the outbox row (Message.id)
    recipient: str  # as stored: E.164 number, lowercased address
    note: str = ""


def configured_bot(settings: Settings, name: str, kind: type[AnyBot]) -> AnyBot:
    """The configured, enabled bot ``name`` of settings class ``kind``, or ``WriteRefused``
    listing the bots of that kind."""
    label = KIND_OF[kind]
    bots = [b for b in settings.bots if isinstance(b, kind)]
    for bot in bots:
        if bot.name == name:
            if not bot.enabled:
                raise WriteRefused(f"{label} bot {name!r} is disabled")
            return bot
    known = ", ".join(b.name for b in bots) or "none configured"
    raise WriteRefused(f"no {label} bot named {name!r} ({label} bots: {known})")


def queue_write(
    bot_name: str,
    recipient: str,
    compose: Callable[[Client, bool], Draft],
    *,
    operator_id: int | None = None,
) -> Started:
    """Create the client ``recipient`` of ``bot_name`` if new and queue what ``compose(client,
    created)`` decides, in one transaction. ``recipient`` must already be normalised."""
    bot = Bot.get_or_none(Bot.name == bot_name)
    if bot is None:
        raise NotFound(f"unknown bot {bot_name!r}")
    with write_transaction():
        client, created = get_or_create_client(bot, recipient)
        draft = compose(client, created)
        row = outbox.enqueue(
            client,
            draft.text,
            bot_id=bot.id,
            author_kind="operator",
            operator_id=operator_id,
            subject=draft.subject,
            extra=draft.extra,
        )
    return Started(client.id, created, row.id, recipient, draft.note)


def deliver_now(settings: Settings, message_id: int) -> Message:
    """Send outbox row ``message_id`` from this process; returns the row as it then stands."""
    return send_here(settings, message_id).row


def send_here(settings: Settings, message_id: int) -> Outcome:
    """Send outbox row ``message_id`` from this process, or, when a running sender claimed it
    first, wait for that sender's outcome (up to ``delivery.stale_after_s``)."""
    from workers.engine import Engine

    engine = Engine(settings)
    try:
        result = engine.sender.send(message_id)
    finally:
        engine.sender.close()
    if result == "skipped":  # a running sender (serve, worker) has it: wait for its answer
        pick = pickup_s(settings)
        return watch_outcome(
            message_id, pickup_s=pick, settle_s=max(pick, settings.delivery.stale_after_s)
        )
    row = Message.get_by_id(message_id)
    return Outcome(settled(row) or "unclaimed", row)


def run_cli_write(
    settings: Settings,
    check: Callable[[], object],
    start: Callable[[], Started],
    *,
    what: str,
    id_label: str,
) -> None:
    """The CLI's half: ``check()`` the input (before the store is opened, so a typo needs no
    database), ``start()`` (queue), deliver at once, print one line per outcome.

    ``what`` names the message (``mail``, ``message``); ``id_label`` the platform id
    (``Message-ID``, ``wamid``). A refusal or a failure exits non-zero with one line;
    queued-for-retry exits zero.
    """
    from store.runtime import open_store

    try:
        check()
        open_store(settings)
        started = start()
    except WriteRefused as exc:
        raise click.ClickException(str(exc)) from None
    outcome = send_here(settings, started.message_id)
    row = outcome.row
    # The platform may have filed the person under another id (WhatsApp's wa_id): the row
    # then belongs to that client (``store.inbound.rekey_client``).
    client = Client.get_by_id(row.client_id)
    new = started.client_created and client.id == started.client_id
    who = f"client {client.id}" + (" (new)" if new else "")
    if client.messenger_id != started.recipient:
        who += f", known to the platform as {client.messenger_id}"
    ids = f"message {row.id}, {who}"
    if started.note:
        click.echo(started.note)
    if outcome.state == "sent":
        click.echo(f"sent to {started.recipient}: {ids}, {id_label} {row.platform_message_id}")
    elif outcome.state == "failed":
        raise click.ClickException(
            f"{what} to {started.recipient} failed: {row.error_text} ({ids})"
        )
    elif outcome.state == "sending":
        click.echo(
            f"being sent to {started.recipient} by a running sender (serve or worker), no "
            f"answer yet from the platform: {ids}"
        )
    else:
        click.echo(
            f"queued for {started.recipient}, not sent yet{reason(row)}; the outbox workers "
            f"(serve or worker) will send it{next_attempt(row, settings.zone)}: {ids}"
        )
