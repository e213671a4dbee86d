"""The plan's placeholder check over an audience query and the batch read of client values
(store.campaigns.personalise), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.campaigns.content import CampaignContent, WhatsAppTemplate, render
from store.campaigns.personalise import MissingPlaceholder, fields_for, missing_placeholders
from store.db import database_proxy
from store.models import Bot, Client, Variable
from tests import factories
from tests.conftest import migrated_store
from tests.services import temporary_postgres_database

CONTENT = CampaignContent(
    text="Hi {first_name}, {name}! Your city: {var:Город}. Code {var:code|none}.",
    subject="{var:Тариф}",
)


def audience_of(bot_name: str) -> peewee.SelectQuery:
    return Client.select(Client.id).join_from(Client, Bot).where(Bot.name == bot_name)


def count_statements(database: peewee.Database) -> list[str]:
    seen: list[str] = []
    original = database.execute_sql

    def counting(sql: str, params: object = None, *args: object, **kwargs: object) -> object:
        seen.append(sql)
        return original(sql, params, *args, **kwargs)

    database.execute_sql = counting  # type: ignore[method-assign]
    return seen


def test_missing_counts_clients_without_value_or_default(db: peewee.Database) -> None:
    shop = factories.bot("shop_tg")
    other = factories.bot("other_tg")
    factories.client("Анна Петрова", on=shop, variables={"Город": "Казань", "Тариф": "Gold"})
    factories.client("   ", on=shop, variables={"Город": "  "})
    factories.client("", on=shop)
    factories.client("Bob", on=shop, variables={"Тариф": "x"})
    factories.client("", on=other)  # not in the audience
    seen = count_statements(database_proxy.obj)
    missing = missing_placeholders(CONTENT, audience_of("shop_tg"))
    assert missing == [
        MissingPlaceholder("{first_name}", 2),
        MissingPlaceholder("{name}", 2),
        MissingPlaceholder("{var:Город}", 3),
    ]  # {var:Тариф} is only in the subject: no Telegram client gets it
    # one COUNT per rule ({name} and {first_name} share one), never a statement per client
    assert len(seen) == 3


def test_subject_and_template_placeholders_count_their_platforms_clients(
    db: peewee.Database,
) -> None:
    tg, wa = factories.bot("shop_tg"), factories.bot("shop_wa", "whatsapp")
    mail = factories.bot("shop_mail", "email")
    for bot in (tg, wa, mail):
        factories.client("", on=bot)
        factories.client("Has Both", on=bot, variables={"Город": "Омск", "Тариф": "Gold"})
    content = CampaignContent(
        text="Hello",
        subject="Tariff {var:Тариф}",
        template=WhatsAppTemplate("t", "ru", ("{var:Город}", "{first_name}")),
    )
    everyone = Client.select(Client.id)
    assert missing_placeholders(content, everyone) == [
        MissingPlaceholder("{var:Тариф}", 1),  # the email client without it
        MissingPlaceholder("{var:Город}", 1),  # the WhatsApp client without it
        MissingPlaceholder("{first_name}", 1),
    ]
    both = CampaignContent(text="{var:Тариф}", subject="{var:Тариф}")
    assert missing_placeholders(both, everyone) == [MissingPlaceholder("{var:Тариф}", 3)]


def test_fields_for_reads_a_batch_in_two_statements_and_only_used_variables(
    db: peewee.Database,
) -> None:
    shop = factories.bot("shop_tg")
    anna = factories.client("Анна", on=shop, variables={"Город": "Казань", "unused": "x"})
    bob = factories.client("Bob", on=shop)
    seen = count_statements(database_proxy.obj)
    fields = fields_for([anna.id, bob.id], CONTENT)
    assert len(seen) == 2
    assert fields[anna.id].name == "Анна"
    assert dict(fields[anna.id].variables or {}) == {"Город": "Казань"}
    assert dict(fields[bob.id].variables or {}) == {}
    assert render(CONTENT, fields[anna.id], "whatsapp").text.startswith(
        "Hi Анна, Анна! Your city: Казань."
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[peewee.Database]:
    """One store per database for the property below (examples clean up after themselves)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ph') / 'store.db'}"
        with migrated_store(url) as database:
            yield database
    else:
        with temporary_postgres_database() as url, migrated_store(url) as database:
            yield database


NAMES = st.sampled_from(["", " ", "  ", "Анна", " Bob ", "Zoë Ümlaut", "\tTab"])
VALUES = st.one_of(st.none(), st.sampled_from(["", " ", "Казань", " x "]))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(NAMES, VALUES), min_size=0, max_size=8))
def test_set_based_count_agrees_with_rendering_each_client(
    shared_db: peewee.Database, people: list[tuple[str, str | None]]
) -> None:
    database_proxy.initialize(shared_db)
    shop = factories.bot("prop_tg")
    with shared_db.atomic() as transaction:
        ids = []
        for n, (name, city) in enumerate(people):
            row = Client.create(bot=shop, messenger_id=f"p{n}", name=name)
            if city is not None:
                Variable.create(client=row, name="Город", value=city)
            ids.append(row.id)
        missing = {
            m.placeholder: m.clients for m in missing_placeholders(CONTENT, audience_of("prop_tg"))
        }
        fields = fields_for(ids, CONTENT)
        for placeholder, platforms in CONTENT.placeholder_platforms().items():
            if placeholder.default is not None or "telegram" not in platforms:
                continue
            empty = sum(1 for i in ids if not fields[i].value(placeholder))
            assert missing.get(placeholder.key, 0) == empty
        transaction.rollback()
