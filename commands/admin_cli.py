"""``switchboard admin``: the admin bot's commands from the shell, replies printed as text."""

from __future__ import annotations

from pathlib import Path

import click

from commands.cli import CliContext, cli, pass_context


@cli.command("admin")
@click.option("--as", "as_id", type=int, required=True, help="Telegram user id of the operator.")
@click.option("--press", "press", default=None, help="Press a button: its callback data.")
@click.argument("text", required=False, default="")
@pass_context
def admin_command(obj: CliContext, as_id: int, press: str | None, text: str) -> None:
    """Run an admin-bot command, e.g. ./switchboard admin --as 111 "/clients unanswered".

    Buttons are listed under the reply with their data; --press DATA (without a command
    text) presses one. Exits 1 when the command was refused (the reply says why; nothing was
    done).
    """
    from commands.admin import ADMIN_COMMANDS, CommandContext, find_operator, render_text
    from store.runtime import open_store

    if not text and press is None:
        raise click.UsageError('give a command text like "/help", or --press DATA')
    if text and press is not None:
        raise click.UsageError(
            "give a command text or --press DATA, not both: a button belongs to an earlier "
            "reply, so press it on its own"
        )
    settings = obj.settings
    open_store(settings)
    operator = find_operator(as_id)
    if operator is None:
        raise click.ClickException(f"Telegram id {as_id} is not a known operator")
    ctx = CommandContext(operator=operator, settings=settings)
    reply = (
        ADMIN_COMMANDS.handle_button(ctx, press)
        if press is not None
        else ADMIN_COMMANDS.handle_text(ctx, text)
    )
    click.echo(render_text(reply, with_data=True))
    for file in reply.files:
        click.echo(f"saved {save_new(Path(file.file_name), file.content)}")
    if reply.error:
        raise SystemExit(1)


def save_new(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path``, or to ``name-2.ext``, ``name-3.ext``... when it exists:
    a file already there is never overwritten (two exports in one second)."""
    candidate, n = path, 1
    while True:
        try:
            with open(candidate, "xb") as out:
                out.write(content)
            return candidate
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
