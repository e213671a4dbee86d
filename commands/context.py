"""What a command module needs from the ``switchboard`` group without importing the group.

``commands.cli`` imports every command module at its end (that is how they register), so a
module that imports ``commands.cli`` can be loaded only after it. A module that needs just the
settings holder, its decorator and the one-line failure imports them from here and loads in
any order; ``commands.cli`` re-exports them for the modules that register on ``cli``.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from config import Settings, load_settings, logs


class CliContext:
    """Settings, loaded on first use so that ``--help`` works without a configuration."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
            logs.REDACT.add(logs.secrets_of(self._settings))  # never logged, whatever logs
        return self._settings


pass_context = click.make_pass_decorator(CliContext)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"switchboard: {message}", err=True)
    sys.exit(code)
