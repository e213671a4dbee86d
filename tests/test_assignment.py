from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import peewee

from store.assignment import assign_round_robin, set_autoassign, set_on_shift
from store.inbound import InboundMessage, record_inbound
from store.models import Client, Operator
from store.setup import bootstrap_operators, sync_bots


def _setup() -> list[int]:
    sync_bots([("shop_tg", "telegram")])
    bootstrap_operators(
        [(1, "admin", "A", None), (2, "operator", "B", None), (3, "operator", "C", None)]
    )
    return [op.id for op in Operator.select().order_by(Operator.id)]


def _message(n: int) -> InboundMessage:
    return InboundMessage(bot_name="shop_tg", messenger_id=str(n), dedup_key=f"k{n}", text="hi")


def test_new_clients_stay_free_while_autoassign_is_off(db: peewee.Database) -> None:
    ops = _setup()
    set_on_shift(ops[1], True)
    record_inbound(_message(1))
    assert Client.get().responsible_id is None


def test_round_robin_over_operators_on_shift(db: peewee.Database) -> None:
    ops = _setup()
    set_autoassign(True)
    set_on_shift(ops[1], True)
    set_on_shift(ops[2], True)
    for n in range(5):
        record_inbound(_message(n))
    record_inbound(_message(4))  # a redelivery assigns nothing new
    order = [c.responsible_id for c in Client.select().order_by(Client.id)]
    assert order == [ops[1], ops[2], ops[1], ops[2], ops[1]]
    set_on_shift(ops[1], False)
    record_inbound(_message(9))
    assert Client.get(Client.messenger_id == "9").responsible_id == ops[2]


def test_nobody_on_shift_leaves_clients_free_and_bound_clients_stay(db: peewee.Database) -> None:
    ops = _setup()
    set_autoassign(True)
    record_inbound(_message(1))
    client = Client.get()
    assert client.responsible_id is None
    set_on_shift(ops[0], True)
    Client.update(responsible=ops[2]).execute()
    assert assign_round_robin(client.id) is None
    assert Client.get().responsible_id == ops[2]


def test_concurrent_ingest_spreads_clients_evenly(db: peewee.Database) -> None:
    ops = _setup()
    set_autoassign(True)
    for op in ops:
        set_on_shift(op, True)

    def deliver(n: int) -> None:
        try:
            record_inbound(_message(n))
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(deliver, range(30)))
    counts = [Client.select().where(Client.responsible == op).count() for op in ops]
    assert counts == [10, 10, 10]
