"""``switchboard whatsapp write``: write to a phone number on WhatsApp (F1), shared with the
admin bot.

``start_whatsapp`` checks the bot and the number (normalised to E.164, ``bots.whatsapp.phone``),
creates the client if new and queues the message in the durable outbox in one transaction
(``commands.write``). What it queues depends on WhatsApp's customer-service window: free text
only reaches a person who wrote to the number within the last 24 hours; anyone else — every
new client — can only be sent an approved template.

Which template: the bot's ``first_contact_template`` in config.yaml (name, language, and
``text_parameter``: whether its body has one ``{{1}}`` that receives the operator's text),
default Meta's ``hello_world``/``en_US`` that every account has. It is configured per bot and
not chosen per call (no ``--template NAME --lang CODE``) because templates are approved per
WhatsApp Business account, i.e. per bot, once; the operators writing from the admin bot know
texts, not template names; and one setting keeps the CLI and the admin bot sending the same
thing. A template without ``text_parameter`` goes out as it is; the operator is told their text
was not delivered (it is kept in the row's ``extra["operator_text"]``) and can write again once
the client answers, which opens the window.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

from bots.whatsapp.phone import InvalidPhone, normalise_phone
from commands.cli import CliContext, cli, pass_context
from commands.write import Draft, Started, WriteRefused, configured_bot, queue_write, run_cli_write
from config import Settings, WhatsAppBotSettings
from store.clock import shown, utcnow
from store.inbound import last_inbound_at
from store.models import Client

__all__ = ["Started", "WriteRefused", "check_whatsapp", "start_whatsapp", "window_open"]

WINDOW = dt.timedelta(hours=24)
# The text is sent a moment after this check (queue, rate limits): a window about to close
# would refuse it (131047), so the last minutes count as closed and a template goes instead.
WINDOW_MARGIN = dt.timedelta(minutes=10)
# Meta refuses template parameters with line breaks, tabs or more than 4 spaces in a row.
_PARAM_BREAKS = re.compile(r" *[\r\n\t][\r\n\t ]*| {5,}")


def window_open(last_inbound: dt.datetime | None, now: dt.datetime) -> bool:
    """True while free text may be sent: the client wrote less than 24 h (minus the margin) ago."""
    return last_inbound is not None and now - last_inbound < WINDOW - WINDOW_MARGIN


def check_whatsapp(
    settings: Settings, bot_name: str, phone: str
) -> tuple[WhatsAppBotSettings, str]:
    """The WhatsApp bot ``bot_name`` and ``phone`` in E.164, or ``WriteRefused`` (one line)."""
    bot = configured_bot(settings, bot_name, WhatsAppBotSettings)
    try:
        return bot, normalise_phone(phone, bot.default_region)
    except InvalidPhone as exc:
        raise WriteRefused(str(exc)) from None


def template_param(text: str) -> str:
    """``text`` as a template body parameter: line breaks and tabs become spaces (Meta refuses
    them there) and long runs of spaces shrink to one."""
    return _PARAM_BREAKS.sub(" ", text).strip()


def _draft(
    bot: WhatsAppBotSettings,
    text: str,
    last: dt.datetime | None,
    now: dt.datetime,
    zone: dt.tzinfo = dt.UTC,
) -> Draft:
    """``text``, or the bot's template when the window is closed; the note shows ``last`` in
    the project's ``zone``."""
    if window_open(last, now):
        return Draft(text)
    template = bot.first_contact_template
    closed = (
        "the client has never written to this number"
        if last is None
        else f"the client last wrote {shown(last, zone)}, more than 24 hours ago"
    )
    spec: dict[str, Any] = {"name": template.name, "language": template.language}
    if template.text_parameter:
        param = template_param(text)
        spec["components"] = [{"type": "body", "parameters": [{"type": "text", "text": param}]}]
        note = (
            f"{closed}: sending template {template.name} ({template.language}) with the text "
            "as its parameter"
        )
        return Draft(param, extra={"template": spec}, note=note)
    spec["components"] = []
    note = (
        f"{closed}: sending template {template.name} ({template.language}) instead; it carries "
        "no text, so your text was NOT sent — write again once the client answers"
    )
    return Draft("", extra={"template": spec, "operator_text": text}, note=note)


def template_draft(bot: WhatsAppBotSettings, text: str) -> Draft:
    """What a client whose 24-hour window is closed gets instead of ``text``: the bot's
    ``first_contact_template``, with ``text`` as its parameter when it takes one."""
    return _draft(bot, text, None, utcnow())


def start_whatsapp(
    settings: Settings,
    bot_name: str,
    phone: str,
    text: str,
    *,
    operator_id: int | None = None,
    now: dt.datetime | None = None,
) -> Started:
    """Queue ``text`` to ``phone`` from WhatsApp bot ``bot_name``; the client is created if
    new. Outside the 24-hour window the bot's ``first_contact_template`` is queued instead
    (``Started.note`` says so, for the operator).

    Raises ``WriteRefused`` (one line) for an unknown or disabled bot, a bad number or an
    empty text, before anything is written. ``now``: naive UTC (tests). Blocking store code.
    """
    bot, number = check_whatsapp(settings, bot_name, phone)
    if not text.strip():
        raise WriteRefused("the text is empty: write what to send")
    when = now or utcnow()

    def compose(client: Client, created: bool) -> Draft:
        last = None if created else last_inbound_at(client.id)
        return _draft(bot, text, last, when, settings.zone)

    return queue_write(bot_name, number, compose, operator_id=operator_id)


@cli.group("whatsapp")
def whatsapp_group() -> None:
    """WhatsApp bots: write to a phone number."""


@whatsapp_group.command("write")
@click.argument("bot")
@click.argument("phone")
@click.argument("text")
@pass_context
def write_command(obj: CliContext, bot: str, phone: str, text: str) -> None:
    """Send TEXT to PHONE from WhatsApp bot BOT (the client is created if new).

    PHONE in international form (+7 916 123-45-67), or national when the bot has a
    default_region. When the client has not written within 24 hours (always for a new one),
    the bot's first_contact_template is sent instead (see config.yaml).
    """
    settings = obj.settings
    run_cli_write(
        settings,
        lambda: check_whatsapp(settings, bot, phone),
        lambda: start_whatsapp(settings, bot, phone, text),
        what="WhatsApp message",
        id_label="wamid",
    )
