"""Typed configuration shared by every layer: ``config.yaml`` plus environment overrides."""

from __future__ import annotations

from config.errors import ConfigError
from config.loader import DEFAULT_CONFIG_PATH, load_settings
from config.settings import (
    CAPABILITIES,
    AdminBotSettings,
    BotSettings,
    DeliverySettings,
    EmailBotSettings,
    ImapSettings,
    OperatorSettings,
    PermissionsSettings,
    Settings,
    SmtpSettings,
    TelegramBotSettings,
    WhatsAppBotSettings,
    WhatsAppTemplateSettings,
)

__all__ = [
    "CAPABILITIES",
    "DEFAULT_CONFIG_PATH",
    "AdminBotSettings",
    "BotSettings",
    "ConfigError",
    "DeliverySettings",
    "EmailBotSettings",
    "ImapSettings",
    "OperatorSettings",
    "PermissionsSettings",
    "Settings",
    "SmtpSettings",
    "TelegramBotSettings",
    "WhatsAppBotSettings",
    "WhatsAppTemplateSettings",
    "load_settings",
]
