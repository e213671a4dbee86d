"""``message.bot_id`` enforced once per statement on PostgreSQL (migration 1480, issue 14
item 7): a message naming a missing bot is refused whole, deleting a bot deletes its messages,
an id change or truncate leaving messages behind is refused, ``down`` restores the declared key.
"""

from __future__ import annotations

import importlib

import peewee
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.models import Bot, Client, Message
from tests import factories

MIGRATION = "store.migrations.1480_message_bot_reference_per_statement"
MISSING = 30_000  # no bot has this id (bot ids are smallint)


def _message(client: Client, bot_id: int, text: str = "hi") -> dict[str, object]:
    return {
        "client": client.id,
        "bot": bot_id,
        "direction": "in",
        "author_kind": "client",
        "text": text,
    }


def _fk_violation(excinfo: pytest.ExceptionInfo[peewee.IntegrityError]) -> psycopg.Error:
    cause = excinfo.value.__cause__ or excinfo.value.__context__  # what peewee wrapped
    assert isinstance(cause, psycopg.errors.ForeignKeyViolation), cause
    return cause


def _declared(db: peewee.Database) -> list[tuple[str, str]]:
    return db.execute_sql(
        "SELECT conname, confdeltype FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid = 'message'::regclass AND confrelid = 'bot'::regclass"
    ).fetchall()


def test_the_reference_is_a_statement_check_not_a_declared_key(pg_db: peewee.Database) -> None:
    assert _declared(pg_db) == []
    triggers = {
        name
        for (name,) in pg_db.execute_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
    }
    assert {
        "message_bot_check_insert",
        "message_bot_check_update",
        "bot_references_cascade",
        "bot_id_still_referenced",
        "bot_truncate_references",
    } <= triggers


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(missing=st.lists(st.booleans(), min_size=1, max_size=6))
def test_a_statement_is_refused_exactly_when_one_bot_is_missing(
    pg_db: peewee.Database, missing: list[bool]
) -> None:
    bot = factories.bot()
    anna = factories.client("Anna")
    before = Message.select().count()
    rows = [_message(anna, MISSING if gone else bot.id) for gone in missing]
    if any(missing):
        with pytest.raises(peewee.IntegrityError) as excinfo, pg_db.atomic():
            Message.insert_many(rows).execute()
        cause = _fk_violation(excinfo)
        assert cause.diag.constraint_name == "message_bot_id_fkey"
        assert f"Key (bot_id)=({MISSING})" in (cause.diag.message_detail or "")
        assert Message.select().count() == before
    else:
        Message.insert_many(rows).execute()
        assert Message.select().count() == before + len(rows)


def test_an_update_to_a_missing_bot_is_refused(pg_db: peewee.Database) -> None:
    anna = factories.client("Anna")
    Message.insert_many([_message(anna, factories.bot().id)]).execute()
    with pytest.raises(peewee.IntegrityError) as excinfo, pg_db.atomic():
        Message.update(bot=MISSING).execute()
    _fk_violation(excinfo)
    assert [m.bot_id for m in Message.select()] == [factories.bot().id]


def test_deleting_a_bot_deletes_its_messages_only(pg_db: peewee.Database) -> None:
    """The message's client belongs to another bot: only 1480's cascade can delete it."""
    shop, other = factories.bot(), factories.bot("other_tg")
    anna = factories.client("Anna", on=shop)
    Message.insert_many(
        [_message(anna, other.id, "gone"), _message(anna, shop.id, "kept")]
    ).execute()
    Bot.delete().where(Bot.id == other.id).execute()
    assert [m.text for m in Message.select()] == ["kept"]
    assert Client.select().count() == 1


def test_an_id_still_referred_to_cannot_change_or_be_truncated(pg_db: peewee.Database) -> None:
    anna = factories.client("Anna")
    other = factories.bot("other_tg")
    Message.insert_many([_message(anna, other.id)]).execute()
    with pytest.raises(peewee.IntegrityError), pg_db.atomic():
        Bot.update(id=MISSING).where(Bot.id == other.id).execute()
    assert Bot.get_by_id(other.id).name == "other_tg"


def test_down_restores_the_declared_key_and_up_converts_it_again(pg_db: peewee.Database) -> None:
    migration = importlib.import_module(MIGRATION)
    migration.down(None, pg_db)
    assert _declared(pg_db) == [("message_bot_id_fkey", "c")]
    leftover = pg_db.execute_sql(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'bot%%'"
    ).fetchall()
    assert leftover == []
    migration.down(None, pg_db)  # twice: nothing more to do
    migration.up(None, pg_db)
    assert _declared(pg_db) == []
    anna = factories.client("Anna")
    with pytest.raises(peewee.IntegrityError) as excinfo, pg_db.atomic():
        Message.insert_many([_message(anna, MISSING)]).execute()
    _fk_violation(excinfo)
