from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import ConfigError, TelegramBotSettings, load_settings

MINIMAL = """
bots: [{name: shop_tg, kind: telegram, token: "123:ABC"}]
operators: [{telegram_id: 111, role: admin, name: Anna}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_configuration_is_complete(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), environ={})
    assert settings.database_url == "sqlite:///switchboard.db"
    assert settings.broker_url == "memory://"
    assert settings.timezone == "UTC"
    bot = settings.bot("shop_tg")
    assert bot.kind == "telegram" and bot.mode == "webhook"
    assert settings.operators[0].role == "admin"


def test_missing_default_file_means_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.bots == [] and settings.port == 8080


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "nope.yaml", environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("databse_url: x\n", "databse_url: unknown key"),
        ("port: many\n", "port:"),
        ("bots: [{name: a, kind: telegram}]\n", "bots[0] (a): token: required"),
        ("bots: [{name: a, kind: fax}]\n", "bots[0] (a): kind must be one of"),
        (
            "bots: [{name: a, kind: telegram, token: '1:A', colour: red}]\n",
            "bots[0] (a).colour: unknown key",
        ),
        ("bots: [{name: a, kind: telegram, token: '1:A', api_base: 'ftp://x'}]\n", "api_base"),
        ("bots: [{name: a, kind: whatsapp, phone_number_id: '1'}]\n", "access_token: required"),
        ("bots: [{name: a, kind: email}]\n", "imap: required"),
        (
            "bots: [{name: a, kind: telegram, token: '1:A'},"
            " {name: a, kind: telegram, token: '2:B'}]\n",
            "duplicate bot name 'a'",
        ),
        (
            "database_url: mysql://x/y\n",
            "database_url: must start with sqlite:/// or postgresql://",
        ),
        ("broker_url: amqp://x\n", "broker_url: must be memory:// or redis://"),
        ("timezone: Mars/Olympus\n", "timezone: unknown time zone"),
        ("bots: [\n", "not valid YAML"),
        ("- a\n- b\n", "top level must be a mapping"),
    ],
)
def test_bad_configuration_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected in message


def test_disabled_bot_needs_no_credentials(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, "bots: [{name: a, kind: whatsapp, enabled: false}]"), environ={}
    )
    assert settings.bots[0].enabled is False


def test_environment_overrides_top_level_and_bot_keys(tmp_path: Path) -> None:
    env = {
        "SWITCHBOARD_DATABASE_URL": "postgresql://postgres@127.0.0.1/prod",
        "SWITCHBOARD_PORT": "9090",
        "SWITCHBOARD_BOTS__SHOP_TG__TOKEN": "999:ZZZ",
        "SWITCHBOARD_BOTS__SHOP_TG__MODE": "polling",
        "SWITCHBOARD_ADMIN_BOT__TOKEN": "5:ADMIN",
    }
    settings = load_settings(write(tmp_path, MINIMAL), environ=env)
    assert settings.database_url.endswith("/prod")
    assert settings.port == 9090
    bot = settings.bot("shop_tg")
    assert bot.kind == "telegram"
    assert bot.token is not None and bot.token.get_secret_value() == "999:ZZZ"
    assert bot.mode == "polling"
    assert settings.admin_bot is not None
    assert settings.admin_bot.token.get_secret_value() == "5:ADMIN"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "port: 7000\n")
    assert load_settings(environ={"SWITCHBOARD_CONFIG": str(path)}).port == 7000


def test_placeholders_read_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "bots: [{name: t, kind: telegram, token: '${TG_TOKEN}'}]\n")
    settings = load_settings(path, environ={"TG_TOKEN": "42:SECRET"})
    bot = settings.bot("t")
    assert isinstance(bot, TelegramBotSettings) and bot.token is not None
    assert bot.token.get_secret_value() == "42:SECRET"
    with pytest.raises(ConfigError, match="environment variable TG_TOKEN is not set"):
        load_settings(path, environ={})


def test_secrets_never_appear_in_repr_or_redacted_dump(tmp_path: Path) -> None:
    text = MINIMAL + "ops_token: opssecret\nadmin_bot: {token: '7:ADMINSECRET'}\n"
    settings = load_settings(write(tmp_path, text), environ={})
    for shown in (repr(settings), str(settings.redacted())):
        assert "123:ABC" not in shown
        assert "ADMINSECRET" not in shown
        assert "opssecret" not in shown


@given(st.text(min_size=1, max_size=40).filter(lambda k: k.strip() != ""))
def test_any_unknown_top_level_key_is_refused_in_one_line(key: str) -> None:
    import json
    import tempfile

    from config.settings import Settings

    if key in Settings.model_fields:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(json.dumps({key: 1}, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
        with pytest.raises(ConfigError) as info:
            load_settings(path, environ={})
    assert "\n" not in str(info.value)
    assert "unknown key" in str(info.value) or "not valid YAML" in str(info.value)
