"""PostgreSQL plans a page after an unpinned cursor for the rows it will really meet: the
condition ``after_cursor`` writes is estimated by its parts, not as a row comparison led by
``pinned < false`` (estimated at one row, which made the planner scan and sort the whole table
for a deep page: 4 s at a million clients)."""

from __future__ import annotations

import datetime as dt
import json

import peewee

from store.clients.cursor import Cursor
from store.clients.query import after_cursor
from store.clock import utcnow
from store.models import Bot, Client


def _estimated_rows(db: peewee.Database, where: peewee.ColumnBase) -> int:
    sql, params = Client.select(Client.id).where(where).sql()
    (plan,) = db.execute_sql("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def test_a_page_after_an_unpinned_cursor_is_estimated_by_its_parts(pg_db: peewee.Database) -> None:
    bot = Bot.create(name="b", kind="telegram")
    t0 = utcnow()
    rows = [
        {
            "bot": bot.id,
            "messenger_id": str(n),
            "pinned": n < 20,
            "last_action_at": t0 - dt.timedelta(minutes=n),
        }
        for n in range(3000)
    ]
    for start in range(0, len(rows), 500):
        Client.insert_many(rows[start : start + 500]).execute()
    pg_db.execute_sql("ANALYZE client")
    middle = Client.get(Client.messenger_id == "1500")
    cursor = Cursor("activity", False, middle.last_action_at, middle.id)
    assert _estimated_rows(pg_db, after_cursor(cursor)) > 300  # about 1,500 really
    # The clients selected are those after the cursor in list order, as before.
    after = {c.id for c in Client.select(Client.id).where(after_cursor(cursor))}
    assert after == {
        c.id for c in Client.select(Client.id).where(Client.last_action_at < middle.last_action_at)
    }
