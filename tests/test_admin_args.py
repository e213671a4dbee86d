"""Admin command arguments: one tokenizer (the filter language's) for every command, quoting
as docs/commands.md says."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import peewee
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.admin import CommandContext
from commands.admin.args import free_text, head_and_rest, split_args
from commands.admin.context import CommandError
from store.filters.syntax import quote
from store.models import Client, Message, Operator, SavedFilter
from tests import factories as f
from tests.admin_support import make_staff, run
from tests.conftest import REPO_ROOT


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    return make_staff()


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.lists(st.text()))
def test_quoted_values_come_back_as_written(values: list[str]) -> None:
    assert split_args(" ".join(quote(v) for v in values)) == values


@given(st.text(), st.text())
def test_a_quoted_text_loses_its_quotes_and_any_other_text_is_kept(first: str, text: str) -> None:
    head, rest = head_and_rest(f"{quote(first)} {_quoted(text)}", 1)
    assert head == [first] and free_text(rest) == text
    if not text.strip().startswith('"'):
        assert free_text(text) == text.strip()


@pytest.mark.parametrize(
    ("line", "values"),
    [
        ('12 "Anna Maria"', ["12", "Anna Maria"]),
        (r'"say \"hi\"" x', ['say "hi"', "x"]),
        ("  spaced\tout\n ", ["spaced", "out"]),
        ("don't worry", ["don't", "worry"]),  # an apostrophe is no quote
        ('""', [""]),
    ],
)
def test_the_documented_examples(line: str, values: list[str]) -> None:
    assert split_args(line) == values


@pytest.mark.parametrize(
    ("rest", "text"),
    [
        ('"text with spaces"', "text with spaces"),
        ('He said "hi" twice', 'He said "hi" twice'),
        ('"a" and "b"', '"a" and "b"'),
        ('He said "hi', 'He said "hi'),  # an unpaired quote in a text is just a character
        ('"line one\nline two"', "line one\nline two"),
    ],
)
def test_free_text_examples(rest: str, text: str) -> None:
    assert free_text(rest) == text


def test_an_unclosed_quote_is_one_line() -> None:
    with pytest.raises(CommandError, match=r"Cannot read the arguments: unclosed quote"):
        split_args('12 "Anna')


def test_reply_and_comment_send_a_quoted_text_without_its_quotes(
    staff: dict[str, CommandContext],
) -> None:
    ctx = staff["operator"]
    c = f.client("Quote me")
    assert not run(ctx, f'/reply {c.id} "text with spaces"').error
    assert not run(ctx, f'/reply {c.id} He said "yes" to it').error
    assert not run(ctx, f'/comment {c.id} "internal, quoted"').error
    texts = [m.text for m in Message.select().where(Message.client == c.id).order_by(Message.id)]
    assert texts == ["text with spaces", 'He said "yes" to it', "internal, quoted"]
    refused = run(ctx, '/reply "12 hi')
    assert refused.error and refused.text.startswith("Cannot read the arguments: unclosed quote")


def test_every_command_reads_quoted_values(staff: dict[str, CommandContext]) -> None:
    admin, operator = staff["admin"], staff["operator"]
    added = run(admin, '/operators add 4242 operator "Anna Maria"')
    assert not added.error, added.text
    assert Operator.get(Operator.telegram_id == 4242).name == "Anna Maria"
    c = f.client("Assign me", lists=("VIP club",))
    bound = run(admin, f'/assign "{c.id}" "Anna Maria"')
    assert "bound to Anna Maria" in bound.text, bound.text
    assert Client.get_by_id(c.id).responsible_id == Operator.get(name="Anna Maria").id
    saved = run(operator, '/filters save "my vips" list:"VIP club"')
    assert not saved.error, saved.text
    assert SavedFilter.get().name == "my vips" and SavedFilter.get().query == 'list:"VIP club"'
    assert "Deleted" in run(operator, '/filters delete "my vips"').text
    assert "You are on shift" in run(operator, '/shift "on"').text
    assert "Export: 1 clients" in run(admin, '/export "csv"').text


def test_write_commands_read_quoted_values(staff: dict[str, CommandContext]) -> None:
    from tests.whatsapp_support import settings_for

    settings = settings_for(default_region="US")
    from store.setup import sync_bots

    sync_bots((b.name, b.kind) for b in settings.bots)
    ctx = dataclasses.replace(staff["operator"], settings=settings)
    run(ctx, '/write_whatsapp wa "+1 631 555 1181" "Ваш заказ готов"')
    client = Client.get(Client.messenger_id == "+16315551181")
    row = Message.get(Message.client == client.id)
    assert row.extra["template"]["name"]  # a new number: the template goes instead
    assert "Give the bot" in run(ctx, '/write_whatsapp wa "+1 631"').text


def test_no_admin_command_splits_its_arguments_by_hand() -> None:
    """Every ``@ADMIN_COMMANDS.command`` handler reads its arguments through commands.admin.args
    (or the filter parser): none partitions or splits ``args`` itself; nothing imports shlex."""
    wrong: list[str] = []
    for path in sorted((REPO_ROOT / "commands" / "admin").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if "shlex" in names:
                    wrong.append(f"{path.name}:{node.lineno} imports shlex")
            if isinstance(node, ast.FunctionDef) and _is_command(node):
                for call in ast.walk(node):
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Attribute)
                        and call.func.attr in ("partition", "split", "rpartition")
                        and _is_args(call.func.value)
                    ):
                        wrong.append(f"{path.name}:{call.lineno} {ast.unparse(call)}")
    assert not wrong, "; ".join(wrong)


def _is_command(fn: ast.FunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
        for d in fn.decorator_list
    )


def _is_args(node: ast.expr) -> bool:
    # args, args.strip(), args.lower() ...: the argument text the handler was given
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return isinstance(node, ast.Name) and node.id == "args"


def test_docs_state_the_rule(tmp_path: Path) -> None:
    text = (REPO_ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert "double quotes keep spaces inside one value" in text
    assert '/reply 12 "See you at 5"' in text
