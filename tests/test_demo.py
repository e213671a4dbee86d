"""`switchboard demo` end to end: it starts, the printed commands work against it, a broadcast
leaves through the Telegram emulator, simulated clients keep writing, Ctrl-C stops it cleanly,
and a second run resumes the same data."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import httpx

from emulators.loopback import free_port
from tests.conftest import REPO_ROOT, cli_env, run_cli
from tests.terminal import on_a_terminal

READY = "Switchboard demo is running"


def _start(directory: Path, *flags: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "commands", "demo", "--dir", str(directory), "--no-email",
         "--port", str(free_port()), "--every", "0.2", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO_ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if READY in line:
            # The guide follows the ready line; read it to its last command.
            while "jobs list" not in line:
                line = process.stdout.readline()
                lines.append(line)
            return process, lines
    process.kill()
    raise AssertionError("the demo did not start:\n" + "".join(lines))


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    return out


def _inbound(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM message WHERE direction='in'").fetchone()[0])


def test_demo_runs_the_product_and_resumes(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    process, guide = _start(directory, "--fresh", "--clients", "40")
    config = directory / "config.yaml"
    try:
        text = "".join(guide)
        assert "seeded 40 clients" in text
        assert "by the bucket model" in text  # the default
        assert f"./switchboard --config {config}" in text and "/ops?token=" in text
        cli = ("--config", str(config))
        _run_printed_commands(text)
        _app_link_signs_in(text)
        hello = run_cli(*cli, "admin", "--as", "111", "/help", cwd=tmp_path)
        assert hello.stdout.startswith("Hello, Анна (admin). Commands:"), hello.stdout[:80]

        count = run_cli(*cli, "clients", "count", "channel:demo_tg", cwd=tmp_path)
        assert count.returncode == 0, count.stderr
        telegram_clients = int(count.stdout)
        assert telegram_clients > 0

        before = _inbound(directory / "demo.db")
        deadline = time.monotonic() + 30
        while _inbound(directory / "demo.db") < before + 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _inbound(directory / "demo.db") >= before + 3, "simulated clients stopped writing"
        _inbox_shows_a_notification(cli, tmp_path)

        job = run_cli(
            *cli, "broadcast", "channel:demo_tg", "--text", "Привет из демо", "--yes", cwd=tmp_path
        )
        assert job.returncode == 0, job.stderr
        job_id = job.stdout.split("Started job ")[1].split()[0]
        deadline = time.monotonic() + 60
        while True:
            shown = run_cli(*cli, "jobs", "show", job_id, "--json", cwd=tmp_path)
            state = json.loads(shown.stdout)
            if state["remaining"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        # Every subscribed seeded client is a user of the emulator: the broadcast is delivered.
        assert state["remaining"] == 0, state
        assert state["sent"] > 0 and state["failed"] == 0, state
        assert state["sent"] + state["skipped"] >= telegram_clients
    finally:
        out = _stop(process)
    assert "Switchboard demo stopped" in out

    process, guide = _start(
        directory, "--resume", "--flood", "window", "--faults", "--faults-every", "4"
    )
    try:
        assert "seeded" not in "".join(guide)  # resumed, not re-seeded
        assert "by the window model" in "".join(guide)
        assert "one send to a client in 4 fails" in "".join(guide)
        count = run_cli("--config", str(config), "clients", "count", cwd=tmp_path)
        assert int(count.stdout) >= 40
        _faults_show_retries_and_failures(("--config", str(config)), directory, tmp_path)
    finally:
        _stop(process)


def _faults_show_retries_and_failures(cli: tuple[str, ...], directory: Path, cwd: Path) -> None:
    """With --faults, a broadcast meets 429s and 5xx (retried, then delivered) and blocked or
    unknown chats (failed for good)."""
    job = run_cli(*cli, "broadcast", "channel:demo_tg", "--text", "Сбои", "--yes", cwd=cwd)
    assert job.returncode == 0, job.stderr
    job_id = int(job.stdout.split("Started job ")[1].split()[0])
    deadline = time.monotonic() + 90
    while True:
        state = json.loads(run_cli(*cli, "jobs", "show", str(job_id), "--json", cwd=cwd).stdout)
        if state["remaining"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert state["remaining"] == 0, state
    assert state["failed"] >= 1 and state["sent"] >= 1, state
    with sqlite3.connect(directory / "demo.db") as conn:
        retried = conn.execute(
            "SELECT count(*) FROM message WHERE job_id = ? AND attempts > 1 AND status != 'failed'",
            (job_id,),
        ).fetchone()[0]
        failed = conn.execute(
            "SELECT count(*) FROM message WHERE job_id = ? AND status = 'failed'", (job_id,)
        ).fetchone()[0]
    assert retried >= 1 and failed >= 1, (retried, failed)


def _app_link_signs_in(guide: str) -> None:
    """The printed Mini App link serves the app, and its initData opens a session as 111."""
    link = next(line.strip() for line in guide.splitlines() if "/app/#tgWebAppData=" in line)
    base, fragment = link.split("/app/#", 1)
    hash_params = dict(part.split("=", 1) for part in fragment.split("&"))
    page = httpx.get(f"{base}/app/")
    assert page.status_code == 200 and "app.js" in page.text
    init_data = unquote(hash_params["tgWebAppData"])
    session = httpx.post(f"{base}/app/api/v1/session", json={"init_data": init_data})
    assert session.status_code == 200, session.text
    auth = {"Authorization": f"Bearer {session.json()['token']}"}
    me = httpx.get(f"{base}/app/api/v1/me", headers=auth).json()
    assert (me["telegram_id"], me["role"]) == (111, "admin")


def _inbox_shows_a_notification(cli: tuple[str, ...], cwd: Path) -> None:
    """Clients wrote in: `demo inbox` shows the staff bot's notification to the admin, read from
    the Bot API emulator, with its buttons and their data."""
    deadline = time.monotonic() + 30
    while True:
        inbox = run_cli(*cli, "demo", "inbox", "--as", "111", cwd=cwd)
        assert inbox.returncode == 0, inbox.stderr
        if "→" in inbox.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert inbox.stdout.startswith("The staff bot's messages to 111:"), inbox.stdout
    assert "newest last" in inbox.stdout and "MSK" in inbox.stdout, inbox.stdout
    assert "→" in inbox.stdout, inbox.stdout  # a button and its data
    nobody = run_cli(*cli, "demo", "inbox", "--as", "999", cwd=cwd)
    assert nobody.stdout.strip() == "The staff bot has sent nothing to 999 yet."


def _run_printed_commands(guide: str) -> None:
    """Every command the demo printed, typed verbatim into a fresh shell in the checkout (where
    `make demo` runs) on a terminal, answering yes when asked: each exits 0."""
    printed = [line.strip() for line in guide.splitlines() if line.strip().startswith("./")]
    assert len(printed) >= 6, guide
    # The wrapper runs the checkout's .venv; a worktree without one uses this interpreter's.
    env = cli_env({"SWITCHBOARD_VENV": sys.prefix})
    for line in printed:
        shell = ["bash", "--noprofile", "--norc", "-c", line]
        code, out = on_a_terminal(shell, REPO_ROOT, "y", env=env)
        assert code == 0 and "Traceback" not in out, f"{line}\n{out}"
        if " broadcast " in line:
            assert "Broadcast plan:" in out and "Started job" in out, out


def test_a_busy_port_is_named_before_anything_is_seeded(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "demo", "--dir", str(tmp_path / "demo"), "--fresh", "--no-email", "--port", str(port),
            cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"switchboard: --port {port}: 127.0.0.1:{port} is already in use (another demo or "
        "server?); stop it or choose another with --port"
    )
    assert not (tmp_path / "demo").exists()  # nothing seeded, nothing deleted


def test_resume_without_an_earlier_demo_is_refused(tmp_path: Path) -> None:
    result = run_cli("demo", "--dir", str(tmp_path / "none"), "--resume", cwd=tmp_path)
    assert result.returncode == 1
    assert "no earlier demo" in result.stderr
    assert "Traceback" not in result.stderr
