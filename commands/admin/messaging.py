"""/reply (through the delivery engine's outbox), /comment (internal, never sent) and /cancel.

``send_reply`` is also the entry point of the Telegram front end for a reply to a
notification, with the photo or document the operator attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commands.admin import pending
from commands.admin.args import free_text, head_and_rest
from commands.admin.assignment import client_for
from commands.admin.context import CommandContext, CommandError, Refused
from commands.admin.registry import ADMIN_COMMANDS, refusal
from commands.admin.reply import Reply
from store import outbox
from store.business import connection_of_client
from store.clients.unread import mark_read
from store.clock import utcnow
from store.db import write_transaction
from store.models import Client, Message

MAX_TEXT = 4096  # characters: the smallest limit of our messengers (Telegram)


def _client_and_text(ctx: CommandContext, args: str) -> tuple[Client, str]:
    head, rest = head_and_rest(args, 1)
    if not head:
        raise CommandError("Give the client id and the text.")
    client = client_for(ctx, head[0])
    text = free_text(rest)
    if not text.strip():
        raise CommandError("The text is empty.")
    return client, text


def send_reply(
    ctx: CommandContext,
    client: Client,
    text: str,
    attachments: Sequence[dict[str, Any]] = (),
) -> Message:
    """Queue an operator's message to ``client`` in the outbox and mark the dialog answered.

    ``attachments`` are outbox attachment dicts (``kind``, ``file_id`` or ``url``, ...).
    Raises ``CommandError`` (nothing written) when the client cannot receive it, ``Refused``
    without the ``reply`` capability (answers to notifications come here, not through
    the registry).
    """
    if not ctx.can("reply"):
        raise Refused(refusal("Replying to clients", "reply"))
    if not text.strip() and not attachments:
        raise CommandError("The text is empty.")
    if len(text) > MAX_TEXT:
        raise CommandError(f"The text has {len(text)} characters; at most {MAX_TEXT}.")
    if client.blocked:
        raise CommandError(f"Client {client.id} is blocked: unblock it first.")
    if client.unsubscribed:
        raise CommandError(f"Client {client.id} has blocked the bot; nothing can reach them.")
    connection = connection_of_client(client.bot_id, client.messenger_id)
    if connection is not None and not (connection.enabled and connection.can_reply):
        raise CommandError(
            f"Client {client.id} writes through {connection.owner_name}'s Telegram Business "
            "account, which has the bot turned off or may not reply."
        )
    with write_transaction():
        row = outbox.enqueue(
            client,
            text,
            author_kind="operator",
            operator_id=ctx.operator.id,
            attachments=attachments,
        )
        mark_read([client.id])
    return row


def add_comment(ctx: CommandContext, client: Client, text: str) -> Message:
    """An internal note in the dialog: ``direction="out"``, ``author_kind="comment"``, no
    delivery status, so neither the outbox nor resend-failed ever touches it."""
    if not text.strip():
        raise CommandError("The comment is empty.")
    now = utcnow()
    return Message.create(
        client=client.id,
        bot=client.bot_id,
        direction="out",
        author_kind="comment",
        operator=ctx.operator.id,
        text=text,
        status=None,
        created_at=now,
        updated_at=now,
    )


@ADMIN_COMMANDS.command(
    "reply",
    "/reply ID TEXT",
    "Send TEXT to a client (through the delivery queue).",
    capability="reply",
)
def reply_command(ctx: CommandContext, args: str) -> Reply:
    client, text = _client_and_text(ctx, args)
    row = send_reply(ctx, client, text)
    return Reply(f"Queued for {client.name} (#{client.id}): message {row.id}.")


@ADMIN_COMMANDS.command(
    "comment",
    "/comment ID TEXT",
    "Add an internal comment to a dialog (never sent).",
    capability="reply",
)
def comment_command(ctx: CommandContext, args: str) -> Reply:
    client, text = _client_and_text(ctx, args)
    add_comment(ctx, client, text)
    return Reply(f"Comment added to #{client.id}.")


@ADMIN_COMMANDS.awaiting("reply", capability="reply")
def reply_input(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    client = client_for(ctx, str(data["client"]))
    row = send_reply(ctx, client, text)
    pending.clear(ctx.operator.id)
    return Reply(f"Queued for {client.name} (#{client.id}): message {row.id}.")


@ADMIN_COMMANDS.awaiting("comment", capability="reply")
def comment_input(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    client = client_for(ctx, str(data["client"]))
    add_comment(ctx, client, text)
    pending.clear(ctx.operator.id)
    return Reply(f"Comment added to #{client.id}.")


@ADMIN_COMMANDS.command("cancel", "/cancel", "Drop what the bot is waiting for (a message text).")
def cancel_command(ctx: CommandContext, args: str) -> Reply:
    if pending.clear(ctx.operator.id):
        return Reply("Cancelled.")
    return Reply("Nothing to cancel.")
