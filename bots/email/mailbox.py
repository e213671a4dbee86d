"""The store side of IMAP ingest: where each mailbox stands, and filing one fetched mail.

Exactly once: a mail's message row (or its bounce mark) and the mailbox's ``last_uid`` are
written in one transaction, and ``record_inbound`` is idempotent on the Message-ID dedup key.
A crash between fetching and committing fetches the mail again; a UIDVALIDITY change (the
server renumbered the folder) fetches everything again and the dedup keys drop what is stored.
Blocking functions: call them through ``bots.webhook.store_call`` from async code.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Literal

from bots.email.parse import Bounce, ParsedMail, parse_mail
from bots.unusable import Unusable, record_unusable
from store.campaigns.outcomes import follow
from store.clock import utcnow
from store.db import write_transaction
from store.errors import NotFound, first_line, is_unavailable
from store.inbound import record_inbound
from store.models import Bot, MailboxState, Message

log = logging.getLogger("switchboard.email")

Outcome = Literal[
    "stored", "duplicate", "auto_reply", "bounce", "bounce_unmatched", "no_sender", "failed"
]


def _bot(bot_name: str) -> Bot:
    bot = Bot.get_or_none(Bot.name == bot_name)
    if bot is None:
        raise NotFound(f"unknown bot {bot_name!r}")
    return bot


@dataclass(frozen=True, slots=True)
class Known:
    """What the store knows of a folder before a session: ``last_uid`` to resume after (None:
    the folder is new to the store, or the server renumbered it); ``renumbered_on``: the
    UIDVALIDITY changed, and the old numbering was last read on this day (UTC)."""

    last_uid: int | None
    renumbered_on: dt.date | None = None


def known_position(bot_name: str, folder: str, uidvalidity: int | None) -> Known:
    state = MailboxState.get_or_none(MailboxState.bot == _bot(bot_name))
    if state is None or state.folder != folder:
        return Known(None)
    if state.uidvalidity != uidvalidity:
        return Known(None, state.updated_at.date())
    return Known(int(state.last_uid))


def begin_session(
    bot_name: str, folder: str, uidvalidity: int | None, *, start_after: int = 0
) -> int:
    """The last UID already stored for ``bot_name``'s ``folder`` under ``uidvalidity``.

    A new mailbox, another folder or a changed UIDVALIDITY is recorded as standing at
    ``start_after`` (``bots.email.ingest`` computes it from ``initial_sync``; mails already
    stored are kept from being stored twice by their dedup keys).
    """
    bot = _bot(bot_name)
    now = utcnow()
    with write_transaction():
        state = MailboxState.get_or_none(MailboxState.bot == bot)
        if state is None:
            MailboxState.create(
                bot=bot,
                folder=folder,
                uidvalidity=uidvalidity,
                last_uid=start_after,
                updated_at=now,
            )
            return start_after
        if state.folder == folder and state.uidvalidity == uidvalidity:
            return int(state.last_uid)
        log.warning(
            "mailbox %s: %s UIDVALIDITY %s -> %s (folder was %s); reading it again after UID %s "
            "(duplicates dropped)",
            bot_name,
            folder,
            state.uidvalidity,
            uidvalidity,
            state.folder,
            start_after,
        )
        MailboxState.update(
            folder=folder, uidvalidity=uidvalidity, last_uid=start_after, updated_at=now
        ).where(MailboxState.id == state.id).execute()
        return start_after


def mailbox_position(bot_name: str) -> tuple[str, int | None, int] | None:
    """``(folder, uidvalidity, last_uid)`` of ``bot_name``'s mailbox, None before its first run."""
    state = MailboxState.get_or_none(MailboxState.bot == _bot(bot_name))
    if state is None:
        return None
    return state.folder, state.uidvalidity, int(state.last_uid)


def _advance(bot: Bot, uid: int) -> None:
    (
        MailboxState.update(last_uid=uid, updated_at=utcnow())
        .where((MailboxState.bot == bot) & (MailboxState.last_uid < uid))
        .execute()
    )


def mark_bounced(bot: Bot, bounce: Bounce) -> bool:
    """Mark our outbound message that ``bounce`` reports as failed; False when it is not ours."""
    if not bounce.original_message_id:
        return False
    ours = (
        (Message.bot == bot)
        & (Message.direction == "out")
        & (Message.platform_message_id == bounce.original_message_id)
    )
    changed = (
        Message.update(
            status="failed",
            error_code="bounced",
            error_text=bounce.reason,
            updated_at=utcnow(),
        )
        .where(ours)
        .execute()
    )
    if changed:
        follow(ours)  # a campaign's recipient of the bounced mail failed too
    return changed > 0


def file_mail(bot_name: str, uid: int, parsed: ParsedMail) -> Outcome:
    """Store one parsed mail fetched as ``uid`` and move the mailbox past it, in one transaction."""
    bot = _bot(bot_name)
    outcome: Outcome
    with write_transaction():
        if parsed.kind == "bounce" and parsed.bounce is not None:
            matched = parsed.bounce.failed and mark_bounced(bot, parsed.bounce)
            outcome = "bounce" if matched else "bounce_unmatched"
        elif parsed.kind == "auto_reply":
            outcome = "auto_reply"
        else:
            event = parsed.inbound(bot_name, uid=uid)
            if event is None:
                outcome = "no_sender"
            else:
                outcome = "duplicate" if record_inbound(event).duplicate else "stored"
        _advance(bot, uid)
    return outcome


def ingest_raw(bot_name: str, uid: int, raw: bytes, *, truncated_at: int | None = None) -> Outcome:
    """Parse and file one fetched mail. A database that is down raises (the mailbox loop retries
    later from the same UID); anything else this one mail causes is logged and the mail skipped,
    so one broken mail never stops the mailbox. ``truncated_at``: only that many bytes of the
    mail were fetched (kept in ``extra["truncated_at_bytes"]``)."""
    try:
        parsed = parse_mail(raw)
        if truncated_at is not None:
            parsed = replace(parsed, extra={**parsed.extra, "truncated_at_bytes": truncated_at})
        outcome = file_mail(bot_name, uid, parsed)
    except NotFound:
        raise
    except Exception as exc:
        if is_unavailable(exc):  # down or read-only: the loop retries from this UID later
            raise
        log.exception("mailbox %s: UID %s could not be stored; skipping it", bot_name, uid)
        with write_transaction():
            _advance(_bot(bot_name), uid)
        _keep_unusable(bot_name, uid, "mail.failed", f"could not be stored: {first_line(exc)}", raw)
        return "failed"
    if outcome == "no_sender":
        _keep_unusable(bot_name, uid, "mail.no_sender", "no usable From/Sender/Reply-To", raw)
    if outcome not in ("stored", "duplicate"):
        log.info(
            "mailbox %s: UID %s %s from %s (%s)",
            bot_name,
            uid,
            outcome.replace("_", " "),
            parsed.sender,
            parsed.bounce.reason if parsed.bounce else parsed.subject,
        )
    return outcome


def _keep_unusable(bot_name: str, uid: int, reason: str, detail: str, raw: bytes) -> None:
    """A mail no client can be filed for: logged, counted and kept (``bots.unusable``)."""
    text = raw.decode("utf-8", "replace")
    record_unusable(bot_name, "email", [Unusable(reason, f"UID {uid}: {detail}", text)])


def skip_uid(bot_name: str, uid: int) -> None:
    """Move past ``uid`` without storing anything (it vanished before it could be fetched)."""
    with write_transaction():
        _advance(_bot(bot_name), uid)
