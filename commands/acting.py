"""What every client-list command of the shell shares: who acts (``--as``), filter words on
the command line, one-line errors, and progress bars for big runs.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from config import Settings
from store.models import Operator

PROGRESS_THRESHOLD = 10_000  # clients; smaller runs finish before a bar would help
WORDS: dict[str, Any] = {"ignore_unknown_options": True}
_NEGATED = re.compile(r"-[A-Za-z_]+:")  # -key:value, even when -key is an option
_MARK = "\x00"

as_option = click.option(
    "--as",
    "as_id",
    type=int,
    default=None,
    metavar="TELEGRAM_ID",
    help="Act as this operator (scope, tab:mine, responsible:me); "
    "default: the first admin of the configuration.",
)


class FilterCommand(click.Command):
    """A command taking filter words: ``-list:Spam`` or a bare ``-hot`` is a filter word, not a
    cluster of short options (click would read ``-label:hot`` as ``-l -a -b ... -h``, and
    ``-h`` is help). Only a declared option written alone (``-o FILE``, ``-h``) stays one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        declared = {
            name
            for param in self.get_params(ctx)
            if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)
        }
        marked = [
            _MARK + a
            if _NEGATED.match(a)
            or (a.startswith("-") and not a.startswith("--") and len(a) > 1 and a not in declared)
            else a
            for a in args
        ]
        rest = super().parse_args(ctx, marked)
        for name, value in ctx.params.items():
            if isinstance(value, str):
                ctx.params[name] = value.replace(_MARK, "")
            elif isinstance(value, tuple):
                ctx.params[name] = tuple(
                    v.replace(_MARK, "") if isinstance(v, str) else v for v in value
                )
        return [a.replace(_MARK, "") for a in rest]


def viewer_for(settings: Settings, as_id: int | None, needs: str | None = None) -> Operator:
    """The operator acting: ``--as``, else the first configured admin, else the shell itself
    as an admin that is nobody's responsible operator (and cannot save filters).

    ``needs``: the capability the command needs (``store.permissions``); without it the
    command stops here with the same one line the admin bot answers.
    """
    if as_id is None:
        admins = [op.telegram_id for op in settings.operators if op.role == "admin"]
        if not admins:
            return Operator(role="admin", name="shell", telegram_id=0)
        as_id = admins[0]
    operator = Operator.get_or_none((Operator.telegram_id == as_id) & (Operator.active == True))  # noqa: E712
    if operator is None:
        raise click.ClickException(f"--as {as_id}: no active operator with this Telegram id")
    if needs is not None:
        require(settings, operator, needs)
    return operator


def require(settings: Settings, operator: Operator, capability: str) -> None:
    """Stop with one line naming the command being run unless ``operator`` holds
    ``capability``."""
    from store.permissions import refusal

    if not can(settings, operator, capability):
        name = click.get_current_context().command_path.split(" ", 1)[-1]  # "clients export"
        raise click.ClickException(refusal(name, capability))


def can(settings: Settings, operator: Operator, capability: str) -> bool:
    """Whether ``operator`` holds ``capability`` (their role's, with their overrides)."""
    from store.permissions import capabilities_of

    return capability in capabilities_of(operator, settings.permissions)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Filter and action errors as ``switchboard: <message>`` and exit 1, nothing run."""
    from store.clients.names import ActionError
    from store.filters import FilterError

    try:
        yield
    except (FilterError, ActionError) as exc:
        raise click.ClickException(str(exc)) from None


def open_settings(obj: Any) -> Settings:
    """The configuration, with the store opened, checked and synced."""
    from store.runtime import open_store

    settings: Settings = obj.settings
    open_store(settings)
    return settings


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr for runs over ``PROGRESS_THRESHOLD`` clients, shown only
    on a terminal; yields ``advance(n)``. Elsewhere ``advance`` does nothing."""
    if total <= PROGRESS_THRESHOLD or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
