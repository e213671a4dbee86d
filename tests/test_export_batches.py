"""Export batches read children by id range (dense) or by a bound id list (sparse): either
way each client gets exactly its own block history and variables, on both databases."""

from __future__ import annotations

import csv
import io
import zoneinfo

import peewee
import pytest

from store.export import iter_export_rows, write_csv
from store.models import Block, BlockHistory, Client
from tests import factories

UTC = zoneinfo.ZoneInfo("UTC")


@pytest.fixture
def clients(db: peewee.Database) -> list[Client]:
    """Twelve clients; the even ones are named Keep, each has its own variable and history."""
    made = []
    for n in range(12):
        row = factories.client(
            "Keep" if n % 2 == 0 else "Drop", f"m{n}", variables={"n": str(n), f"only{n}": "x"}
        )
        BlockHistory.create(client=row, block=Block.get_or_create(name=f"B{n}")[0])
        made.append(row)
    return made


def _csv(query: peewee.ModelSelect[Client], batch_size: int) -> list[dict[str, str]]:
    out = io.StringIO(newline="")
    write_csv(query, out, UTC, batch_size=batch_size)
    return list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))


@pytest.mark.parametrize("batch_size", [1, 2, 5, 100])
def test_a_filtered_export_never_borrows_a_neighbours_children(
    clients: list[Client], batch_size: int
) -> None:
    # Keep ids are every other id: batches of 2+ are "dense" (range read, neighbours dropped).
    rows = _csv(Client.select().where(Client.name == "Keep"), batch_size)
    assert [r["name"] for r in rows] == ["Keep"] * 6
    for row in rows:
        n = int(row["n"])
        assert n % 2 == 0
        assert row["block_history"] == f"B{n}"
        assert row[f"only{n}"] == "x"
        # only the kept clients' variables get columns, and only their own cell is filled
        assert [k for k, v in row.items() if k.startswith("only") and v] == [f"only{n}"]
    assert not any(k in rows[0] for k in ("only1", "only3"))


def test_a_sparse_batch_binds_the_ids_as_one_parameter(clients: list[Client]) -> None:
    # Two clients far apart: the batch is sparse, children come by the bound id list.
    first, last = clients[0], clients[-1]
    query = Client.select().where(Client.id.in_([first.id, last.id]))
    batches = list(iter_export_rows(query, UTC, batch_size=10))
    assert len(batches) == 1
    got = {row.base[0]: (row.base[9], row.variables) for row in batches[0]}
    assert got == {
        first.id: ("B0", {"n": "0", "only0": "x"}),
        last.id: ("B11", {"n": "11", "only11": "x"}),
    }


def test_a_block_created_while_the_export_runs_is_named(db: peewee.Database) -> None:
    # Bot and block names come from lookups read once; a block made after that is read on miss.
    first = factories.client("First", "1", block="Старт")
    batches = iter_export_rows(Client.select(), UTC, batch_size=1)
    assert [(r.base[0], r.base[8]) for r in next(batches)] == [(first.id, "Старт")]
    late = factories.client("Late", "2", block="Оплата")
    assert [(r.base[0], r.base[3], r.base[8]) for r in next(batches)] == [
        (late.id, "shop_tg", "Оплата")
    ]
