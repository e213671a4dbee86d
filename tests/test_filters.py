"""Every filter of SPEC F10-F11 with its edge semantics, on SQLite and PostgreSQL."""

from __future__ import annotations

import peewee
import pytest

from store.clients.query import count_clients, page_clients, select_clients
from store.filters import FilterError, help_markdown, parse_filter
from store.filters.syntax import quote, tokenize
from store.models import Block, Bot, Client, Label, MailingList, Operator, SavedFilter
from tests.factories import MOSCOW, bot, client, local, operator
from tests.sqllog import captured_statements


def names(text: str, viewer: Operator) -> set[str]:
    flt = parse_filter(text, viewer, MOSCOW)
    return {c.name for c in select_clients(flt, viewer)}


@pytest.fixture
def admin(db: peewee.Database) -> Operator:
    return operator(1, "Admin", "admin")


def test_registration_day_boundaries_in_the_project_zone(admin: Operator) -> None:
    client("late", created_at=local("22.05.2023 23:59"))
    client("midnight", created_at=local("23.05.2023 00:00"))
    client("early", created_at=local("20.05.2023 00:01"))
    client("eve", created_at=local("19.05.2023 23:59"))
    assert names("before:23.05.2023", admin) == {"late", "early", "eve"}
    assert names("before:2023-05-23", admin) == {"late", "early", "eve"}
    assert names("after:20.05.2023", admin) == {"late", "midnight", "early"}
    assert names("after:2023-05-20 before:23.05.2023", admin) == {"late", "early"}


def test_id_is_a_substring_of_the_internal_id(admin: Operator) -> None:
    for number in (1, 5, 10, 20, 100, 110, 210, 1010, 2110):
        client(f"c{number}", id=number)
    assert names("id:10", admin) == {"c10", "c100", "c110", "c210", "c1010", "c2110"}
    assert names("id:110", admin) == {"c110", "c2110"}
    assert names("id:5,20", admin) == {"c5", "c20"}
    with pytest.raises(FilterError, match="not a number"):
        parse_filter("id:1a", admin, MOSCOW)
    assert names("client:10", admin) == {"c10"}  # exact ids: a hand-picked selection
    assert names("client:10,2110,7", admin) == {"c10", "c2110"}
    with pytest.raises(FilterError, match="is not a client id"):
        parse_filter("client:99999999999999999999", admin, MOSCOW)


def test_search_matches_name_or_messenger_id_in_any_case_and_alphabet(admin: Operator) -> None:
    client("Vasya1988", "42")
    client("Bob", "7771988777")
    client("Ксения Петрова", "100")
    client("ЁЛКА", "200")
    client("Anna Maria", "300")
    assert names("search:1988", admin) == {"Vasya1988", "Bob"}
    assert names("1988", admin) == {"Vasya1988", "Bob"}
    assert names("search:ксения", admin) == {"Ксения Петрова"}
    assert names("КСЕНИЯ", admin) == {"Ксения Петрова"}
    assert names("кс", admin) == {"Ксения Петрова"}  # shorter than a trigram: the scan path
    assert names("ёлка", admin) == {"ЁЛКА"}
    assert names('search:"anna maria"', admin) == {"Anna Maria"}
    assert names("search:vasya search:88", admin) == {"Vasya1988"}
    assert names('search:"%"', admin) == set()  # LIKE wildcards are literal


def test_variables_match_name_and_value_exactly(admin: Operator) -> None:
    client("a", variables={"Размер": "XS", "Цена": "100"})
    client("b", variables={"цен": "100", "Размер": "XSS"})
    client("c", variables={"Цена товара": "5", "Другое": "XS"})
    assert names("var:Цена", admin) == {"a"}
    assert names("var:цен", admin) == {"b"}
    assert names("var:Размер=XS", admin) == {"a"}
    assert names('var:"Размер"="XS"', admin) == {"a"}
    assert names("var:=XS", admin) == {"a", "c"}
    assert names('var:"Цена товара"', admin) == {"c"}
    assert names("var:Размер=XS var:Цена=100", admin) == {"a"}


def test_lists_labels_and_their_exclusions(admin: Operator) -> None:
    client("vip", lists=("VIP",), labels=("hot",))
    client("gold", lists=("Gold", "Spam"), labels=("cold",))
    client("both", lists=("VIP", "Gold"), labels=("hot", "cold"))
    client("none")
    assert names("list:VIP,Gold", admin) == {"vip", "gold", "both"}
    assert names("list:VIP list:Gold", admin) == {"both"}
    assert names("-list:Spam", admin) == {"vip", "both", "none"}
    assert names("-list:VIP,Spam", admin) == {"none"}
    assert names("label:hot -label:cold", admin) == {"vip"}
    assert names("-label:hot,cold", admin) == {"none"}
    assert names("list:vip", admin) == {"vip", "both"}  # names fold case when unambiguous


def test_names_of_several_kinds_are_looked_up_in_one_statement(admin: Operator) -> None:
    client("vip", lists=("VIP",), labels=("hot",), block="Оплата")
    client("gold", lists=("Gold", "Spam"), labels=("cold",))
    # a bot first: its "kind" column must not turn the union's "kind" into text
    text = "channel:shop_tg -list:Spam,VIP label:hot,cold block:Оплата list:gold"
    with captured_statements() as seen:
        flt = parse_filter(text, admin, MOSCOW)
    assert len(seen) == 2, seen  # the exact names at once; "gold" then by folding case
    ids = {model: {r.name: r.id for r in model.select()} for model in (MailingList, Label)}
    lists, labels = ids[MailingList], ids[Label]
    assert [(c.key, c.value) for c in flt.conditions] == [
        ("channel", [Bot.get(Bot.name == "shop_tg").id]),
        ("list", [lists["Spam"], lists["VIP"]]),
        ("label", [labels["hot"], labels["cold"]]),
        ("block", [Block.get(Block.name == "Оплата").id]),
        ("list", [lists["Gold"]]),
    ]
    with pytest.raises(FilterError, match="no label named 'hoot'") as caught:
        parse_filter("-list:Spam label:hoot", admin, MOSCOW)
    assert "did you mean 'hot'" in str(caught.value)


def test_blocks_channels_stages_and_unanswered(admin: Operator) -> None:
    mail = bot("shop_mail", "email")
    client("a", block="Приветствие", deal_stage="Оплата", unread=True)
    client("b", block="Оплата", deal_stage="Лид", on=mail)
    client("c")
    assert names("block:Приветствие", admin) == {"a"}
    assert names("block:Приветствие,Оплата", admin) == {"a", "b"}
    assert names("channel:shop_mail", admin) == {"b"}
    assert names("channel:shop_tg,shop_mail", admin) == {"a", "b", "c"}
    assert names("stage:Оплата", admin) == {"a"}
    # One rule for named values: exact, else case-insensitive; unknown -> "did you mean".
    assert names("stage:оплата", admin) == {"a"}
    assert names("block:оплата", admin) == {"b"}
    assert names("stage:ЛИД,оплата", admin) == {"a", "b"}
    with pytest.raises(FilterError) as unknown:
        names("stage:Оплатa", admin)  # a Latin "a" at the end
    assert str(unknown.value) == (
        "stage:Оплатa: no deal stage named 'Оплатa'; did you mean 'Оплата'?"
    )
    assert unknown.value.suggestion == "Оплата"
    with pytest.raises(FilterError) as block:
        names("block:Оплат", admin)
    assert block.value.suggestion == "Оплата"
    assert names("unanswered", admin) == {"a"}
    assert names("tab:unanswered", admin) == {"a"}


def test_tabs_and_scope_per_operator(admin: Operator) -> None:
    anna = operator(2, "Anna")
    boris = operator(
        3,
        "Boris",
    )
    client("annas", responsible=anna)
    client("boris's", responsible=boris)
    client("free")
    assert names("", admin) == {"annas", "boris's", "free"}
    assert names("tab:all", anna) == {"annas", "free"}  # scope: own and free only
    assert names("tab:mine", anna) == {"annas"}
    assert names("tab:free", anna) == {"free"}
    assert names("tab:others", anna) == set()
    assert names("tab:others", admin) == {"annas", "boris's"}
    assert names("tab:mine", admin) == set()
    assert names("responsible:me", boris) == {"boris's"}
    assert names("responsible:none", admin) == {"free"}
    assert names("responsible:Anna,none", admin) == {"annas", "free"}
    assert names("responsible:3", admin) == {"boris's"}
    with pytest.raises(FilterError, match="did you mean 'Anna'"):
        parse_filter("responsible:Ana", admin, MOSCOW)


def test_the_spec_example(admin: Operator) -> None:
    client("Ксения", created_at=local("19.04.2021 23:59"), variables={"Размер": "XS"})
    client("Ксения Л", created_at=local("20.04.2021 00:00"), variables={"Размер": "XS"})
    client("Ксения М", created_at=local("01.01.2020 12:00"), variables={"Размер": "M"})
    client("Оля", created_at=local("01.01.2020 12:00"), variables={"Размер": "XS"})
    assert names("search:Ксения before:20.04.2021 var:Размер=XS", admin) == {"Ксения"}


def test_order_pinned_first_then_activity_or_creation_with_stable_pages(
    admin: Operator,
) -> None:
    same = local("01.06.2024 12:00")
    for n in range(7):
        client(f"tie{n}", last_action_at=same, created_at=local(f"0{n + 1}.01.2024 10:00"))
    client("pinned", pinned=True, last_action_at=local("01.01.2020 00:00"))
    client("recent", last_action_at=local("02.06.2024 12:00"), created_at=local("01.01.2019 00:00"))
    flt = parse_filter("", admin, MOSCOW)
    seen: list[str] = []
    for number in (1, 2, 3, 4):
        page = page_clients(flt, admin, page=number, per_page=3)
        assert page.total == 9 and page.pages == 3
        seen += [c.name for c in page.clients]
    assert seen[:2] == ["pinned", "recent"]
    assert len(seen) == len(set(seen)) == 9
    by_created = [
        c.name for c in page_clients(parse_filter("sort:created", admin, MOSCOW), admin).clients
    ]
    assert by_created[0] == "pinned" and by_created[1] == "tie6" and by_created[-1] == "recent"


BAD_FILTERS = [
    ("lst:VIP", "lst:VIP: unknown filter 'lst'; did you mean 'list:'?"),
    ("list:VIPP", "list:VIPP: no list named 'VIPP'; did you mean 'VIP'?"),
    ("label:hott", "did you mean 'hot'?"),
    ("channel:shop", "no bot named 'shop'; did you mean 'shop_tg'?"),
    ("block:Привет", "no block named 'Привет'; did you mean 'Приветствие'?"),
    ("before:2023-02-30", "before:2023-02-30: '2023-02-30' is not a date"),
    ("after:yesterday", "is not a date (use YYYY-MM-DD or DD.MM.YYYY)"),
    ("search:", "search:: empty value"),
    ("list:VIP,", "empty value"),
    ("tab:min", "did you mean 'mine'?"),
    ('search:"open', "unclosed quote"),
    ("-block:Приветствие", "block cannot be negated"),
    ("unanswered:yes", "unanswered takes no value"),
    ("var:", "give a name, name=value or =value"),
    ("saved:nope", "no saved filter named 'nope'"),
    ("sort:name", "must be one of activity, created"),
    ("client:7,x", "client:7,x: 'x' is not a number"),
    ("responsible:Zed", "responsible:Zed: no operator 'Zed'"),
]


def test_bad_filters_are_refused_naming_the_token(admin: Operator) -> None:
    client("x", lists=("VIP",), labels=("hot",), block="Приветствие")
    for text, message in BAD_FILTERS:
        with pytest.raises(FilterError) as caught:
            parse_filter(f"search:x {text}", admin, MOSCOW)
        assert message in str(caught.value), text
        assert "\n" not in str(caught.value)


def test_saved_filter_expands_into_its_conditions(admin: Operator) -> None:
    client("vip", lists=("VIP",))
    client("other")
    SavedFilter.create(operator=admin, name="vips", query="list:VIP sort:created")
    flt = parse_filter("saved:vips", admin, MOSCOW)
    assert flt.sort == "created"
    assert names("saved:vips", admin) == {"vip"}
    assert count_clients(flt, admin) == 1


def test_quoting_round_trips_through_the_tokenizer() -> None:
    for value in ["Анна Мария", 'say "hi"', "a,b", "x=y", "back\\slash", "plain"]:
        (term,) = tokenize(f"search:{quote(value)}")
        assert term.text() == value


def test_help_lists_every_filter_and_docs_match_the_registry() -> None:
    from pathlib import Path

    table = help_markdown()
    for key in ("search:", "id:", "list:", "-label:", "before:", "var:", "tab:", "sort:"):
        assert key in table
    docs = (Path(__file__).resolve().parent.parent / "docs" / "filters.md").read_text()
    assert table in docs, "docs/filters.md is stale: run `switchboard filters help --markdown`"


def test_client_count_helper_matches_the_page_total(admin: Operator) -> None:
    for n in range(4):
        client(f"n{n}", unread=n % 2 == 0)
    flt = parse_filter("unanswered", admin, MOSCOW)
    assert count_clients(flt, admin) == page_clients(flt, admin).total == 2
    assert Client.select().count() == 4
