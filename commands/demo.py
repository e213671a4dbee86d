"""``switchboard demo``: the whole product on one machine, without a single token.

The platforms are the project's own emulators (Telegram Bot API, WhatsApp Graph API and, where
Dovecot can run, an IMAP + SMTP pair) on loopback; the service is the same aiohttp app as
``switchboard serve``, on SQLite with the in-process worker. Everything lives in one folder
(default ``.switchboard-demo``): its ``config.yaml`` is what the printed commands use, its
``demo.db`` survives for ``--resume``. Simulated clients keep writing in every ``--every``
seconds, through the emulators and the real ingest paths, so notifications and counters move.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from commands.cli import cli, fail
from commands.demo_app import app_link, app_link_command, operator_init_data
from commands.demo_inbox import inbox_command
from commands.demo_platforms import (
    ADMIN_TOKEN,
    FAULTS_EVERY,
    OPERATORS,
    PHONE_NUMBER_ID,
    TELEGRAM_TOKEN,
    Platforms,
    register_telegram_clients,
    simulate_clients,
    start_platforms,
)
from commands.demo_seed import (
    DemoBot,
    seed,
)
from emulators.flood import FLOOD_MODELS


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What the user asked for. ``every_s``: seconds between simulated inbound messages."""

    directory: Path
    fresh: bool
    clients: int
    host: str
    port: int
    email: bool
    every_s: float
    flood: str = "bucket"  # how both emulated platforms count sends (emulators.flood)
    faults_every: int = 0  # every so many sends to clients one fails (0: off; emulators.faults)


def demo_bots(email: bool) -> tuple[DemoBot, ...]:
    bots = [DemoBot("demo_tg", "telegram", 0.6), DemoBot("demo_wa", "whatsapp", 0.3)]
    if email:
        bots.append(DemoBot("demo_mail", "email", 0.1))
    return tuple(bots)


def write_config(options: DemoOptions, platforms: Platforms, ops_token: str) -> Path:
    """The demo's config.yaml, pointing every bot at its emulator (ports change per run)."""
    bots: list[dict[str, Any]] = [
        {
            "name": "demo_tg",
            "kind": "telegram",
            "token": TELEGRAM_TOKEN,
            "mode": "polling",
            "api_base": platforms.telegram.base_url,
        },
        {
            "name": "demo_wa",
            "kind": "whatsapp",
            "phone_number_id": PHONE_NUMBER_ID,
            "access_token": "demo-access-token",
            "app_secret": platforms.graph.app_secret,
            "verify_token": "demo-verify-token",
            "api_base": platforms.graph.url,
        },
    ]
    if platforms.imap is not None:
        bots.append(
            {
                "name": "demo_mail",
                "kind": "email",
                "imap": {
                    "host": platforms.imap.host,
                    "port": platforms.imap.port,
                    "security": "none",
                    "user": "shop",
                    "password": platforms.imap.password,
                    "poll_interval_s": 5,
                    # The demo's mailbox is new and only simulated clients write to it.
                    "initial_sync": "all",
                },
                "smtp": {
                    "host": platforms.smtp.host,
                    "port": platforms.smtp.port,
                    "security": "none",
                    "from_address": "Demo Shop <shop@demo.local>",
                },
            }
        )
    config = {
        "database_url": f"sqlite:///{(options.directory / 'demo.db').resolve()}",
        "broker_url": "memory://",
        "timezone": "Europe/Moscow",
        "host": options.host,
        "port": options.port,
        "bots": bots,
        "admin_bot": {
            "token": ADMIN_TOKEN,
            "mode": "polling",
            "api_base": platforms.telegram.base_url,
            # The printed app link carries signed initData: let it work for a day of demo.
            "app_init_data_max_age_s": 86400,
        },
        "operators": [{"telegram_id": i, "role": r, "name": n} for i, r, n in OPERATORS],
        "ops_token": ops_token,
    }
    path = options.directory / "config.yaml"
    path.write_text(
        "# Written by `./switchboard demo` at each start: every address is an emulator's.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def command_name(cwd: Path | None = None) -> str:
    """How to type ``switchboard`` in a fresh shell in ``cwd`` (default: the current folder):
    ``./switchboard`` in the checkout (the wrapper that needs no activated virtualenv), the
    wrapper's path from elsewhere, ``switchboard`` for an installed package."""
    wrapper = Path(__file__).resolve().parent.parent / "switchboard"
    if not wrapper.is_file():
        return "switchboard"
    if wrapper.parent == (cwd or Path.cwd()).resolve():
        return "./switchboard"
    return shlex.quote(str(wrapper))


def busy_port(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be listened on (another demo or server has it); checked
    before anything is seeded or deleted. Port 0 (any free port) is never busy."""
    if port == 0:
        return False
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # aiohttp listens with SO_REUSEADDR too: a port in TIME_WAIT is free for it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def guide(options: DemoOptions, config: Path, platforms: Platforms, ops_token: str) -> str:
    base = f"http://{options.host}:{options.port}"
    sb = f"{command_name()} --config {shlex.quote(str(config))}"
    mail = (
        f"IMAP {platforms.imap.host}:{platforms.imap.port}, SMTP {platforms.smtp.port}"
        if platforms.imap is not None
        else "off (needs root and Dovecot; --email to install it)"
    )
    faults = (
        f"one send to a client in {options.faults_every} fails, per platform: 429, blocked, 5xx, "
        "chat not found in turn (see the dashboard)"
        if options.faults_every
        else "off (--faults: some sends fail, so /ops shows retries and failures)"
    )
    app = _app_link(base, ADMIN_TOKEN, OPERATORS[0])
    return f"""
Switchboard demo is running — Ctrl-C stops it.
  service    {base}   (health {base}/healthz)
  dashboard  {base}/ops?token={ops_token}
  metrics    curl -H "Authorization: Bearer {ops_token}" {base}/metrics
             (or, in the browser, {base}/metrics after opening the dashboard: its cookie)
  Telegram   Bot API emulator {platforms.telegram.base_url} (shop bot demo_tg, staff bot)
  WhatsApp   Graph API emulator {platforms.graph.url} (demo_wa)
  flood      the emulators count sends by the {options.flood} model (--flood to change)
  faults     {faults}
  email      {mail}
  data       {options.directory}/demo.db   (run again with --resume to keep it)
  app        the Mini App as operator 111 in a normal browser (DEMO ONLY: the demo signs
             Telegram's initData itself; another operator or --dark: demo app-link --as 222):
             {app}

Try, in another terminal (operators: 111 admin, 222 and 333 operators):
  {sb} admin --as 111 "/clients unanswered"
  {sb} admin --as 222 "/clients tab:mine"
  {sb} admin --as 111 "/unread"
  {sb} demo inbox --as 111
  {sb} demo app-link --as 222
  {sb} clients count "search:ксения"
  {sb} broadcast "list:VIP" --text "Скидка 10% для VIP до пятницы"
  {sb} jobs list
""".rstrip()


def _app_link(base: str, token: str, operator: tuple[int, str, str]) -> str:
    telegram_id, _role, name = operator
    return app_link(base, operator_init_data(token, telegram_id, name))


async def run_demo(options: DemoOptions) -> None:
    from aiohttp import web

    from commands.web import build_app, serve_installers
    from config import load_settings
    from store.migrate import migrate
    from store.runtime import open_store

    platforms = await start_platforms(options.email, options.flood, options.faults_every)
    runner: web.AppRunner | None = None
    simulator: asyncio.Task[None] | None = None
    try:
        ops_token = _ops_token(options.directory)
        config = write_config(options, platforms, ops_token)
        settings = load_settings(config)
        database = open_store(settings, check_schema=False)
        migrate(database)
        open_store(settings)  # mirrors the bots and operators of the configuration
        if options.fresh:
            summary = seed(demo_bots(platforms.imap is not None), options.clients)
            click.echo(f"seeded {summary.clients} clients and {summary.messages} messages")
        register_telegram_clients(platforms)
        app = build_app(settings, installers=serve_installers())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, options.host, options.port).start()
        click.echo(guide(options, config, platforms, ops_token), color=False)
        sys.stdout.flush()
        service_url = f"http://{options.host}:{options.port}"
        simulator = asyncio.create_task(simulate_clients(platforms, service_url, options.every_s))
        await _until_signal()
    finally:
        if simulator is not None:
            simulator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await simulator
        if runner is not None:
            await runner.cleanup()
        await platforms.telegram.stop()
        await platforms.graph.stop()
        await asyncio.to_thread(platforms.close)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _ops_token(directory: Path) -> str:
    """One ops token per demo folder, so a bookmarked dashboard link survives --resume."""
    path = directory / "ops_token"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(16)
    path.write_text(token, encoding="utf-8")
    return token


def _email_available() -> bool:
    return os.geteuid() == 0 and shutil.which("dovecot") is not None


@cli.group("demo", invoke_without_command=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".switchboard-demo"),
    show_default=True,
    help="Folder for the demo's data.",
)
@click.option(
    "--fresh/--resume",
    default=None,
    help="Start over, or keep the last run's data (asked when not given).",
)
@click.option(
    "--clients",
    type=click.IntRange(1, 100_000),
    default=300,
    show_default=True,
    help="Sample clients seeded on a fresh start.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--email/--no-email",
    default=None,
    help="Run an IMAP/SMTP pair (Dovecot; default: when installed and root).",
)
@click.option(
    "--every",
    "every_s",
    type=click.FloatRange(0.05),
    default=5.0,
    show_default=True,
    help="Seconds between simulated inbound messages.",
)
@click.option(
    "--flood",
    type=click.Choice(FLOOD_MODELS),
    default="bucket",
    show_default=True,
    help="How the emulated platforms count sends: token bucket, strict sliding window, or "
    "window with growing retry_after for repeated 429s.",
)
@click.option(
    "--faults",
    is_flag=True,
    help=f"Make every {FAULTS_EVERY}th send to a client fail (429, blocked, 5xx, chat not "
    "found in turn), so the dashboard shows retries and failures.",
)
@click.option(
    "--faults-every",
    type=click.IntRange(2, 1000),
    default=FAULTS_EVERY,
    show_default=True,
    help="With --faults: how many sends to clients, per platform, for one failure.",
)
@click.pass_context
def demo_command(
    ctx: click.Context,
    directory: Path,
    fresh: bool | None,
    clients: int,
    host: str,
    port: int,
    email: bool | None,
    every_s: float,
    flood: str,
    faults: bool,
    faults_every: int,
) -> None:
    """Run the whole product on emulated platforms with sample data: no tokens needed.

    `demo inbox` shows what the staff bot sent to an operator of the running demo."""
    if ctx.invoked_subcommand is not None:
        return  # a subcommand reads the running demo; the demo's options do not apply
    if busy_port(host, port):
        fail(
            f"--port {port}: {host}:{port} is already in use (another demo or server?); "
            "stop it or choose another with --port"
        )
    existing = (directory / "demo.db").exists()
    if fresh is None:
        fresh = not existing or (
            sys.stdin.isatty()
            and click.confirm(f"{directory} holds an earlier demo; start fresh?", default=False)
        )
    if fresh and directory.exists():
        shutil.rmtree(directory)
    elif not fresh and not existing:
        fail(f"--resume: no earlier demo in {directory}; run without --resume to start one")
    directory.mkdir(parents=True, exist_ok=True)
    if email and os.geteuid() != 0:
        fail("--email: the demo's Dovecot IMAP server needs root")
    options = DemoOptions(
        directory,
        fresh,
        clients,
        host,
        port,
        _email_available() if email is None else email,
        every_s,
        flood,
        faults_every if faults else 0,
    )
    asyncio.run(run_demo(options))
    click.echo("Switchboard demo stopped", err=True)


# The subcommands live in their own modules, which do not import this one: any import order works.
demo_command.add_command(inbox_command)
demo_command.add_command(app_link_command)
