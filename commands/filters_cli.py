"""``switchboard filters save|list|delete|help``: saved filters per operator (F12) and the
filter reference, generated from the one registry."""

from __future__ import annotations

import click

from commands.acting import (
    WORDS,
    FilterCommand,
    as_option,
    one_line_errors,
    open_settings,
    viewer_for,
)
from commands.cli import CliContext, cli, pass_context
from store.filters import help_markdown, help_text


@cli.group("filters")
def filters_group() -> None:
    """Saved filters (apply one with saved:NAME) and the filter syntax."""


@filters_group.command("save", cls=FilterCommand, context_settings=WORDS)
@click.argument("name")
@click.argument("filter_words", nargs=-1, required=True, type=click.UNPROCESSED)
@as_option
@pass_context
def save_command(
    obj: CliContext, name: str, filter_words: tuple[str, ...], as_id: int | None
) -> None:
    """Save FILTER under NAME for the acting operator (replaces one of the same name)."""
    from store.clients.saved import save_filter

    settings = open_settings(obj)
    viewer = viewer_for(settings, as_id)
    with one_line_errors():
        replaced = save_filter(viewer, name, " ".join(filter_words), settings.zone)
    click.echo(f"{'replaced' if replaced else 'saved'} {name}; apply it with saved:{name}")


@filters_group.command("list")
@as_option
@pass_context
def list_command(obj: CliContext, as_id: int | None) -> None:
    """The acting operator's saved filters: NAME<TAB>FILTER."""
    from store.clients.saved import list_saved

    settings = open_settings(obj)
    for row in list_saved(viewer_for(settings, as_id)):
        click.echo(f"{row.name}\t{row.query}")


@filters_group.command("delete")
@click.argument("name")
@as_option
@pass_context
def delete_command(obj: CliContext, name: str, as_id: int | None) -> None:
    """Delete the acting operator's saved filter NAME."""
    from store.clients.saved import delete_saved

    settings = open_settings(obj)
    with one_line_errors():
        delete_saved(viewer_for(settings, as_id), name)
    click.echo(f"deleted {name}")


@filters_group.command("help")
@click.option("--markdown", is_flag=True, help="The table of docs/filters.md.")
def help_command(markdown: bool) -> None:
    """The filter syntax: every filter, from the one registry."""
    click.echo(help_markdown() if markdown else help_text())
