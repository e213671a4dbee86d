"""/export (F13, the file comes back as a document), /write_email (F2), /write_whatsapp (F1)."""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any, Final

import click

from commands.admin.clients import parse
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS, split_args
from commands.admin.reply import Reply, ReplyFile
from store.clients.query import select_clients
from store.clock import utcnow
from store.export import write_csv, write_xlsx

DOCUMENT_LIMIT: Final = 50 * 1024 * 1024  # bytes a Telegram bot may upload as a document


@ADMIN_COMMANDS.command(
    "export",
    "/export csv|xlsx [FILTER...]",
    "Download the clients matching FILTER as a CSV or Excel file (F13).",
)
def export_command(ctx: CommandContext, args: str) -> Reply:
    kind, _, rest = args.partition(" ")
    kind = kind.lower()
    if kind not in ("csv", "xlsx"):
        raise CommandError("Say csv or xlsx first, then the filter.")
    flt = parse(ctx, rest.strip())
    query: Any = select_clients(flt, ctx.operator)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    name = f"clients-{stamp}.{kind}"
    zone = ctx.settings.zone
    if kind == "csv":
        text = io.StringIO(newline="")
        count = write_csv(query, text, zone)
        # The BOM lets Excel open the UTF-8 file with Cyrillic names intact.
        content = text.getvalue().encode("utf-8-sig")
    else:
        handle, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(handle)
        try:
            count = write_xlsx(query, path, zone)
            with open(path, "rb") as file:
                content = file.read()
        finally:
            os.unlink(path)
    if len(content) > DOCUMENT_LIMIT:
        raise CommandError(
            f"The file would be {len(content) // 1024 // 1024} MB, over Telegram's 50 MB: "
            "narrow the filter, or use switchboard export on the server."
        )
    where = f" matching {rest.strip()!r}" if rest.strip() else ""
    caption = f"{count} clients{where}."
    return Reply(f"Export: {caption}", files=[ReplyFile(name, content, caption)])


@ADMIN_COMMANDS.command(
    "write_email",
    "/write_email BOT ADDRESS SUBJECT | TEXT",
    "Mail a new or known address from an email bot (F2); the delivery queue sends it.",
)
def write_email_command(ctx: CommandContext, args: str) -> Reply:
    from bots.email.address import InvalidAddress
    from commands.email import start_email

    head, bar, text = args.partition("|")
    words = split_args(head)
    if not bar or len(words) < 3 or not text.strip():
        raise CommandError("Give the bot, the address, the subject, then | and the text.")
    bot, address, subject = words[0], words[1], " ".join(words[2:])
    try:
        started = start_email(
            ctx.settings, bot, address, subject, text.strip(), operator_id=ctx.operator.id
        )
    except click.ClickException as exc:
        raise CommandError(exc.message[:1].upper() + exc.message[1:] + ".") from None
    except InvalidAddress as exc:
        raise CommandError(str(exc)) from None
    new = " (new client)" if started.client_created else ""
    return Reply(
        f"Mail to {started.address} queued: client #{started.client_id}{new}, "
        f"message {started.message_id}."
    )
