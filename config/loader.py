"""Read ``config.yaml``, apply environment overrides, validate into ``Settings``.

Overrides, strongest first:

* ``SWITCHBOARD_<KEY>`` for a top-level key (``SWITCHBOARD_DATABASE_URL``, ``SWITCHBOARD_PORT``);
* ``SWITCHBOARD_BOTS__<BOT_NAME>__<KEY>`` for one key of one bot
  (``SWITCHBOARD_BOTS__SHOP_TG__TOKEN``; ``__`` goes deeper: ``..._IMAP__PASSWORD``);
* ``SWITCHBOARD_ADMIN_BOT__<KEY>`` for the admin bot;
* ``${NAME}`` anywhere in a string value of the file is replaced by that environment variable,
  so a secret never has to be written into the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.errors import ConfigError
from config.settings import Settings

DEFAULT_CONFIG_PATH = Path("config.yaml")
ENV_PREFIX = "SWITCHBOARD_"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOP_LEVEL_SCALARS = ("database_url", "broker_url", "timezone", "host", "port", "ops_token")


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load the configuration.

    ``path`` defaults to ``$SWITCHBOARD_CONFIG``, then ``./config.yaml``; a missing default file
    means all defaults, a missing named file is an error. Raises ``ConfigError``.
    """
    env = os.environ if environ is None else environ
    explicit = path is not None or "SWITCHBOARD_CONFIG" in env
    file = Path(path if path is not None else env.get("SWITCHBOARD_CONFIG", DEFAULT_CONFIG_PATH))
    data: Any = {}
    if file.exists():
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{file}:{where} not valid YAML") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read ({exc.strerror})") from None
    elif explicit:
        raise ConfigError(f"{file}: no such configuration file")
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of keys")
    try:
        data = _interpolate(data, env, "")
    except KeyError as exc:
        raise ConfigError(f"{file}: {exc.args[0]}") from None
    data = _apply_env_overrides(data, env)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{file}: {_first_error(exc, data)}") from None


def _interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise KeyError(f"{where or 'value'}: environment variable {name} is not set")
            return env[name]

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, env, _join(where, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    data = dict(data)
    for key in _TOP_LEVEL_SCALARS:
        if (value := env.get(ENV_PREFIX + key.upper())) is not None:
            data[key] = value
    bots = [dict(b) if isinstance(b, dict) else b for b in data.get("bots") or []]
    for name, value in env.items():
        upper = name.upper()
        if upper.startswith(ENV_PREFIX + "BOTS__"):
            bot_name, _, rest = name[len(ENV_PREFIX + "BOTS__") :].partition("__")
            for bot in bots:
                if isinstance(bot, dict) and str(bot.get("name", "")).upper() == bot_name.upper():
                    _set_path(bot, rest, value)
        elif upper.startswith(ENV_PREFIX + "ADMIN_BOT__"):
            admin = data.get("admin_bot")
            admin = dict(admin) if isinstance(admin, dict) else {}
            _set_path(admin, name[len(ENV_PREFIX + "ADMIN_BOT__") :], value)
            data["admin_bot"] = admin
    if bots:
        data["bots"] = bots
    return data


def _set_path(target: dict[str, Any], dotted: str, value: str) -> None:
    keys = [k.lower() for k in dotted.split("__") if k]
    for key in keys[:-1]:
        child = target.get(key)
        child = dict(child) if isinstance(child, dict) else {}
        target[key] = child
        target = child
    if keys:
        target[keys[-1]] = value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _first_error(exc: ValidationError, data: Any) -> str:
    """One line: the dotted key (with the bot's name where it helps) and what is wrong with it."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    # A discriminated union adds the tag ("telegram") to the path; it says nothing to a reader.
    if len(loc) >= 3 and loc[0] == "bots" and loc[2] in ("telegram", "whatsapp", "email"):
        del loc[2]
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if parts == ["bots"] and isinstance(data.get("bots"), list):
                bots = data["bots"]
                if item < len(bots) and isinstance(bots[item], dict) and bots[item].get("name"):
                    label = f"[{item}] ({bots[item]['name']})"
            parts.append(label)
        else:
            name = str(item) if str(item).isprintable() else repr(str(item))
            parts.append(("." if parts else "") + name)
    key = "".join(parts)
    if not key.isprintable():  # a key with a newline must not break the one-line message
        key = repr(key)
    message = str(error["msg"])
    kind = error["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "union_tag_invalid":
        message = "kind must be one of telegram, whatsapp, email"
    elif kind == "union_tag_not_found":
        message = "kind is missing (telegram, whatsapp or email)"
    message = message.removeprefix("Value error, ")
    line = f"{key}: {message}" if key else message
    # One line whatever the input held: a key or value may contain line breaks.
    return line.replace("\r", "\\r").replace("\n", "\\n")
