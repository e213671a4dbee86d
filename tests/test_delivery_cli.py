"""The delivery commands as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import run_cli


def test_worker_refuses_the_memory_broker_in_one_line(tmp_path: Path) -> None:
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    result = run_cli("worker", cwd=tmp_path)
    assert result.returncode == 1
    assert "memory://" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _seed(tmp_path: Path, n: int) -> None:
    from store.db import database_proxy, open_database
    from store.inbound import get_or_create_client
    from store.models import Bot, Client
    from store.setup import sync_bots

    database = open_database(f"sqlite:///{tmp_path / 'switchboard.db'}")
    try:
        sync_bots([("shop_tg", "telegram")])
        bot = Bot.get(Bot.name == "shop_tg")
        for i in range(n):
            get_or_create_client(bot, str(7000 + i), name=f"Ксения {i}" if i % 2 else f"Bob {i}")
        Client.update(unsubscribed=True).where(Client.messenger_id == "7001").execute()
    finally:
        database.close()
        database_proxy.initialize(None)


CONFIG = """
timezone: Europe/Moscow
bots:
  - {name: shop_tg, kind: telegram, enabled: false, messages_per_second: 10}
"""


def test_broadcast_and_jobs_from_the_shell(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG)
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    _seed(tmp_path, 6)
    made = run_cli("broadcast", "Ксения", "--text", "Скидка 20%", "--yes", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(
        "Broadcast plan: 2 recipients of 3 matching; 1 skipped (1 unsubscribed, 0 blocked).\n"
        "• shop_tg (telegram): 2 recipients, 1 skipped; "
    )
    job_id = made.stdout.split("Started job ")[1].split()[0]
    shown = run_cli("jobs", "show", job_id, "--json", cwd=tmp_path)
    p = json.loads(shown.stdout)
    # Three "Ксения" clients; one unsubscribed is skipped.
    assert (p["state"], p["total"], p["skipped"], p["remaining"], p["sent"], p["failed"]) == (
        "running",
        3,
        1,
        2,
        0,
        0,
    )
    # Machines get ISO 8601 with the project's offset; people the project's time and zone.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00", p["created_at"]), p
    listed = run_cli("jobs", "list", cwd=tmp_path).stdout.splitlines()
    assert listed[0] == (
        "id\tkind\tstate\tprogress\ttotal\tsent\tfailed\tskipped\tcancelled\tremaining\tstarted"
    )
    assert listed[1].startswith(f"{job_id}\tbroadcast\trunning")
    assert listed[1].endswith(p["created_at"][:16].replace("T", " ") + " MSK")
    plain = run_cli("jobs", "show", job_id, cwd=tmp_path).stdout
    assert plain.startswith(f"job {job_id} broadcast running, started {listed[1][-20:]}: total 3")
    cancelled = run_cli("jobs", "cancel", job_id, cwd=tmp_path)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    p = json.loads(run_cli("jobs", "show", job_id, "--json", cwd=tmp_path).stdout)
    assert (p["state"], p["remaining"], p["cancelled"]) == ("cancelled", 0, 2)


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG)
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    for args, needle in (
        (("broadcast", "lisst:vip", "--text", "x"), "lisst"),
        (("broadcast", "--text", "  "), "empty"),
        (("jobs", "show", "99"), "switchboard: no job with id 99"),
        (("resend-failed", "--since", "yesterday"), "--since"),
        (("resend-failed", "--channel", "icq"), "--channel"),
    ):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode != 0, args
        assert needle in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_resend_failed_with_nothing_failed_makes_no_job(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG)
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    _seed(tmp_path, 2)
    made = run_cli("resend-failed", "--channel", "telegram", "--interval", "2", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Resend of failed messages plan: 0 recipients of 0 matching.")
    assert made.stdout.rstrip().endswith("Nothing to send.")
    assert run_cli("jobs", "list", cwd=tmp_path).stdout == ""


async def test_serve_in_memory_mode_sends_a_job_written_by_another_process(
    tmp_path: Path,
) -> None:
    """``switchboard broadcast`` in one process, the running ``serve`` (memory://) picks the job
    up within a tick (``dispatch_interval_s``, 0.2 s) and sends it."""
    import asyncio

    from aiohttp import web

    from commands.delivery import install_delivery
    from commands.web import build_app
    from config import load_settings
    from emulators.whatsapp import GraphEmulator
    from store.db import database_proxy
    from store.inbound import get_or_create_client
    from store.models import Bot
    from store.runtime import open_store
    from tests.broadcast_rig import until
    from tests.whatsapp_support import ACCESS_TOKEN, APP_SECRET, PHONE_ID, VERIFY_TOKEN

    async with GraphEmulator(access_token=ACCESS_TOKEN, seconds_per_recipient=0) as graph:
        bot = {
            "name": "wa",
            "kind": "whatsapp",
            "phone_number_id": PHONE_ID,
            "access_token": ACCESS_TOKEN,
            "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN,
            "api_base": graph.url,
        }
        config = {"database_url": f"sqlite:///{tmp_path / 'switchboard.db'}", "bots": [bot]}
        (tmp_path / "config.yaml").write_text(json.dumps(config))
        assert run_cli("migrate", cwd=tmp_path).returncode == 0
        settings = load_settings(str(tmp_path / "config.yaml"))
        database = open_store(settings)
        runner = web.AppRunner(build_app(settings, installers=[install_delivery]))
        await runner.setup()  # serve's startup: the dispatcher and worker threads run
        try:
            wa = Bot.get(Bot.name == "wa")
            for number in ("+15550001", "+15550002", "+15550003"):
                get_or_create_client(wa, number)
            made = await asyncio.to_thread(
                run_cli, "broadcast", "--text", "Hello from the shell", "--yes", cwd=tmp_path
            )
            assert made.returncode == 0, made.stderr
            took = await until(lambda: len(graph.sent) >= 3, "three messages sent", 10)
        finally:
            await runner.cleanup()
            database.close()
            database_proxy.initialize(None)
    assert sorted(m.to for m in graph.sent) == ["15550001", "15550002", "15550003"]
    # "Within a second"; the bound leaves room for a loaded machine.
    assert took < 2.0, took
