"""Delivery commands: ``switchboard worker`` and the delivery engine inside ``serve``."""

from __future__ import annotations

import click
from aiohttp import web

from commands.cli import CliContext, cli, log_format_option, pass_context, use_log_format
from config import Settings
from workers.broker import is_memory

ENGINE_KEY = web.AppKey("delivery_engine", object)


@cli.command("worker")
@click.option("--processes", type=click.IntRange(1, 64), default=None, help="Worker processes.")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="Threads each.")
@log_format_option
@pass_context
def worker_command(
    obj: CliContext, processes: int | None, threads: int | None, log_format: str
) -> None:
    """Send the outbox from Dramatiq worker processes (redis:// broker) until SIGTERM/Ctrl-C."""
    from store.runtime import open_store
    from workers.process import run_workers

    settings = obj.settings
    use_log_format(log_format, settings)
    if is_memory(settings.broker_url):
        raise click.ClickException(
            "broker_url is memory://: `./switchboard serve` runs the workers itself; "
            "set broker_url: redis://127.0.0.1:6379/0 to run separate workers"
        )
    open_store(settings)
    run_workers(
        settings,
        obj.config_path,
        processes=processes or settings.delivery.worker_processes,
        threads=threads or settings.delivery.worker_threads,
        on_engine=_register_hooks,
    )


def _register_hooks(engine: object) -> None:
    """Dispatcher tick hooks every dispatching process runs (job progress; unusable inbound
    items older than 7 days deleted, at most every 10 minutes; campaigns started, paced and
    settled, ``commands.campaigns.tick_hook``)."""
    from commands.campaigns import tick_hook
    from store.jobs import refresh_running
    from store.unparsed import purge_expired
    from workers.engine import Engine

    assert isinstance(engine, Engine)
    engine.tick_hooks.append(refresh_running)
    engine.tick_hooks.append(purge_expired)
    engine.tick_hooks.append(tick_hook(engine.settings))


def install_delivery(app: web.Application, settings: Settings) -> None:
    """In ``memory://`` mode, run the dispatcher and worker threads with the app."""
    from commands.metrics_counting import install_counting
    from workers.engine import Engine

    engine = Engine(settings)
    _register_hooks(engine)
    app[ENGINE_KEY] = engine
    install_counting(app, settings, engine.stats)  # inbound and webhook counters
    if not is_memory(settings.broker_url):
        return  # ``switchboard worker`` sends; this process only reads the engine's state

    async def start(_: web.Application) -> None:
        engine.start_dispatcher()
        engine.start_workers()

    async def stop(_: web.Application) -> None:
        import asyncio

        await asyncio.to_thread(engine.stop)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
