"""Roles and permissions (issue 15 item 6): every admin command x role x override against a
table, on SQLite (the whole table) and PostgreSQL (a slice); bulk and card actions checked per
action; other operators' clients read-only; the CLI's ``--as`` refused the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from commands.admin import ADMIN_COMMANDS, CommandContext
from config import CAPABILITIES, Settings
from store.db import database_proxy
from store.models import AuditLog, Client, OperatorGrant
from store.permissions import (
    UnknownCapability,
    capabilities_of,
    check_capability,
    set_override,
)
from tests import factories as f
from tests.admin_support import buttons, make_staff, run
from tests.conftest import migrated_store
from tests.services import temporary_postgres_database
from tests.test_clients_cli import Shell, op, shell  # noqa: F401 (the CLI fixture)

# What each command needs: written out here, not read from the registry, so that a command's
# capability changed by mistake (or a new command without an entry) fails this test.
NEEDS: dict[str, str | None] = {
    "app": None,
    "assign": None,
    "autoassign": "manage_operators",
    "broadcast": "broadcast",
    "bulk": "bulk",
    "campaign": "broadcast",
    "campaigns": "broadcast",
    "cancel": None,
    "chatview": None,
    "client": None,
    "clients": None,
    "comment": "reply",
    "export": "export",
    "filters": None,
    "help": None,
    "jobs": None,
    "operators": "manage_operators",
    "preview": None,
    "purge_unsubscribed": "purge",
    "readall": None,
    "reply": "reply",
    "resendfailed": "broadcast",
    "shift": None,
    "start": None,
    "unread": None,
    "write_email": "reply",
    "write_whatsapp": "reply",
}
# The defaults a small business gets (config.yaml without a permissions: section).
ROLE_MAY = {
    "admin": frozenset(CAPABILITIES),
    "operator": frozenset({"view_others", "reply", "bulk"}),
}
OVERRIDES = ("none", "grant", "revoke")


def expected(command: str, role: str, override: str) -> bool:
    needs = NEEDS[command]
    if needs is None:
        return True  # nothing to check, whatever the overrides
    if override == "grant":
        return True
    if override == "revoke":
        return False
    return needs in ROLE_MAY[role]


def _refusal(needs: str) -> str:
    return f"needs the '{needs}' permission"


def check(staff: dict[str, CommandContext], command: str, role: str, override: str) -> None:
    """Set the override, run ``/command`` as ``role`` and compare with the table."""
    ctx = staff["admin" if role == "admin" else "operator"]
    OperatorGrant.delete().execute()
    needs = NEEDS[command]
    settings = ctx.settings
    if override != "none":
        # A capability-free command is checked with every capability revoked (or granted).
        for capability in [needs] if needs else CAPABILITIES:
            set_override(ctx.operator, capability, override == "grant", settings.permissions)
    reply = ADMIN_COMMANDS.handle_text(ctx, f"/{command}")
    allowed = expected(command, role, override)
    if needs is not None and not allowed:
        assert reply.error and reply.text.startswith("Sorry, ") and _refusal(needs) in reply.text
        assert "\n" not in reply.text  # one polite line, no usage
    else:
        assert "permission, which you do not have" not in reply.text, reply.text
    # /help lists exactly what one may use.
    listed = ADMIN_COMMANDS.handle_text(ctx, "/help").text
    usage = ADMIN_COMMANDS.commands[command].usage
    assert (f"\n{usage} — " in listed) == allowed


Store = tuple[peewee.Database, dict[str, CommandContext]]


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store for the whole table (a fresh one per case would cost minutes here)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('perms') / 'store.db'}"
    with migrated_store(url) as database:
        yield database, make_staff()


@pytest.fixture(scope="module")
def pg_store() -> Iterator[Store]:
    with temporary_postgres_database() as url, migrated_store(url) as database:
        yield database, make_staff()


@pytest.fixture
def sqlite_staff(sqlite_store: Store) -> dict[str, CommandContext]:
    database, staff = sqlite_store
    database_proxy.initialize(database)  # a test between may have bound another store
    return staff


@pytest.fixture
def pg_staff(pg_store: Store) -> dict[str, CommandContext]:
    database, staff = pg_store
    database_proxy.initialize(database)
    return staff


def test_the_table_names_every_registered_command() -> None:
    assert set(NEEDS) == set(ADMIN_COMMANDS.commands)
    assert {c.name: c.capability for c in ADMIN_COMMANDS.commands.values()} == NEEDS


@pytest.mark.parametrize("override", OVERRIDES)
@pytest.mark.parametrize("role", ["admin", "operator"])
@pytest.mark.parametrize("command", sorted(NEEDS))
def test_every_command_role_and_override_on_sqlite(
    sqlite_staff: dict[str, CommandContext], command: str, role: str, override: str
) -> None:
    check(sqlite_staff, command, role, override)


@pytest.mark.parametrize("override", OVERRIDES)
@pytest.mark.parametrize("role", ["admin", "operator"])
@pytest.mark.parametrize("command", ["broadcast", "export", "operators", "purge_unsubscribed"])
def test_a_slice_of_the_table_on_postgres(
    pg_staff: dict[str, CommandContext], command: str, role: str, override: str
) -> None:
    check(pg_staff, command, role, override)


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    return make_staff()


def test_bulk_actions_are_checked_per_action(staff: dict[str, CommandContext]) -> None:
    boris = staff["operator"]
    f.client("Free one")
    pin = run(boris, "/bulk pin tab:all")
    assert "Confirm?" in pin.text
    delete = run(boris, "/bulk delete tab:all")
    assert delete.error and _refusal("delete") in delete.text and "\n" not in delete.text
    # The selection menu of /clients offers only what he may do.
    listing = run(boris, "/clients")
    select = next(b for b in buttons(listing) if b.text.endswith("Select clients"))
    assert select.data is not None
    chosen = ADMIN_COMMANDS.handle_button(boris, select.data)
    every = next(b for b in buttons(chosen) if b.text.startswith("Select all"))
    assert every.data is not None
    ADMIN_COMMANDS.handle_button(boris, every.data)
    menu = ADMIN_COMMANDS.handle_button(boris, every.data.rsplit(":", 1)[0] + ":b")
    offered = {b.text for b in buttons(menu)}
    assert "pin" in offered and "delete" not in offered
    # A stored delete confirmation is refused at the press as well.
    token = every.data.split(":")[1]
    pressed = ADMIN_COMMANDS.handle_button(boris, f"bs:{token}:delete")
    assert pressed.error and _refusal("delete") in pressed.text
    set_override(boris.operator, "delete", True, boris.settings.permissions)
    assert "Confirm?" in run(boris, "/bulk delete tab:all").text
    assert Client.select().count() == 1  # nothing deleted before Confirm


def test_the_card_menu_checks_delete_and_reply(staff: dict[str, CommandContext]) -> None:
    boris = staff["operator"]
    mine = f.client("Mine", responsible=boris.operator.id)
    card = run(boris, f"/client {mine.id}")
    data = {b.data for b in buttons(card)}
    assert f"cm:{mine.id}:p" in data and f"cm:{mine.id}:r" in data
    assert f"cm:{mine.id}:d" not in data  # delete is an admin's until granted
    refused = ADMIN_COMMANDS.handle_button(boris, f"cm:{mine.id}:D")
    assert refused.error and _refusal("delete") in refused.text
    assert Client.get_or_none(Client.id == mine.id) is not None
    set_override(boris.operator, "reply", False, boris.settings.permissions)
    assert f"cm:{mine.id}:r" not in {b.data for b in buttons(run(boris, f"/client {mine.id}"))}
    assert _refusal("reply") in run(boris, f"/reply {mine.id} hello").text
    set_override(boris.operator, "delete", True, boris.settings.permissions)
    assert "deleted" in ADMIN_COMMANDS.handle_button(boris, f"cm:{mine.id}:D").text
    assert Client.get_or_none(Client.id == mine.id) is None


def test_others_clients_are_read_only(staff: dict[str, CommandContext]) -> None:
    boris, vera = staff["operator"], staff["other"]
    hers = f.client("Vera's client", responsible=vera.operator.id)
    card = run(boris, f"/client {hers.id}")
    assert not card.error and "Vera's client" in card.text and "read, not act" in card.text
    assert not any(str(b.data).startswith("cm:") for b in buttons(card))
    for data in (f"cm:{hers.id}:p", f"cm:{hers.id}:b", f"cm:{hers.id}:a"):
        assert "among yours" in ADMIN_COMMANDS.handle_button(boris, data).text
    assert "among yours" in run(boris, f"/reply {hers.id} hi").text
    assert "among yours" in run(boris, f"/assign {hers.id} me").text
    assert Client.get_by_id(hers.id).responsible_id == vera.operator.id
    set_override(boris.operator, "view_others", False, boris.settings.permissions)
    assert "among yours" in run(boris, f"/client {hers.id}").text


def test_operators_grant_and_revoke(staff: dict[str, CommandContext]) -> None:
    anna, boris = staff["admin"], staff["operator"]
    assert "'export' permission" in run(boris, "/export csv").text
    granted = run(anna, "/operators grant 222 EXPORT")
    assert granted.text == "Boris may now use 'export'."
    assert "may also: export" in run(anna, "/operators").text
    assert "permission" not in run(boris, "/export csv").text
    run(anna, "/operators revoke 222 reply")
    assert "may also: export; may not: reply" in run(anna, "/operators").text
    assert capabilities_of(boris.operator, boris.settings.permissions) == {
        "view_others",
        "bulk",
        "export",
    }
    # Back to the role's default: the override is dropped, not stored.
    run(anna, "/operators grant 222 reply")
    run(anna, "/operators revoke 222 export")
    assert OperatorGrant.select().count() == 0
    assert [a.action for a in AuditLog.select().order_by(AuditLog.id)] == [
        "grant",
        "revoke",
        "grant",
        "revoke",
    ]
    unknown = run(anna, "/operators grant 222 fly")
    assert unknown.error and "Unknown capability 'fly'" in unknown.text
    assert "No operator with Telegram id 999" in run(anna, "/operators grant 999 export").text
    assert "from yourself" in run(anna, "/operators revoke 111 manage_operators").text
    # manage_operators granted, an operator manages capabilities like an admin.
    run(anna, "/operators grant 222 manage_operators")
    assert run(boris, "/operators grant 222 purge").text == "Boris may now use 'purge'."


def test_a_revoked_capability_closes_an_open_prompt(staff: dict[str, CommandContext]) -> None:
    boris = staff["operator"]
    mine = f.client("Mine", responsible=boris.operator.id)
    prompt = ADMIN_COMMANDS.handle_button(boris, f"cm:{mine.id}:r")
    assert "Send the reply" in prompt.text
    set_override(boris.operator, "reply", False, boris.settings.permissions)
    answer = ADMIN_COMMANDS.handle_text(boris, "hello")
    assert answer.error and _refusal("reply") in answer.text
    assert "Send a command" in ADMIN_COMMANDS.handle_text(boris, "hello again").text


def test_permissions_in_config_are_checked_and_used() -> None:
    with pytest.raises(ValidationError, match="unknown capability 'fly'"):
        Settings.model_validate({"permissions": {"operator": ["reply", "fly"]}})
    settings = Settings.model_validate({"permissions": {"operator": ["reply", "export"]}})
    assert settings.permissions.of_role("operator") == {"reply", "export"}
    assert settings.permissions.of_role("admin") == frozenset(CAPABILITIES)
    assert settings.permissions.of_role("stranger") == frozenset()


def test_the_command_line_as_an_operator_is_checked_the_same_way(
    shell: Shell,  # noqa: F811
    tmp_path: Path,
) -> None:
    f.client("Free one", on=f.bot("shop_tg"))
    out = tmp_path / "x.csv"
    refused = shell("clients", "export", "-o", str(out), "--as", "222")
    assert refused.code == 1 and "needs the 'export' permission" in refused.err
    assert len(refused.err.strip().splitlines()) == 1 and not out.exists()
    assert "'broadcast'" in shell("broadcast", "tab:all", "--text", "hi", "--as", "222").err
    assert "'purge'" in shell("clients", "purge-unsubscribed", "--yes", "--as", "222").err
    assert "'delete'" in shell("clients", "bulk", "delete", "tab:all", "--yes", "--as", "222").err
    assert Client.select().count() == 1
    granted = shell("admin", "--as", "111", "/operators grant 222 export")
    assert granted.code == 0, granted.err
    assert shell("clients", "export", "-o", str(out), "--as", "222").code == 0
    assert "Free one" in out.read_text(encoding="utf-8")
    # The operator's listing shows other operators' clients too (read-only view_others).
    f.client("Boris's", on=f.bot("shop_tg"), responsible=op(333).id)
    assert shell("clients", "count", "--as", "222").out.strip() == "2"
    shell("admin", "--as", "111", "/operators revoke 222 view_others")
    assert shell("clients", "count", "--as", "222").out.strip() == "1"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    role=st.sampled_from(["admin", "operator"]),
    changes=st.lists(st.tuples(st.sampled_from(CAPABILITIES), st.booleans()), max_size=12),
)
def test_overrides_apply_in_order_and_store_only_what_differs(
    staff: dict[str, CommandContext], role: str, changes: list[tuple[str, bool]]
) -> None:
    """Any sequence of grants and revokes: the last word per capability wins, over the role's
    default; only overrides that differ from the default are stored (each example starts
    from no overrides, so the shared store is fine)."""
    ctx = staff["admin" if role == "admin" else "operator"]
    OperatorGrant.delete().execute()
    last: dict[str, bool] = {}
    for capability, granted in changes:
        set_override(ctx.operator, capability, granted, ctx.settings.permissions)
        last[capability] = granted
    default = ROLE_MAY[role]
    want = (default | {c for c, g in last.items() if g}) - {c for c, g in last.items() if not g}
    assert capabilities_of(ctx.operator, ctx.settings.permissions) == want
    assert OperatorGrant.select().count() == sum((c in default) != g for c, g in last.items())


@given(st.text(max_size=30))
def test_a_capability_name_is_known_or_one_line_error(name: str) -> None:
    try:
        known = check_capability(name)
    except UnknownCapability as exc:
        assert name.strip().lower() not in CAPABILITIES
        assert "\n" not in str(exc) and "Unknown capability" in str(exc)
    else:
        assert known in CAPABILITIES and known == name.strip().lower()
