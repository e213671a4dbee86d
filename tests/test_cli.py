from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from emulators.loopback import free_port
from tests.conftest import REPO_ROOT, run_cli


def test_help_and_version_need_no_configuration(tmp_path: Path) -> None:
    helped = run_cli("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for command in ("migrate", "serve", "version"):
        assert command in helped.stdout
    version = run_cli("version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip()


def test_migrate_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    first = run_cli("migrate", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    assert (tmp_path / "switchboard.db").exists()
    second = run_cli("migrate", cwd=tmp_path)
    assert second.returncode == 0
    assert "nothing to do" in second.stdout and "applied" not in second.stdout


def test_migrate_on_postgres_through_the_environment(tmp_path: Path, pg_url: str) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": pg_url}
    assert "applied" in run_cli("migrate", cwd=tmp_path, env=env).stdout
    assert "nothing to do" in run_cli("migrate", cwd=tmp_path, env=env).stdout


def test_wrong_key_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("bots: []\nbroker: memory://\n")
    result = run_cli("migrate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "switchboard: config.yaml: broker: unknown key"
    assert "Traceback" not in result.stderr


def test_config_flag_and_redacted_dump(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("bots: [{name: t, kind: telegram, token: '123:TOPSECRET'}]\n")
    result = run_cli("--config", str(path), "config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "TOPSECRET" not in result.stdout and "'***'" in result.stdout
    missing = run_cli("--config", str(tmp_path / "nope.yaml"), "migrate", cwd=tmp_path)
    assert missing.returncode == 2 and "no such configuration file" in missing.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"}
    result = run_cli("migrate", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start_serve(
    tmp_path: Path, port: int, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    full_env.update({"PYTHONPATH": str(REPO_ROOT), "SWITCHBOARD_PORT": str(port), **(env or {})})
    return subprocess.Popen(
        [sys.executable, "-m", "commands", "serve"],
        cwd=tmp_path,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_health(port: int, process: subprocess.Popen[str]) -> tuple[int, dict[str, object]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"serve exited early: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            return get_json(f"http://127.0.0.1:{port}/healthz")
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("serve did not answer within 20 s")


def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    port = free_port()
    process = start_serve(tmp_path, port)
    try:
        status, body = wait_for_health(port, process)
        assert status == 200
        assert body == {"status": "ok", "store": "ok", "broker": "in-process"}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_serve_reports_503_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    port = free_port()
    process = start_serve(tmp_path, port, {"SWITCHBOARD_BROKER_URL": "redis://127.0.0.1:1/0"})
    try:
        status, body = wait_for_health(port, process)
        assert status == 503
        assert body["store"] == "ok" and str(body["broker"]).startswith("unreachable")
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run_cli("serve", cwd=tmp_path, env={"SWITCHBOARD_PORT": str(free_port())})
    assert result.returncode == 1
    assert "run `./switchboard migrate`" in result.stderr
    assert "Traceback" not in result.stderr
