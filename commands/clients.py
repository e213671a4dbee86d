"""``switchboard clients list|count|unread|bulk|export|import|read-all|purge-unsubscribed``.

Every command takes ``--as TELEGRAM_ID`` (default: the first admin of the configuration) and
acts within that operator's scope. Filter words are the one filter syntax (see ``--help``);
a bad filter or argument is one line on stderr and exit 1, with nothing run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from commands.acting import (
    WORDS,
    FilterCommand,
    as_option,
    can,
    one_line_errors,
    open_settings,
    progress_bar,
    viewer_for,
)
from commands.cli import CliContext, cli, pass_context
from commands.confirm import confirm, dry_run_option, yes_option
from store.audit import record_audit
from store.clock import shown
from store.filters import help_text
from store.permissions import bulk_capability

if TYPE_CHECKING:
    from config import Settings
    from store.clients.bulk import BulkPlan
    from store.filters import ClientFilter
    from store.models import Operator

FILTER_EPILOG = "\b\n" + help_text()


def _filter(
    obj: CliContext, as_id: int | None, words: tuple[str, ...], needs: str | None = None
) -> tuple[Settings, Operator, ClientFilter]:
    """Settings, the acting operator (holding the capability ``needs``) and the parsed
    filter of ``words``."""
    from store.clients.query import compile_filter

    settings = open_settings(obj)
    viewer = viewer_for(settings, as_id, needs)
    with one_line_errors():
        flt = compile_filter(" ".join(words), viewer, settings.zone)
    return settings, viewer, flt


@cli.group("clients")
def clients_group() -> None:
    """The client list: filter, count, bulk actions, export and import."""


@clients_group.command("list", cls=FilterCommand, context_settings=WORDS, epilog=FILTER_EPILOG)
@click.argument("filter_words", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON object: clients (an array), count, count_exact, next_cursor.",
)
@click.option(
    "--page", type=click.IntRange(min=1), default=None, help="Page N by offset (default 1)."
)
@click.option(
    "--after",
    metavar="CURSOR",
    default=None,
    help="The page after a previous page's next cursor (stable while messages arrive).",
)
@click.option("--per-page", type=click.IntRange(1, 1000), default=50, show_default=True)
@as_option
@pass_context
def list_command(
    obj: CliContext,
    filter_words: tuple[str, ...],
    as_json: bool,
    page: int | None,
    after: str | None,
    per_page: int,
    as_id: int | None,
) -> None:
    """One page of the clients matching FILTER: pinned first, then latest activity (or newest
    registration with sort:created). The count is exact up to 10,000 ("10,000+" beyond; the
    exact number: `clients count`)."""
    from store.clients.details import client_details
    from store.clients.query import page_clients

    if page is not None and after is not None:
        raise click.UsageError("--page and --after exclude each other: pick one")
    settings, viewer, flt = _filter(obj, as_id, filter_words)
    view = can(settings, viewer, "view_others")  # other operators' clients, read-only
    with one_line_errors():
        result = page_clients(
            flt, viewer, page=page or 1, per_page=per_page, after=after, view_others=view
        )
    details = client_details([c.id for c in result.clients], settings.zone)
    if as_json:
        out = {
            "clients": [d.as_json() for d in details],
            "count": result.count.value,
            "count_exact": result.count.exact,
            "next_cursor": result.next_cursor,
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    if details:
        click.echo("id\tname\tbot\tmessenger id\tlast action\tresponsible\tflags")
    for d in details:
        flags = "".join(
            mark
            for mark, on in (("📌", d.pinned), ("●", d.unread), ("⛔", d.blocked or d.unsubscribed))
            if on
        )
        click.echo(
            f"{d.client_id}\t{d.name}\t{d.bot}\t{d.messenger_id}\t"
            f"{shown(d.last_action_at, settings.zone)}\t"
            f"{d.responsible or '-'}\t{flags}"
        )
    where = "after the cursor" if after else f"page {result.number} of {result.pages}"
    if after is None and not result.count.exact:
        where = f"page {result.number}"
    more = f"; next: --after {result.next_cursor}" if result.next_cursor else ""
    click.echo(f"{where}, {result.count} client(s){more}", err=True)


@clients_group.command("count", cls=FilterCommand, context_settings=WORDS, epilog=FILTER_EPILOG)
@click.argument("filter_words", nargs=-1, type=click.UNPROCESSED)
@as_option
@pass_context
def count_command(obj: CliContext, filter_words: tuple[str, ...], as_id: int | None) -> None:
    """Print how many clients match FILTER (the number alone)."""
    from store.clients.query import count_clients

    settings, viewer, flt = _filter(obj, as_id, filter_words)
    click.echo(count_clients(flt, viewer, view_others=can(settings, viewer, "view_others")))


@clients_group.command("unread")
@as_option
@pass_context
def unread_command(obj: CliContext, as_id: int | None) -> None:
    """Print the unread counter: for an admin the project's unread dialogs, for an
    operator those of the clients bound to them."""
    from store.clients.unread import unread_count

    settings = open_settings(obj)
    click.echo(unread_count(viewer_for(settings, as_id)))


def _bulk_help() -> str:
    from store.clients.bulk import ACTIONS

    lines = ["\b", "Actions:"]
    for spec in ACTIONS.values():
        arg = {"lists": " NAME[,NAME...]", "labels": " NAME[,NAME...]"}.get(spec.argument or "")
        arg = " OPERATOR|me|none" if spec.argument == "operator" else (arg or "")
        lines.append(f"  {spec.name}{arg}: {spec.help}")
    return "\n".join(lines) + "\n\n" + FILTER_EPILOG


@clients_group.command("bulk", cls=FilterCommand, context_settings=WORDS, epilog=_bulk_help())
@click.argument("action")
@click.argument("words", nargs=-1, type=click.UNPROCESSED)
@yes_option
@dry_run_option
@as_option
@pass_context
def bulk_command(
    obj: CliContext,
    action: str,
    words: tuple[str, ...],
    yes: bool,
    dry_run: bool,
    as_id: int | None,
) -> None:
    """Apply ACTION [ARG] to every client matching FILTER: prints how many (per bot), asks to
    confirm on a terminal (--yes: do not ask), then does it in a few set-based statements and
    records it in the audit log."""
    from store.clients.bulk import ACTIONS, plan_bulk

    spec = ACTIONS.get(action)
    argument: str | None = None
    if spec is not None and spec.argument is not None:
        if not words:
            raise click.ClickException(f"{action} needs an argument: {spec.help}")
        argument, words = words[0], words[1:]
    _settings, viewer, flt = _filter(obj, as_id, words, bulk_capability(action))
    with one_line_errors():
        plan = plan_bulk(action, argument, flt, viewer)
    _run(plan, yes=yes, dry_run=dry_run)


def _plan_text(what: str, plan: BulkPlan) -> str:
    """``what: N client(s) would be affected`` and the count of each bot."""
    from store.clock import utcnow
    from store.models import Client
    from store.plan import reach_by_bot

    text = f"{what}: {plan.count} client(s) would be affected"
    if plan.count:
        scope = Client.select() if plan.where is None else Client.select().where(plan.where)
        bots = reach_by_bot(scope, utcnow())
        text += " (" + ", ".join(f"{b.name} {b.matched}" for b in bots) + ")"
    return text + "."


def _run(plan: BulkPlan, *, yes: bool, dry_run: bool = False) -> None:
    """Show ``plan``, confirm it (``commands.confirm.confirm``), do it."""
    from store.clients.bulk import run_bulk

    what = plan.audit_action + (f" {plan.argument}" if plan.argument else "")
    if not confirm(
        _plan_text(what, plan),
        plan.count,
        yes=yes,
        dry_run=dry_run,
        action=f"apply {what}",
        question=f"{what}: apply to {plan.count} client(s)?",
    ):
        return
    with progress_bar(plan.count, what) as advance, one_line_errors():
        result = run_bulk(plan, confirmed=True)
        advance(result.count)
    click.echo(f"{what}: {result.count} client(s), {result.changed} change(s)")


@clients_group.command("read-all")
@yes_option
@dry_run_option
@as_option
@pass_context
def read_all_command(obj: CliContext, as_id: int | None, yes: bool, dry_run: bool) -> None:
    """Mark every client in your scope read: prints how many (per bot) and asks to confirm on a
    terminal (--yes: do not ask), like every command that changes many clients."""
    from store.clients.bulk import plan_read_all

    settings = open_settings(obj)
    _run(plan_read_all(viewer_for(settings, as_id)), yes=yes, dry_run=dry_run)


@clients_group.command("purge-unsubscribed")
@yes_option
@dry_run_option
@as_option
@pass_context
def purge_command(obj: CliContext, yes: bool, dry_run: bool, as_id: int | None) -> None:
    """Delete every client in your scope who blocked the bot or whom we blocked, with
    their messages; irreversible: prints how many and asks to confirm on a terminal (--yes:
    do not ask)."""
    from store.clients.bulk import plan_purge_unsubscribed

    settings = open_settings(obj)
    viewer = viewer_for(settings, as_id, "purge")
    _run(plan_purge_unsubscribed(viewer), yes=yes, dry_run=dry_run)


EXPORT_FORMATS = ("csv", "xlsx")


def export_format(output: str, fmt: str | None) -> str:
    """The export's format: ``fmt`` when given, else the file's extension (``.csv``,
    ``.xlsx``); a file without an extension is CSV; any other extension is refused."""
    if fmt is not None:
        return fmt
    extension = Path(output).suffix.lower().lstrip(".")
    if not extension:
        return "csv"
    if extension not in EXPORT_FORMATS:
        raise click.ClickException(
            f"{output}: .{extension} is neither .csv nor .xlsx; name the file so, "
            "or say --format csv|xlsx"
        )
    return extension


@clients_group.command("export", cls=FilterCommand, context_settings=WORDS, epilog=FILTER_EPILOG)
@click.argument("filter_words", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default=None,
    help="csv or xlsx. Default: the file's extension (CSV when it has none).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="File.")
@click.option("--force", is_flag=True, help="Overwrite FILE when it exists.")
@as_option
@pass_context
def export_command(
    obj: CliContext,
    filter_words: tuple[str, ...],
    fmt: str | None,
    output: str,
    force: bool,
    as_id: int | None,
) -> None:
    """Export the clients matching FILTER: CSV with the 11 base columns and one column per
    variable, or XLSX with the 11 columns; the format follows the file's extension unless
    --format says otherwise. The file appears whole or not at all; an existing file is kept
    unless --force."""
    from store.clients.query import count_clients, select_clients
    from store.export import write_csv, write_xlsx

    fmt = export_format(output, fmt)
    target = Path(output)
    if target.exists() and not force:
        raise click.ClickException(f"{output} exists: add --force to overwrite it")
    settings, viewer, flt = _filter(obj, as_id, filter_words, "export")
    partial = target.with_name(f".{target.name}.partial")
    query: Any = select_clients(flt, viewer)
    total = count_clients(flt, viewer)
    try:
        with progress_bar(total, "export") as advance:
            if fmt == "csv":
                with open(partial, "w", encoding="utf-8", newline="") as out:
                    written = write_csv(query, out, settings.zone, progress=advance)
            else:
                written = write_xlsx(query, str(partial), settings.zone, progress=advance)
        os.replace(partial, target)
    except OSError as exc:
        raise click.ClickException(f"{output}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    record_audit(viewer, "export", flt.text, written, {"format": fmt})
    click.echo(f"exported {written} client(s) to {output} ({fmt.upper()})")


@clients_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@yes_option
@dry_run_option
@as_option
@pass_context
def import_command(obj: CliContext, file: str, yes: bool, dry_run: bool, as_id: int | None) -> None:
    """Import clients from a CSV written by `clients export` (needs the import permission,
    admins' by default): prints how many rows, asks to confirm on a terminal (--yes: do not
    ask), then imports. Rows with errors are listed by line number and skipped; the others
    are kept; exit 1 if any row failed."""
    from store.importer import ImportFormatError, count_rows, import_csv

    settings = open_settings(obj)
    viewer = viewer_for(settings, as_id, "import")
    with open(file, encoding="utf-8-sig", newline="") as source:
        try:
            rows = count_rows(source)
            plan = (
                f"import {Path(file).name}: {rows} row(s); a client already here (same bot and "
                "messenger id) is updated, the others are created."
            )
            question = f"Import {rows} row(s) from {Path(file).name}?"
            if not confirm(
                plan, rows, yes=yes, dry_run=dry_run, action="import", question=question
            ):
                return
            with progress_bar(rows, "import") as advance:
                report = import_csv(
                    source,
                    settings.zone,
                    bots=[b.name for b in settings.bots],
                    progress=advance,
                    rows=rows,
                )
        except ImportFormatError as exc:
            raise click.ClickException(f"{file}: {exc}") from None
        except UnicodeDecodeError:
            raise click.ClickException(f"{file}: not UTF-8 text") from None
    record_audit(
        viewer,
        "import",
        "",
        report.created + report.updated,
        {"file": Path(file).name, "created": report.created, "errors": report.error_count},
    )
    for error in report.errors:
        click.echo(f"{file}: {error}", err=True)
    if report.error_count > len(report.errors):
        click.echo(f"{file}: ... {report.error_count - len(report.errors)} more", err=True)
    click.echo(
        f"imported {report.created} new, {report.updated} updated, "
        f"{report.error_count} row(s) with errors"
    )
    if report.error_count:
        raise SystemExit(1)
