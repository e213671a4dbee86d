"""The plan of a bulk send, shown before anything is sent: the shell's ``broadcast`` and
``resend-failed`` and the admin bot's /broadcast print the same text (``render``).

A plan is, per bot: the recipients, the clients skipped (blocked by us, unsubscribed), for
WhatsApp the recipients outside the 24-hour window (free text is refused there: a broadcast
sends them the bot's template, ``start_broadcast``), the rate the job's rows are paced at and
the time that takes. The counts are one grouped query (``store.plan.reach_by_bot``); rates
come from the configuration. Bots send in parallel, so the job takes as long as its slowest
bot.

The shell confirms a plan with ``commands.confirm``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import peewee as pw

from config import Settings, TelegramBotSettings, WhatsAppBotSettings
from config.bots import BotSettings
from store.clock import utcnow
from store.jobs import create_broadcast, resend_target
from store.models import Bot, Client, Job
from store.plan import BotReach, reach_by_bot

# What Telegram charges per message sent with allow_paid_broadcast (docs/telegram.md, Cost).
STARS_PER_PAID_MESSAGE = 0.1


def steps(settings: Settings, headroom: float | None = None) -> dict[int, float]:
    """Seconds between two bulk messages of each configured bot, by store bot id
    (``bulk_rate``: a paid-broadcast Telegram bot goes at its paid rate)."""
    headroom = headroom or settings.delivery.rate_headroom
    rates = {b.name: bulk_rate(b, headroom) for b in settings.bots}
    return {b.id: 1.0 / rates[b.name] for b in Bot.select() if b.name in rates}


def templates(settings: Settings, text: str) -> dict[int, tuple[str, dict[str, Any]]]:
    """By store bot id, the ``(text, extra)`` a WhatsApp bot's clients outside the 24-hour
    window get instead of ``text``: its ``first_contact_template`` (``commands.whatsapp``)."""
    from commands.whatsapp import template_draft

    bots = {b.name: b for b in settings.bots if isinstance(b, WhatsAppBotSettings) and b.enabled}
    drafts = {name: template_draft(bot, text) for name, bot in bots.items()}
    return {
        b.id: (drafts[b.name].text, drafts[b.name].extra)
        for b in Bot.select().where(Bot.name.in_(list(drafts)))
    }


def template_label(bot: WhatsAppBotSettings) -> str:
    """The template a closed window gets, for a person: ``hello_world (en_US), without your
    text``."""
    t = bot.first_contact_template
    carries = "your text as its parameter" if t.text_parameter else "without your text"
    return f"{t.name} ({t.language}), {carries}"


def start_broadcast(
    settings: Settings,
    clients: pw.ModelSelect[Client],
    text: str,
    *,
    filter_text: str = "",
    operator_id: int | None = None,
    now: dt.datetime | None = None,
) -> Job:
    """Start the broadcast a plan showed: paced per bot (``steps``), and WhatsApp clients
    outside the window get their bot's template (``templates``). Both front ends call this."""
    now = now or utcnow()
    return create_broadcast(
        clients,
        text,
        steps=steps(settings),
        filter_text=filter_text,
        operator_id=operator_id,
        templates=templates(settings, text),
        window_since=window_since(now),
        now=now,
    )


def bulk_rate(bot: BotSettings, headroom: float) -> float:
    """Messages per second a bot's bulk sends (broadcast, resend-failed) are paced at: its
    ``messages_per_second`` (``paid_messages_per_second`` for a Telegram bot with
    ``paid_broadcast``) times the delivery ``rate_headroom``."""
    if isinstance(bot, TelegramBotSettings) and bot.paid_broadcast:
        return bot.paid_messages_per_second * headroom
    return bot.messages_per_second * headroom


@dataclass(frozen=True, slots=True)
class BotPlan:
    """``reach`` of one bot; ``rate_per_s``: its bulk pace (0: the bot is not configured or is
    disabled, its messages will fail); ``step_s``: seconds between two of its messages."""

    reach: BotReach
    rate_per_s: float
    step_s: float
    paid: bool = False
    template: str = ""  # what clients outside WhatsApp's window get (``template_label``)

    @property
    def eta_s(self) -> float:
        return self.reach.recipients * self.step_s


@dataclass(frozen=True, slots=True)
class SendPlan:
    title: str
    bots: tuple[BotPlan, ...]

    @property
    def matched(self) -> int:
        return sum(b.reach.matched for b in self.bots)

    @property
    def recipients(self) -> int:
        return sum(b.reach.recipients for b in self.bots)

    @property
    def blocked(self) -> int:
        return sum(b.reach.blocked for b in self.bots)

    @property
    def unsubscribed(self) -> int:
        return sum(b.reach.unsubscribed for b in self.bots)

    @property
    def outside_window(self) -> int:
        return sum(b.reach.outside_window for b in self.bots)

    @property
    def eta_s(self) -> float:
        """Seconds until the last message leaves: the slowest bot's share."""
        return max((b.eta_s for b in self.bots), default=0.0)


def window_since(now: dt.datetime) -> dt.datetime:
    """The earliest last message that keeps a client's WhatsApp window open for a send now."""
    from commands.whatsapp import WINDOW, WINDOW_MARGIN

    return now - (WINDOW - WINDOW_MARGIN)


def _plan(
    settings: Settings,
    title: str,
    clients: pw.ModelSelect[Client],
    interval_s: float,
    now: dt.datetime | None,
    *,
    with_templates: bool = False,
    spread_s: float = 0.0,
) -> SendPlan:
    """``spread_s``: each bot's recipients are paced evenly over that many seconds when that
    is slower than the bot's limit (a campaign's ``--spread``)."""
    headroom = settings.delivery.rate_headroom
    lines: list[BotPlan] = []
    for reach in reach_by_bot(clients, window_since(now or utcnow())):
        bot = next((b for b in settings.bots if b.name == reach.name and b.enabled), None)
        if bot is None:
            lines.append(BotPlan(reach, 0.0, 0.0))
            continue
        rate = bulk_rate(bot, headroom)
        paid = isinstance(bot, TelegramBotSettings) and bot.paid_broadcast
        template = ""
        if with_templates and isinstance(bot, WhatsAppBotSettings):
            template = template_label(bot)
        step = max(1.0 / rate, interval_s)
        if spread_s > 0 and reach.recipients:
            step = max(step, spread_s / reach.recipients)
        lines.append(BotPlan(reach, rate, step, paid, template))
    return SendPlan(title, tuple(lines))


def broadcast_plan(
    settings: Settings, clients: pw.ModelSelect[Client], now: dt.datetime | None = None
) -> SendPlan:
    """The plan of a broadcast to ``clients`` (a filter's ``select_clients``)."""
    return _plan(settings, "Broadcast", clients, 0.0, now, with_templates=True)


def campaign_plan(
    settings: Settings,
    clients: pw.ModelSelect[Client],
    *,
    name: str,
    spread_s: float = 0.0,
    at: dt.datetime | None = None,
) -> SendPlan:
    """The plan of a campaign to ``clients``, paced at the limits or over ``spread_s``; the
    WhatsApp window is judged at its start ``at`` (naive UTC; None: now)."""
    return _plan(settings, f"Campaign «{name}»", clients, 0.0, at, spread_s=spread_s)


def resend_plan(
    settings: Settings,
    clients: pw.ModelSelect[Client] | None,
    *,
    since: dt.datetime | None = None,
    bot_ids: list[int] | None = None,
    interval_s: float = 0.0,
    now: dt.datetime | None = None,
) -> SendPlan:
    """The plan of resend-failed (F4) with the arguments ``store.jobs.create_resend_failed``
    takes."""
    target = Client.select().where(resend_target(clients, since=since, bot_ids=bot_ids))
    return _plan(settings, "Resend of failed messages", target, interval_s, now)


def duration(seconds: float) -> str:
    """``seconds`` for a person: ``under 1 s``, ``42 s``, ``3 min 5 s``, ``2 h 10 min``."""
    whole = round(seconds)
    if whole < 1:
        return "under 1 s"
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min" + (f" {whole % 60} s" if whole % 60 else "")
    return f"{whole // 3600} h" + (f" {whole % 3600 // 60} min" if whole % 3600 // 60 else "")


def _rate(rate: float) -> str:
    return f"{rate:.3g} msg/s" if rate < 10 else f"{rate:.0f} msg/s"


def render(plan: SendPlan) -> str:
    """The plan as lines of text, the same in the shell and in the admin bot."""
    skipped = plan.blocked + plan.unsubscribed
    head = f"{plan.title} plan: {plan.recipients} recipients of {plan.matched} matching"
    if skipped:
        head += f"; {skipped} skipped ({plan.unsubscribed} unsubscribed, {plan.blocked} blocked)"
    lines = [head + "."]
    for b in plan.bots:
        r = b.reach
        line = f"• {r.name} ({r.kind}): {r.recipients} recipients"
        if r.skipped:
            line += f", {r.skipped} skipped"
        if r.outside_window and b.template:
            line += (
                f", {r.outside_window} of them outside WhatsApp's 24-hour window: they get "
                f"the template {b.template}"
            )
        elif r.outside_window:
            line += (
                f", {r.outside_window} of them outside WhatsApp's 24-hour window "
                "(free text is refused there: they need a template)"
            )
        if not b.rate_per_s:
            line += "; this bot is not configured or disabled: its messages will fail"
        else:
            line += f"; limit {_rate(b.rate_per_s)}"
            if b.paid:
                stars = r.recipients * STARS_PER_PAID_MESSAGE
                line += f" (paid broadcast: up to {stars:g} Telegram Stars)"
            if b.step_s > 1.0 / b.rate_per_s:
                line += f", one every {b.step_s:g} s"
            line += f"; about {duration(b.eta_s)}"
        lines.append(line)
    if plan.recipients:
        lines.append(f"Estimated time to finish: about {duration(plan.eta_s)}.")
    return "\n".join(lines)
