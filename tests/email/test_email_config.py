"""An email bot's configuration: one mailbox, passwords from the environment, loop timings."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, EmailBotSettings, load_settings

MAILBOX = """
bots:
  - name: shop_mail
    kind: email
    imap: {host: imap.example.com, user: shop@example.com, password: "${IMAP_PASSWORD}"}
    smtp: {host: smtp.example.com, port: 587, security: starttls, user: shop@example.com,
           from_address: "Shop <shop@example.com>"}
"""


def test_passwords_come_from_the_environment_and_timings_have_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(MAILBOX)
    settings = load_settings(
        path,
        environ={
            "IMAP_PASSWORD": "imap-secret",
            "SWITCHBOARD_BOTS__SHOP_MAIL__SMTP__PASSWORD": "smtp-secret",
        },
    )
    bot = settings.bot("shop_mail")
    assert isinstance(bot, EmailBotSettings) and bot.imap and bot.smtp
    assert bot.imap.password.get_secret_value() == "imap-secret"
    assert bot.smtp.password is not None and bot.smtp.password.get_secret_value() == "smtp-secret"
    assert (bot.imap.port, bot.imap.security, bot.imap.folder, bot.imap.use_idle) == (
        993,
        "tls",
        "INBOX",
        True,
    )
    assert (bot.imap.reconnect_delay_s, bot.imap.reconnect_max_s) == (1.0, 300.0)
    assert bot.imap.idle_renew_s < 29 * 60  # servers drop IDLE after 30 minutes
    assert "imap-secret" not in repr(settings) and "smtp-secret" not in repr(settings)


def test_idle_longer_than_servers_allow_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(MAILBOX.replace("password: ", "idle_renew_s: 3600, password: "))
    with pytest.raises(ConfigError, match=r"bots\[0\] \(shop_mail\)\.imap\.idle_renew_s"):
        load_settings(path, environ={"IMAP_PASSWORD": "x"})
