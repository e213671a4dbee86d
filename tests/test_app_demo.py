"""The demo's way into the Mini App (issue 17 item 8): ``demo app-link --as ID`` prints a link
whose initData Telegram's check (aiogram's) accepts for that operator; a stranger is refused
in one line. The running demo's printed link is tested in tests/test_demo.py."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import yaml

from commands.app.auth import verify_init_data
from tests.conftest import run_cli

TOKEN = "100002:DEMO-admin-bot"


def _config(tmp_path: Path) -> Path:
    config = {
        "database_url": f"sqlite:///{tmp_path / 'demo.db'}",
        "port": 8099,
        "admin_bot": {"token": TOKEN, "mode": "polling", "api_base": "http://127.0.0.1:9"},
        "operators": [{"telegram_id": 222, "role": "operator", "name": "Борис"}],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_app_link_signs_in_as_the_operator(tmp_path: Path) -> None:
    cli = ("--config", str(_config(tmp_path)))
    assert run_cli(*cli, "migrate", cwd=tmp_path).returncode == 0
    done = run_cli(*cli, "demo", "app-link", "--as", "222", "--dark", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith("http://127.0.0.1:8099/app/#tgWebAppData=")
    fragment = dict(part.split("=", 1) for part in link.split("#", 1)[1].split("&"))
    assert '"bg_color":"#212121"' in unquote(fragment["tgWebAppThemeParams"])
    parsed = verify_init_data(TOKEN, unquote(fragment["tgWebAppData"]), max_age_s=60)
    assert parsed.user is not None
    assert (parsed.user.id, parsed.user.first_name) == (222, "Борис")

    stranger = run_cli(*cli, "demo", "app-link", "--as", "999", cwd=tmp_path)
    assert stranger.returncode == 1
    assert stranger.stderr.strip() == (
        "switchboard: demo app-link: 999 is not an operator of the demo (try 111)"
    )
