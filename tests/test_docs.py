"""The docs cannot drift: generated references equal their registries, examples name real
commands, and relative links lead to files that exist."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from bench.pgsettings import deploy_settings
from commands.admin import docs as command_docs
from commands.app import api_docs as app_api_docs
from commands.cli import cli
from config import reference as config_reference
from config.settings import Settings
from store.filters import docs as filter_docs

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "stale: run `make docs` and commit the result"


@pytest.mark.parametrize(
    ("path", "render"),
    [
        ("docs/filters.md", filter_docs.render),
        ("docs/commands.md", command_docs.render),
        ("docs/configuration.md", config_reference.render),
        ("docs/app-api.md", app_api_docs.render),
    ],
)
def test_generated_references_equal_their_registries(path: str, render: object) -> None:
    assert callable(render)
    assert (ROOT / path).read_text(encoding="utf-8") == render(), f"{path} is {REGENERATE}"


def test_every_admin_command_is_in_the_reference() -> None:
    from commands.admin import ADMIN_COMMANDS

    text = command_docs.render()
    for command in ADMIN_COMMANDS.commands.values():
        assert f"`{command.usage.replace('|', chr(92) + '|')}`" in text


def test_the_generators_run_as_modules() -> None:
    for module, path in (
        ("store.filters.docs", "docs/filters.md"),
        ("commands.admin.docs", "docs/commands.md"),
        ("config.reference", "docs/configuration.md"),
        ("commands.app.api_docs", "docs/app-api.md"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, check=True
        )
        assert done.stdout == (ROOT / path).read_text(encoding="utf-8")


def _settings_models() -> list[type[BaseModel]]:
    """Every settings model reachable from ``Settings`` (sections, bot kinds, nested)."""
    found: list[type[BaseModel]] = [Settings]
    for model in found:
        for field in model.model_fields.values():
            found += [m for m in config_reference.models_in(field.annotation) if m not in found]
    return found


def test_every_configuration_key_has_a_meaning_and_is_in_the_reference() -> None:
    models = _settings_models()
    assert {m.__name__ for m in models} >= {
        "DeliverySettings",
        "AdminBotSettings",
        "OperatorSettings",
        "TelegramBotSettings",
        "WhatsAppBotSettings",
        "WhatsAppTemplateSettings",
        "EmailBotSettings",
        "ImapSettings",
        "SmtpSettings",
    }
    missing = [
        f"{m.__name__}.{name}"
        for m in models
        for name, field in m.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not missing, (
        "write what these keys mean as a string under each field in config/ (settings.py or "
        "its section's module), "
        "then `make docs`: " + ", ".join(missing)
    )
    text = config_reference.render()
    for model in models:
        for name in model.model_fields:
            assert f"| `{name}` |" in text, name
    assert "| `initial_sync` | text | `new` |" in text
    assert "| `port` | integer > 0, < 65536 | from `security` |" in text


def check_cli_args(args: list[str]) -> None:
    """``switchboard ARGS --help`` through the real CLI: exits 0 only when every command and
    option in ARGS exists (``--help`` stops it before anything runs)."""
    done = CliRunner().invoke(cli, [*args, "--help"])
    assert done.exit_code == 0, f"switchboard {' '.join(args)}: {done.output}"


def test_compose_services_run_real_commands() -> None:
    compose = yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    ours = {n: s for n, s in services.items() if s.get("image") == "switchboard:latest"}
    assert set(ours) == {"migrate", "web", "worker"}
    for service in ours.values():
        check_cli_args(service["command"])
    assert "migrate" in services["web"]["depends_on"]


@pytest.mark.parametrize(
    "unit", sorted(p.name for p in (ROOT / "deploy/systemd").glob("*.service"))
)
def test_systemd_units_run_real_commands(unit: str) -> None:
    text = (ROOT / "deploy/systemd" / unit).read_text(encoding="utf-8")
    [line] = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0].endswith("/switchboard")
    check_cli_args(argv[1:])


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize(
    "doc", ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
)
def test_relative_links_lead_to_files(doc: str) -> None:
    base = (ROOT / doc).parent
    for target in LINK.findall((ROOT / doc).read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (base / target).exists(), f"{doc} links to missing {target}"


def test_compose_runs_postgresql_with_the_deploy_settings() -> None:
    compose = yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text(encoding="utf-8"))
    command = compose["services"]["postgres"]["command"]
    flags = dict(arg.split("=", 1) for arg in command[2::2])
    assert command[0] == "postgres" and set(command[1::2]) == {"-c"}
    assert flags == deploy_settings()
    assert {"shared_buffers", "work_mem", "random_page_cost"} <= set(flags)
