"""/export (F13, the file comes back as a document), /write_email (F2), /write_whatsapp (F1).

The writes reuse the services of ``switchboard email write`` / ``whatsapp write``
(``commands.write``): they check, create the client if new and queue the message in the
outbox; the running service's delivery workers send it, and the reply says how that went
(``commands.write_outcome``): sent, failed and why, or queued and why.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any, Final

from commands.admin.args import free_text, head_and_rest, split_args
from commands.admin.clients import parse
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Reply, ReplyFile
from commands.write import Started, WriteRefused
from commands.write_outcome import next_attempt, pickup_s, reason, watch_outcome
from store.clients.query import select_clients
from store.clock import file_stamp, utcnow
from store.export import write_csv, write_xlsx
from store.filters.syntax import split_unquoted

DOCUMENT_LIMIT: Final = 50 * 1024 * 1024  # bytes a Telegram bot may upload as a document
ADMIN_SETTLE_S: Final = 30.0  # how long a /write_* reply waits for a send in progress


@ADMIN_COMMANDS.command(
    "export",
    "/export csv|xlsx [FILTER...]",
    "Download the clients matching FILTER as a CSV or Excel file.",
    capability="export",
)
def export_command(ctx: CommandContext, args: str) -> Reply:
    head, rest = head_and_rest(args, 1)
    kind = head[0].lower() if head else ""
    if kind not in ("csv", "xlsx"):
        raise CommandError("Say csv or xlsx first, then the filter.")
    flt = parse(ctx, rest.strip())
    query: Any = select_clients(flt, ctx.operator)
    zone = ctx.settings.zone
    # The project's local time to the second; the shell saves a second one beside it.
    name = f"clients-{file_stamp(utcnow(), zone)}.{kind}"
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
            "narrow the filter, or use ./switchboard clients export on the server."
        )
    where = f" matching {rest.strip()!r}" if rest.strip() else ""
    caption = f"{count} clients{where}."
    return Reply(f"Export: {caption}", files=[ReplyFile(name, content, caption)])


def _started(ctx: CommandContext, started: Started, what: str) -> Reply:
    """Say what became of the message: the running senders take it from the outbox; the
    reply waits for their outcome (``ADMIN_SETTLE_S`` at most)."""
    pick = pickup_s(ctx.settings)
    outcome = watch_outcome(started.message_id, pickup_s=pick, settle_s=max(pick, ADMIN_SETTLE_S))
    row = outcome.row
    new = " (new client)" if started.client_created else ""
    ids = f"client #{started.client_id}{new}, message {started.message_id}"
    note = f"\nNote: {started.note}." if started.note else ""
    to = f"{what} to {started.recipient}"
    if outcome.state == "sent":
        return Reply(f"{to} sent: {ids}.{note}")
    if outcome.state == "failed":
        return Reply(f"{to} failed{reason(row)} ({ids}).{note}", error=True)
    if outcome.state == "later":
        return Reply(
            f"{to} queued, not sent yet{reason(row)}; it is tried again"
            f"{next_attempt(row, ctx.settings.zone)}: {ids}.{note}"
        )
    if outcome.state == "sending":
        return Reply(
            f"{to} is being sent, no answer from the server after {ADMIN_SETTLE_S:g} s: {ids}; "
            f"/client {started.client_id} shows how it ends.{note}"
        )
    return Reply(
        f"{to} queued, not sent: no delivery worker took it within {pick:g} s (is switchboard "
        f"serve or worker running?); it goes out when one runs: {ids}.{note}"
    )


@ADMIN_COMMANDS.command(
    "write_email",
    "/write_email BOT ADDRESS SUBJECT | TEXT",
    "Mail a new or known address from an email bot; the reply says whether it was sent.",
    capability="reply",
)
def write_email_command(ctx: CommandContext, args: str) -> Reply:
    from commands.email import start_email

    parts = split_unquoted(args, "|", maxsplit=1)  # a quoted subject may hold a |
    words = split_args(parts[0])
    text = free_text(parts[1]) if len(parts) == 2 else ""
    if len(words) < 3 or not text.strip():
        raise CommandError("Give the bot, the address, the subject, then | and the text.")
    bot, address, subject = words[0], words[1], " ".join(words[2:])
    try:
        started = start_email(
            ctx.settings, bot, address, subject, text, operator_id=ctx.operator.id
        )
    except WriteRefused as exc:
        raise CommandError(_sentence(str(exc))) from None
    return _started(ctx, started, "Mail")


@ADMIN_COMMANDS.command(
    "write_whatsapp",
    "/write_whatsapp BOT PHONE TEXT",
    "Write to a new or known phone number from a WhatsApp bot; quote a PHONE with "
    'spaces: "+7 916 123-45-67".',
    capability="reply",
)
def write_whatsapp_command(ctx: CommandContext, args: str) -> Reply:
    from commands.whatsapp import start_whatsapp

    head, rest = head_and_rest(args, 2)
    text = free_text(rest)
    if len(head) < 2 or not text.strip():
        raise CommandError("Give the bot, the phone number (+E.164) and the text.")
    bot, phone = head
    try:
        started = start_whatsapp(ctx.settings, bot, phone, text, operator_id=ctx.operator.id)
    except WriteRefused as exc:
        raise CommandError(_sentence(str(exc))) from None
    return _started(ctx, started, "WhatsApp message")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
