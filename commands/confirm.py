"""The shell's rule for every command that sends to or changes many clients (``broadcast``,
``resend-failed``, ``clients bulk``, ``clients read-all``, ``clients purge-unsubscribed``,
``clients import``): print the plan, then ``--dry-run`` stops there; ``--yes`` goes ahead;
otherwise a terminal is asked, and without one the command refuses in one line and nothing
happens.
"""

from __future__ import annotations

import sys

import click

from commands.plan import SendPlan, render

yes_option = click.option("--yes", is_flag=True, help="Go ahead without asking to confirm.")
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Print the plan only: nothing is sent or changed."
)


def gate(plan: SendPlan, *, yes: bool, dry_run: bool, action: str) -> bool:
    """The shell's confirmation rule for a send (``confirm``), with the plan as its text;
    ``action`` is the verb (``send``, ``resend``)."""
    return confirm(
        render(plan),
        plan.recipients,
        yes=yes,
        dry_run=dry_run,
        action=action,
        question=f"{action.capitalize()} to {plan.recipients} recipients?",
        nothing="Nothing to send.",
        undone="sent",
    )


def confirm(
    text: str,
    count: int,
    *,
    yes: bool,
    dry_run: bool,
    action: str,
    question: str,
    nothing: str = "Nothing to do.",
    undone: str = "changed",
) -> bool:
    """The shell's rule for every command that sends to or changes many clients: print
    ``text`` (the plan), then True when it may go ahead. ``dry_run``: False. ``count`` 0:
    ``nothing``, False. ``yes``: True. On a terminal: ask ``question``. Otherwise refuse in one
    line naming ``action`` (``ClickException``, exit 1). ``undone``: what a dry run or a "no"
    leaves undone ("nothing was sent")."""
    click.echo(text)
    if dry_run:
        click.echo(f"Dry run: nothing was {undone}.")
        return False
    if not count:
        click.echo(nothing)
        return False
    if yes:
        return True
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise click.ClickException(
            f"not a terminal, so no one can confirm: add --yes to {action} "
            "(or --dry-run to see the plan only)"
        )
    if not click.confirm(question):
        raise click.ClickException(f"cancelled: nothing was {undone}")
    return True
