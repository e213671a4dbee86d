"""Building the adapters of the configured bots; the one place kinds map to classes.

Each adapter class takes ``(bot_settings, settings)``. Modules are imported lazily so that a
deployment without email never imports the IMAP client.
"""

from __future__ import annotations

import importlib
from typing import Any

from bots.contract import ChannelAdapter
from config import Settings

ADAPTER_CLASSES: dict[str, str] = {
    "telegram": "bots.telegram.adapter:TelegramAdapter",
    "whatsapp": "bots.whatsapp.adapter:WhatsAppAdapter",
    "email": "bots.email.adapter:EmailAdapter",
}


def adapter_class(kind: str) -> Any:
    module_name, _, class_name = ADAPTER_CLASSES[kind].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_adapters(settings: Settings) -> dict[str, ChannelAdapter]:
    """One adapter per enabled bot, by bot name."""
    adapters: dict[str, ChannelAdapter] = {}
    for bot in settings.bots:
        if bot.enabled:
            adapters[bot.name] = adapter_class(bot.kind)(bot, settings)
    return adapters
