"""Migration 1950 (issue 14 item 5): on PostgreSQL ``client``'s primary key carries
``responsible_id``, so the tab counts of a search read each match's responsible from the key
(an index-only scan) instead of the client row; ``down`` restores the plain key. SQLite is left
as it is. The tab counts of a search stay what ``client`` itself says, on both databases."""

from __future__ import annotations

import importlib
import random

import peewee
import pytest

from commands.admin import CommandContext
from commands.admin import clients as admin_clients
from config import Settings
from store.clients.unread import is_unread
from store.models import Client
from store.permissions import set_override
from tests import factories as f
from tests.admin_support import make_staff
from tests.sqllog import captured_queries

MIGRATION = importlib.import_module("store.migrations.1950_client_key_with_responsible")
SEARCH = "search:анна"


def _key_definition(db: peewee.Database) -> str:
    (definition,) = db.execute_sql(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index AS i "
        "WHERE i.indrelid = 'client'::regclass AND i.indisprimary"
    ).fetchone()
    return str(definition)


def _world(staff: dict[str, CommandContext], seed: int) -> None:
    """~80 clients, a third of them matching ``анна`` (in the name, any case, or the
    messenger id), bound at random to the admin, either operator or nobody, some unread."""
    rng = random.Random(seed)
    owners = [None, *(ctx.operator.id for ctx in staff.values())]
    for i in range(80):
        kind = rng.randrange(4)
        name = ("Анна" if kind == 0 else "АННА-" if kind == 1 else "Борис") + f" {i}"
        messenger_id = f"анна{i}" if kind == 2 else None
        f.client(name, messenger_id, responsible=rng.choice(owners), unread=rng.random() < 0.3)


def _expected(ctx: CommandContext) -> dict[str, int]:
    """The tab counts of ``search:анна`` for ``ctx``, computed from ``client`` in Python."""
    me = ctx.operator.id
    everyone = ctx.operator.is_admin or ctx.can("view_others")
    seen = [
        c
        for c in Client.select()
        if ("анна" in (c.name or "").lower() or "анна" in c.messenger_id.lower())
        and (everyone or c.responsible_id in (None, me))
    ]
    return {
        "all": len(seen),
        "unanswered": sum(is_unread(c.id) for c in seen),
        "mine": sum(c.responsible_id == me for c in seen),
        "others": sum(c.responsible_id not in (None, me) for c in seen),
        "free": sum(c.responsible_id is None for c in seen),
    }


def _counts(ctx: CommandContext) -> dict[str, int]:
    counts = admin_clients.tab_counts(admin_clients.parse(ctx, SEARCH), ctx)
    assert all(n.exact for n in counts.values())
    return {name: n.value for name, n in counts.items()}


@pytest.mark.parametrize("seed", [1, 2])
def test_search_tab_counts_are_the_clients_own(
    db: peewee.Database, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = make_staff()
    _world(staff, seed)
    boris = staff["operator"]
    viewers = [("admin", staff["admin"]), ("operator, view_others", boris)]
    for keyed in (True, False):  # after up (the key carries the responsible), after down
        for label, ctx in viewers:
            expected = _expected(ctx)
            assert expected["all"] > 0 and expected["others"] > 0, label
            assert _counts(ctx) == expected, (label, keyed)
            monkeypatch.setattr(admin_clients, "ONE_PASS_CAPS", 0)  # a bounded count per tab
            assert _counts(ctx) == expected, (label, keyed, "per tab")
            monkeypatch.undo()
        MIGRATION.down(None, db)
    MIGRATION.up(None, db)
    set_override(boris.operator, "view_others", False, Settings().permissions)
    assert not boris.can("view_others")
    expected = _expected(boris)
    assert expected["others"] == 0 and expected["mine"] > 0
    assert _counts(boris) == expected


def test_postgres_key_carries_the_responsible_and_down_removes_it(pg_db: peewee.Database) -> None:
    assert _key_definition(pg_db).endswith("USING btree (id) INCLUDE (responsible_id)")
    MIGRATION.down(None, pg_db)
    assert _key_definition(pg_db).endswith("USING btree (id)")
    MIGRATION.up(None, pg_db)
    assert _key_definition(pg_db).endswith("USING btree (id) INCLUDE (responsible_id)")
    # Still the primary key: ids stay unique.
    c = f.client("Анна")
    with pytest.raises(peewee.IntegrityError), pg_db.atomic():
        pg_db.execute_sql(
            "INSERT INTO client (id, bot_id, messenger_id, created_at, last_action_at) "
            "SELECT id, bot_id, 'other', created_at, last_action_at FROM client WHERE id = %s",
            (c.id,),
        )


def test_postgres_search_tab_counts_read_the_responsible_from_the_key(
    pg_db: peewee.Database,
) -> None:
    staff = make_staff()
    _world(staff, 3)
    ctx = staff["admin"]
    pg_db.execute_sql("VACUUM ANALYZE client")  # pages all-visible, as a settled table's are
    with captured_queries() as seen:
        admin_clients.tab_counts(admin_clients.parse(ctx, SEARCH), ctx)
    [(sql, params)] = [s for s in seen if "client_search" in s[0]]
    # Sequential scans priced out: a small table shows what the planner may use.
    pg_db.execute_sql("SET enable_seqscan = off")
    try:
        plan = "\n".join(r[0] for r in pg_db.execute_sql("EXPLAIN " + sql, params).fetchall())
    finally:
        pg_db.execute_sql("RESET enable_seqscan")
    assert "Index Only Scan using client_pkey" in plan, plan


def test_sqlite_schema_is_left_as_it_is(sqlite_db: peewee.Database) -> None:
    before = sqlite_db.execute_sql("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    MIGRATION.down(None, sqlite_db)
    MIGRATION.up(None, sqlite_db)
    assert sqlite_db.execute_sql("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before
