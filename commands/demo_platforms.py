"""The demo's stand-in platforms: the emulators it runs and the clients it simulates.

Telegram (shop bot and staff bot) and WhatsApp are the project's emulators in this event loop;
email is a throwaway Dovecot (IMAP) and an aiosmtpd sink when asked for. Simulated clients
write in through the real ingest paths: Telegram updates, signed WhatsApp webhooks, IMAP mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import click

from commands.demo_seed import FIRST_NAMES_EN, FIRST_NAMES_RU, INBOUND_TEXTS, latin_username

TELEGRAM_TOKEN = "100001:DEMO-shop-bot"  # noqa: S105 (the emulator's, not a real token)
ADMIN_TOKEN = "100002:DEMO-admin-bot"  # noqa: S105
ADMIN_BOT_USERNAME = "demo_staff_bot"
PHONE_NUMBER_ID = "100000000000001"
OPERATORS: tuple[tuple[int, str, str], ...] = (  # telegram_id, role, name
    (111, "admin", "Анна"),
    (222, "operator", "Борис"),
    (333, "operator", "Carol"),
)


@dataclass(slots=True)
class Platforms:
    """The running emulators and the addresses the configuration points at."""

    telegram: Any
    graph: Any
    smtp: Any = None
    imap: Any = None

    def close(self) -> None:
        for server in (self.smtp, self.imap):
            if server is not None:
                with contextlib.suppress(Exception):
                    (server.close if hasattr(server, "close") else server.stop)()


FAULTS_EVERY = 17  # with --faults, by default every 17th send of a platform fails


async def start_platforms(email: bool, flood: str = "bucket", faults_every: int = 0) -> Platforms:
    """Start the emulators; ``flood``: the flood model both count sends by (bucket, window,
    escalating); ``faults_every``: every so many sends to clients, per platform, one fails
    (429, blocked, 5xx, chat not found in turn; 0: none; the staff bot's sends never do)."""
    from emulators.telegram import TelegramEmulator
    from emulators.whatsapp import GraphEmulator

    telegram = TelegramEmulator(flood=flood)
    await telegram.start()
    telegram.bot(TELEGRAM_TOKEN, username="demo_shop_bot")
    telegram.bot(ADMIN_TOKEN, username=ADMIN_BOT_USERNAME)
    for telegram_id, _role, name in OPERATORS:
        telegram.user(ADMIN_TOKEN, telegram_id, first_name=name)
    graph = GraphEmulator(app_secret=secrets.token_hex(16), flood=flood)
    if faults_every:
        telegram.set_faults(TELEGRAM_TOKEN, faults_every)
        graph.set_faults(faults_every)
    await graph.start()
    platforms = Platforms(telegram, graph)
    if email:
        from emulators.mail import DovecotServer, SmtpSink

        platforms.smtp = SmtpSink()
        platforms.smtp.start()
        platforms.imap = await asyncio.to_thread(DovecotServer)
        await asyncio.to_thread(platforms.imap.start)
    return platforms


def register_telegram_clients(platforms: Platforms) -> int:
    """Make the emulator know the seeded Telegram clients, so replies to them arrive."""
    from store.models import Bot, Client

    rows = (
        Client.select(Client.messenger_id, Client.name, Client.username)
        .join(Bot)
        .where(Bot.name == "demo_tg")
    )
    count = 0
    for row in rows.iterator():
        first, _, last = row.name.partition(" ")
        platforms.telegram.user(
            TELEGRAM_TOKEN,
            int(row.messenger_id),
            first_name=first or "Client",
            last_name=last or None,
            username=row.username,
        )
        count += 1
    return count


def unsubscribed_telegram_ids() -> set[int]:
    """The demo shop bot's clients who unsubscribed: the simulated writers leave them silent."""
    from store.models import Bot, Client

    rows = (
        Client.select(Client.messenger_id)
        .join(Bot)
        .where(Bot.name == "demo_tg", Client.unsubscribed == True)  # noqa: E712 (SQL)
    )
    return {int(row.messenger_id) for row in rows}


async def simulate_clients(platforms: Platforms, service_url: str, every_s: float) -> None:
    """Forever: one simulated client writes in every ``every_s`` seconds, through a platform."""
    from emulators import whatsapp_payloads as wa

    rng = random.Random()
    next_user = 9_000_000
    while True:
        await asyncio.sleep(every_s)
        first = rng.choice(FIRST_NAMES_RU + FIRST_NAMES_EN)
        text = rng.choice(INBOUND_TEXTS).format(size=rng.choice("SML"), city="Казань")
        channel = rng.choices(("telegram", "whatsapp", "email"), (6, 3, 1))[0]
        try:
            if channel == "whatsapp" and rng.random() < 0.2:
                # A user with a WhatsApp username: no phone number, only their BSUID.
                bsuid = f"RU.{rng.randrange(10**17):017d}"
                person = wa.contact(
                    user_id=bsuid, name=first, username=latin_username(first, rng.randrange(1000))
                )
                body = wa.envelope(PHONE_NUMBER_ID, messages=[wa.text(None, text)], people=[person])
                await platforms.graph.post_webhook(f"{service_url}/webhooks/whatsapp/demo_wa", body)
            elif channel == "whatsapp":
                sender = f"7911{rng.randrange(10**7):07d}"
                body = wa.envelope(
                    PHONE_NUMBER_ID, messages=[wa.text(sender, text)], profiles={sender: first}
                )
                await platforms.graph.post_webhook(f"{service_url}/webhooks/whatsapp/demo_wa", body)
            elif channel == "email" and platforms.imap is not None:
                mail = EmailMessage()
                address = latin_username(first, rng.randrange(1000))
                mail["From"] = f"{first} <{address}@example.com>"
                mail["To"] = "shop@demo.local"
                mail["Subject"] = "Вопрос по заказу"
                mail.set_content(text)
                await asyncio.to_thread(platforms.imap.append, "shop", bytes(mail))
            else:
                silent = unsubscribed_telegram_ids()
                known = [
                    u for u in platforms.telegram.bots[TELEGRAM_TOKEN].users if u not in silent
                ]
                user_id = rng.choice(known) if known and rng.random() < 0.7 else next_user
                # A known client keeps their name; a newcomer gets one.
                user = platforms.telegram.user(
                    TELEGRAM_TOKEN, user_id, first_name=first if user_id == next_user else None
                )
                if user_id == next_user:
                    next_user += 1
                update = await user.send_text(text)
                if rng.random() < 0.15:  # a reaction: a service event in the dialog
                    await user.react(update["message"]["message_id"], rng.choice("👍🔥❤"))
        except Exception as exc:  # a demo keeps going; the reason is shown once per failure
            click.echo(f"demo: a simulated {channel} message failed: {exc}", err=True)
