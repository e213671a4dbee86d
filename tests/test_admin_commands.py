from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.admin import ADMIN_COMMANDS, CommandContext, find_operator
from commands.admin.reply import CALLBACK_LIMIT, MESSAGE_LIMIT, Button, split_text
from config import Settings
from store.models import Bot, Client, Operator, OperatorPreference
from store.setup import bootstrap_operators
from tests.conftest import run_cli


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    bootstrap_operators(
        [(111, "admin", "Anna", "anna@shop.test"), (222, "operator", "Boris", None)]
    )
    settings = Settings()
    return {
        name: CommandContext(operator=find_operator(tid), settings=settings)  # type: ignore[arg-type]
        for name, tid in (("admin", 111), ("operator", 222))
    }


def every_button(reply_buttons: list[list[Button]]) -> list[Button]:
    return [b for row in reply_buttons for b in row]


def test_help_lists_only_what_the_role_may_use(staff: dict[str, CommandContext]) -> None:
    admin_help = ADMIN_COMMANDS.handle_text(staff["admin"], "/help").text
    operator_help = ADMIN_COMMANDS.handle_text(staff["operator"], "/help").text
    assert "/operators" in admin_help and "/operators" not in operator_help
    assert "/preview" in operator_help and "/chatview" in operator_help


def test_unknown_command_and_plain_text_get_guidance(staff: dict[str, CommandContext]) -> None:
    assert (
        "Unknown command /frobnicate"
        in ADMIN_COMMANDS.handle_text(staff["admin"], "/frobnicate").text
    )
    assert "/help" in ADMIN_COMMANDS.handle_text(staff["admin"], "hello").text
    # A command addressed to the bot by name in a group still works.
    assert "Commands:" in ADMIN_COMMANDS.handle_text(staff["admin"], "/help@ShopAdminBot").text


def test_admins_manage_operators_and_operators_cannot(staff: dict[str, CommandContext]) -> None:
    refused = ADMIN_COMMANDS.handle_text(staff["operator"], "/operators add 333 operator Vera")
    assert "needs the 'manage_operators' permission" in refused.text
    assert Operator.get_or_none(Operator.telegram_id == 333) is None

    added = ADMIN_COMMANDS.handle_text(staff["admin"], '/operators add 333 operator "Vera K"')
    assert "Added Vera K" in added.text
    assert find_operator(333) is not None
    listing = ADMIN_COMMANDS.handle_text(staff["admin"], "/operators").text
    assert "333 — Vera K (operator)" in listing

    bot = Bot.create(name="t", kind="telegram")
    vera = find_operator(333)
    assert vera is not None
    Client.create(bot=bot, messenger_id="1", responsible=vera.id)
    removed = ADMIN_COMMANDS.handle_text(staff["admin"], "/operators remove 333")
    assert "1 of their clients are free" in removed.text
    assert find_operator(333) is None
    assert Client.get().responsible_id is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("add 12x operator V", "is not a Telegram user id"),
        ("add 444 boss V", "Role must be admin or operator"),
        ("add 444", "Give the Telegram id, the role and the name"),
        ("remove 111", "cannot remove yourself"),
        ("remove 999", "No operator with Telegram id 999"),
        ('add 1 admin "unclosed', "Cannot read the arguments"),
        ("fire 1", "Unknown action"),
    ],
)
def test_bad_operator_arguments_change_nothing(
    staff: dict[str, CommandContext], args: str, expected: str
) -> None:
    before = Operator.select().count()
    reply = ADMIN_COMMANDS.handle_text(staff["admin"], f"/operators {args}")
    assert expected in reply.text
    assert "Usage: /operators" in reply.text
    assert Operator.select().count() == before


def test_preview_and_chatview_toggle_per_operator(staff: dict[str, CommandContext]) -> None:
    admin, operator = staff["admin"], staff["operator"]
    reply = ADMIN_COMMANDS.handle_text(admin, "/preview")
    tag_button = next(b for b in every_button(reply.buttons) if b.data == "pv:f:tag")
    assert tag_button.text.startswith("▫️")
    toggled = ADMIN_COMMANDS.handle_button(admin, "pv:f:tag")
    assert toggled.edit
    assert next(b for b in every_button(toggled.buttons) if b.data == "pv:f:tag").text.startswith(
        "✅"
    )
    ADMIN_COMMANDS.handle_text(admin, "/preview var Размер")
    assert OperatorPreference.get(
        OperatorPreference.operator == admin.operator.id
    ).preview_variables == ["Размер"]
    # The other operator's settings are untouched.
    other = ADMIN_COMMANDS.handle_text(operator, "/preview")
    assert next(b for b in every_button(other.buttons) if b.data == "pv:f:tag").text.startswith("▫️")

    ADMIN_COMMANDS.handle_button(admin, "cv:system")
    view = OperatorPreference.get(OperatorPreference.operator == admin.operator.id).chat_view
    assert "system" not in view and "client" in view
    assert "Unknown kind" in ADMIN_COMMANDS.handle_button(admin, "cv:nonsense").text
    assert "no longer valid" in ADMIN_COMMANDS.handle_button(admin, "zz:1").text


def test_callback_data_over_64_bytes_is_refused() -> None:
    Button("ok", data="x" * CALLBACK_LIMIT)
    with pytest.raises(ValueError, match="64 bytes"):
        Button("too long", data="я" * 33)


@settings(max_examples=60)
@given(st.text(alphabet=st.sampled_from("ab \nя"), max_size=3 * MESSAGE_LIMIT))
def test_split_text_keeps_every_character_within_the_limit(text: str) -> None:
    pieces = split_text(text)
    assert all(len(p) <= MESSAGE_LIMIT for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_admin_cli_runs_the_same_commands(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "operators: [{telegram_id: 111, role: admin, name: Anna}]\n"
    )
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    result = run_cli("admin", "--as", "111", "/chatview", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--press cv:client" in result.stdout
    pressed = run_cli("admin", "--as", "111", "--press", "cv:client", cwd=tmp_path)
    assert "▫️ Client messages" in pressed.stdout
    both = run_cli("admin", "--as", "111", "--press", "cv:client", "/chatview", cwd=tmp_path)
    assert both.returncode == 2 and both.stdout == ""  # refused: neither ran
    assert "give a command text or --press DATA, not both" in both.stderr
    stranger = run_cli("admin", "--as", "999", "/help", cwd=tmp_path)
    assert stranger.returncode == 1
    assert stranger.stderr.strip() == "switchboard: Telegram id 999 is not a known operator"


def test_assign_rules_by_role(staff: dict[str, CommandContext]) -> None:
    admin, operator = staff["admin"], staff["operator"]
    bot = Bot.create(name="t", kind="telegram")
    free = Client.create(bot=bot, messenger_id="1", name="Ксения")
    taken = Client.create(bot=bot, messenger_id="2", responsible=admin.operator.id)

    assert "now bound to you" in ADMIN_COMMANDS.handle_text(operator, f"/assign {free.id} me").text
    assert Client.get_by_id(free.id).responsible_id == operator.operator.id
    # Another operator's client is out of an operator's reach, and so is giving clients away.
    assert (
        f"No client {taken.id}"
        in ADMIN_COMMANDS.handle_text(operator, f"/assign {taken.id} me").text
    )
    assert "not give them" in ADMIN_COMMANDS.handle_text(operator, f"/assign {free.id} Anna").text
    # An admin can move any client to anyone, by name or Telegram id, or free it.
    assert "bound to Boris" in ADMIN_COMMANDS.handle_text(admin, f"/assign {taken.id} 222").text
    assert "bound to nobody" in ADMIN_COMMANDS.handle_text(admin, f"/assign {taken.id} none").text
    assert "No operator 'Zed'" in ADMIN_COMMANDS.handle_text(admin, f"/assign {taken.id} Zed").text
    # Every client is an admin's: a missing one is just missing, not "not among yours".
    missing = ADMIN_COMMANDS.handle_text(admin, "/assign 99999 me")
    assert missing.error and "No client 99999." in missing.text and "among" not in missing.text
    assert "among yours" in ADMIN_COMMANDS.handle_text(operator, "/assign 99999 me").text


def test_shift_and_autoassign(staff: dict[str, CommandContext]) -> None:
    admin, operator = staff["admin"], staff["operator"]
    assert "on shift" in ADMIN_COMMANDS.handle_text(operator, "/shift on").text
    assert "'manage_operators'" in ADMIN_COMMANDS.handle_text(operator, "/autoassign on").text
    reply = ADMIN_COMMANDS.handle_text(admin, "/autoassign on").text
    assert reply == "Automatic distribution is on. On shift: Boris."
    assert "Say on or off" in ADMIN_COMMANDS.handle_text(admin, "/autoassign maybe").text
