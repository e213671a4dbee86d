"""No help text leaks the project's insides: every CLI command's ``--help`` and every admin
command's /help line (as an admin and as an operator) is free of the spec's item codes
("F13", "SPEC F11"), module paths and layer names."""

from __future__ import annotations

import re

import click
import peewee
import pytest

from commands.admin import ADMIN_COMMANDS
from commands.cli import cli, main
from tests.admin_support import make_staff

# Spec item codes, the spec itself, our packages' dotted or file paths, and error prefixes
# naming a layer ("store: ...").
LEAKS = re.compile(
    r"\bF\d{1,2}\b|\bSPEC\b"
    r"|\b(?:store|commands|bots|workers|config|emulators)(?:\.(?!yaml\b)[a-z_]+|/[a-z_/]+\.py)"
    r"|\b[a-z_]+\.py\b|^(?:store|workers|bots): ",
    re.MULTILINE,
)


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
        else:
            paths.append((*prefix, name))
    return paths


def test_the_pattern_catches_what_it_is_for() -> None:
    for leaked in ("Export (F13).", "per SPEC F11", "see store/filters/registry.py",
                   "store.clients.bulk does it", "store: no job with id 9"):  # fmt: skip
        assert LEAKS.search(leaked), leaked
    for fine in ("Press F to pay", "the store", "config.yaml", "Format: csv"):
        assert not LEAKS.search(fine), fine


def test_every_cli_help_is_free_of_internals(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _command_paths(cli)
    assert len(paths) > 20  # the walk reached the subcommands
    for path in paths:
        capsys.readouterr()
        try:
            main([*path, "--help"])
        except SystemExit as exited:
            assert exited.code in (0, None), path
        text = capsys.readouterr().out
        assert "Usage:" in text, path
        leak = LEAKS.search(text)
        assert leak is None, f"switchboard {' '.join(path)} --help: {leak and leak.group()!r}"


def test_every_admin_help_is_free_of_internals(db: peewee.Database) -> None:
    staff = make_staff()
    for role in ("admin", "operator"):
        ctx = staff[role]
        reply = ADMIN_COMMANDS.handle_text(ctx, "/help")
        assert not reply.error and reply.text.startswith(f"Hello, {ctx.operator.name} ("), role
        lines = reply.text.splitlines()
        assert len(lines) > 10, reply.text
        for line in lines:
            leak = LEAKS.search(line)
            assert leak is None, f"/help as {role}: {line}"
    for extra in ("/filters help", "/bulk"):
        text = ADMIN_COMMANDS.handle_text(staff["admin"], extra).text
        assert LEAKS.search(text) is None, f"{extra}: {LEAKS.search(text)}"
    for command in ADMIN_COMMANDS.commands.values():  # those /help hides from operators too
        assert LEAKS.search(f"{command.usage} — {command.help}") is None, command.name
