"""The ``switchboard`` command line. Every failure is one line on stderr and a non-zero exit."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from commands.context import CliContext, fail, pass_context
from config import ConfigError, Settings, logs
from store.errors import MigrationRequired, StoreError

EXIT_CONFIG = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $SWITCHBOARD_CONFIG, then ./config.yaml).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Switchboard: clients from Telegram, WhatsApp and email in one back office."""
    ctx.obj = CliContext(config_path)


@cli.command("version")
def version_command() -> None:
    """Print the version."""
    try:
        click.echo(version("switchboard"))
    except PackageNotFoundError:
        click.echo("unknown (not installed)")


@cli.command("migrate")
@pass_context
def migrate_command(obj: CliContext) -> None:
    """Apply pending schema migrations (safe to run again: it then changes nothing)."""
    from store.migrate import migrate
    from store.runtime import open_store

    database = open_store(obj.settings, check_schema=False)
    applied = migrate(database)
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("schema is up to date; nothing to do")
    database.close()


def log_format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--log-format text|json`` (``$SWITCHBOARD_LOG_FORMAT``) of the long-running commands."""
    return click.option(
        "--log-format",
        type=click.Choice(logs.FORMATS),
        envvar="SWITCHBOARD_LOG_FORMAT",
        default="text",
        show_default=True,
        help="Log lines as text, or one JSON object per line for a log shipper.",
    )(command)


def use_log_format(fmt: str, settings: Settings) -> None:
    """Log in ``fmt`` from now on, here and in the processes this one starts."""
    os.environ["SWITCHBOARD_LOG_FORMAT"] = fmt  # spawned worker processes read it
    logs.configure(fmt, secrets=logs.secrets_of(settings))


@cli.command("serve")
@click.option("--host", envvar="SWITCHBOARD_HOST", default=None, help="Address to listen on.")
@click.option("--port", envvar="SWITCHBOARD_PORT", type=int, default=None, help="Port.")
@log_format_option
@pass_context
def serve_command(obj: CliContext, host: str | None, port: int | None, log_format: str) -> None:
    """Serve webhooks, health and ops over HTTP (default 127.0.0.1:8080) until SIGTERM/Ctrl-C."""
    from aiohttp import web

    from commands.web import build_app, freeze_startup_objects, serve_installers
    from store.runtime import open_store

    settings = obj.settings
    use_log_format(log_format, settings)
    open_store(settings)
    host = host or settings.host
    port = settings.port if port is None else port
    app = build_app(settings, installers=serve_installers())
    app.on_startup.append(freeze_startup_objects)
    logging.getLogger("switchboard").info("serving on http://%s:%s", host, port)
    web.run_app(
        app,
        host=host,
        port=port,
        print=lambda _: click.echo(f"Switchboard serving on http://{host}:{port}", err=True),
        access_log=None,
        handle_signals=True,
    )
    click.echo("Switchboard stopped", err=True)


@cli.command("config")
@pass_context
def config_command(obj: CliContext) -> None:
    """Print the effective configuration with every secret redacted."""
    import yaml

    click.echo(yaml.safe_dump(obj.settings.redacted(), sort_keys=False, allow_unicode=True))


def main(argv: list[str] | None = None) -> None:
    try:
        logs.configure()
    except ValueError as exc:  # SWITCHBOARD_LOG_FORMAT with a value we do not know
        fail(str(exc), EXIT_CONFIG)
    try:
        cli.main(args=argv, prog_name="switchboard", standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 1)
    except click.UsageError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    except MigrationRequired as exc:
        fail(str(exc), 1)
    except StoreError as exc:  # its message names what was wrong; the layer is no one's business
        fail(str(exc), 1)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # the last line of defence keeps tracebacks off users
        if os.environ.get("SWITCHBOARD_DEBUG"):
            raise
        fail(
            f"unexpected error: {type(exc).__name__}: {_one_line(exc)} "
            "(set SWITCHBOARD_DEBUG=1 for the traceback)",
            1,
        )


def _one_line(exc: BaseException) -> str:
    text: Any = str(exc)
    return text.splitlines()[0] if text else ""


# Modules that add their commands to ``cli`` when imported (so, after ``cli`` exists); the
# demo adds its own subcommands (inbox, app-link) to its group.
import commands.campaigns  # noqa: E402
import commands.delivery  # noqa: E402
import commands.demo  # noqa: E402
import commands.email  # noqa: E402
import commands.whatsapp  # noqa: E402,F401
from commands import admin_cli  # noqa: E402,F401
from commands import clients as _clients_cli  # noqa: E402,F401
from commands import filters_cli as _filters_cli  # noqa: E402,F401
from commands import jobs as _jobs_cli  # noqa: E402,F401
from commands import telegram as _telegram_cli  # noqa: E402,F401
