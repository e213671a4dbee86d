"""Completion of filter texts (store.filters.complete) on SQLite and PostgreSQL: keys, the
names each key takes from the store, quoting, and the term under the cursor."""

from __future__ import annotations

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients.saved import save_filter
from store.filters import parse_filter
from store.filters.complete import complete, term_bounds
from store.filters.suggest import distinct_values
from store.models import Client, Operator
from tests.factories import MOSCOW, client, operator


@pytest.fixture
def viewer(db: peewee.Database) -> Operator:
    me = operator(42, "Анна", role="admin")
    operator(43, "Boris")
    client("a", lists=("VIP", "Vip gold", "Опт"), labels=("Ждёт оплаты", "new"), block="Start")
    client("b", deal_stage="Новый", labels=("new",))
    client("c", deal_stage="Won")
    client("d", deal_stage="Новый", variables={"Размер": "XS"})
    return me


def texts(text: str, viewer: Operator, cursor: int | None = None) -> list[str]:
    done = complete(text, len(text) if cursor is None else cursor, viewer)
    return [s.text for s in done.suggestions]


def test_bare_words_offer_keys_and_flags(viewer: Operator) -> None:
    assert texts("la", viewer) == ["label:"]
    assert texts("unans", viewer) == ["unanswered"]
    assert texts("-l", viewer) == ["-list:", "-label:"]  # only negatable keys after a minus
    assert texts("-st", viewer) == []
    assert len(texts("", viewer)) > 10
    assert texts("Ксения", viewer) == []  # a search word: nothing to complete


def test_names_come_from_the_store_ignoring_case_prefix_first(viewer: Operator) -> None:
    assert texts("list:vi", viewer) == ["list:VIP", 'list:"Vip gold"']
    assert texts("list:оп", viewer) == ["list:Опт"]
    assert texts("label:ждёт", viewer) == ['label:"Ждёт оплаты"']
    assert texts("stage:", viewer) == ["stage:Won", "stage:Новый"]
    assert texts("block:", viewer) == ["block:Start"]
    assert texts("responsible:bo", viewer) == ["responsible:Boris"]
    assert texts("tab:un", viewer) == ["tab:unanswered"]
    assert texts("var:Раз", viewer) == ["var:Размер"]
    assert texts("var:Размер=", viewer) == []
    # "gold" is inside "Vip gold", after the names starting with it (none here)
    assert texts("list:gold", viewer) == ['list:"Vip gold"']


def test_each_suggestion_parses_as_a_filter(viewer: Operator) -> None:
    for typed in ("list:", "label:", "stage:", "block:", "responsible:", "tab:", "sort:"):
        for text in texts(typed, viewer):
            parse_filter(text, viewer, MOSCOW)  # raises on a term the parser refuses


def test_later_values_of_a_term_skip_those_given(viewer: Operator) -> None:
    assert texts("-list:VIP,", viewer) == ['-list:VIP,"Vip gold"', "-list:VIP,Опт"]


def test_the_term_under_the_cursor_is_completed(viewer: Operator) -> None:
    text = "unanswered lab list:VIP"
    done = complete(text, 14, viewer)
    assert (done.start, done.end) == (11, 14)
    assert [s.text for s in done.suggestions] == ["label:"]
    done = complete(text, len(text) - 2, viewer)  # inside list:VIP, typed "list:V"
    assert (done.start, done.end) == (15, len(text))
    assert done.suggestions[0].text == "list:VIP"


def test_saved_filters_are_the_viewers_own(viewer: Operator) -> None:
    other = Operator.get(Operator.telegram_id == 43)
    save_filter(viewer, "hot", "list:VIP", MOSCOW)
    save_filter(other, "boris only", "list:VIP", MOSCOW)
    assert texts("saved:", viewer) == ["saved:hot"]
    assert texts("saved:", other) == ['saved:"boris only"']


def test_distinct_values_reads_each_stage_once(viewer: Operator) -> None:
    Client.update(deal_stage="Won").where(Client.name == "a").execute()
    assert distinct_values(Client.deal_stage) == ["Won", "Новый"]


@given(st.text(alphabet=' a"\\:,-', max_size=12), st.integers(min_value=-2, max_value=14))
def test_term_bounds_hold_the_cursor_and_no_unquoted_space(text: str, cursor: int) -> None:
    start, end = term_bounds(text, cursor)
    at = max(0, min(cursor, len(text)))
    assert 0 <= start <= at <= end <= len(text)
    if start > 0:
        assert text[start - 1].isspace()


TYPED = st.text(alphabet='lab:ist-"\\, ОпЖдvViP=', max_size=14)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(TYPED, st.integers(min_value=0, max_value=16))
def test_any_text_completes_without_error_and_each_term_parses(
    viewer: Operator, text: str, cursor: int
) -> None:
    """Half-typed quotes, commas and minus signs never break completion (the endpoint answers
    200 to anything), and a value suggestion written alone is a filter the parser accepts
    (after a comma the earlier values are the operator's, right or wrong)."""
    done = complete(text, cursor, viewer)
    assert 0 <= done.start <= min(cursor, len(text)) <= done.end <= len(text)
    for suggestion in done.suggestions:
        if suggestion.final and ":" in suggestion.text and "," not in text:
            parse_filter(suggestion.text, viewer, MOSCOW)
