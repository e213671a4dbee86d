"""An email bot's configuration: one mailbox, passwords from the environment, loop timings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from config import ConfigError, EmailBotSettings, load_settings
from tests.conftest import run_cli

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


@pytest.mark.parametrize(
    ("security", "imap_port", "smtp_port"),
    [("tls", 993, 465), ("starttls", 143, 587), ("none", 143, 25)],
)
def test_ports_default_from_security(
    tmp_path: Path, security: str, imap_port: int, smtp_port: int
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "bots:\n  - name: shop_mail\n    kind: email\n"
        f"    imap: {{host: imap.example.com, security: {security}, user: u, password: p}}\n"
        f"    smtp: {{host: smtp.example.com, security: {security}, from_address: a@b.example}}\n"
    )
    bot = load_settings(path, environ={}).bot("shop_mail")
    assert isinstance(bot, EmailBotSettings) and bot.imap and bot.smtp
    assert (bot.imap.port, bot.smtp.port) == (imap_port, smtp_port)


def test_initial_sync_is_new_by_default_and_shown_by_switchboard_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(MAILBOX.replace("password: ", "security: starttls, password: "))
    result = run_cli("--config", str(path), "config", cwd=tmp_path, env={"IMAP_PASSWORD": "x"})
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)["bots"][0]["imap"]
    assert (shown["initial_sync"], shown["port"], shown["password"]) == ("new", 143, "***")


@pytest.mark.parametrize("value", ["since:2024-02-30", "since:24-01-01", "old", "since:"])
def test_a_wrong_initial_sync_is_one_line_naming_the_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(MAILBOX.replace("password: ", f"initial_sync: '{value}', password: "))
    with pytest.raises(ConfigError, match=r"imap\.initial_sync: .*new, all or since:YYYY-MM-DD"):
        load_settings(path, environ={"IMAP_PASSWORD": "x"})


def test_initial_sync_since_gives_the_day(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(MAILBOX.replace("password: ", "initial_sync: since:2024-01-31, password: "))
    bot = load_settings(path, environ={"IMAP_PASSWORD": "x"}).bot("shop_mail")
    assert isinstance(bot, EmailBotSettings) and bot.imap
    assert bot.imap.initial_sync_since == dt.date(2024, 1, 31)
