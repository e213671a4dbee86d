"""``switchboard clients ...`` and ``switchboard filters ...`` as a user runs them (in-process
through ``commands.cli.main``), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from commands.cli import main
from store.clients.unread import is_unread, unread_ids
from store.db import database_proxy
from store.models import AuditLog, Client, Label, Operator, SavedFilter
from tests.factories import bot, client, local


@dataclass
class Result:
    code: int
    out: str
    err: str


Shell = Callable[..., Result]

CONFIG = """
database_url: {url}
timezone: Europe/Moscow
bots:
  - {{name: shop_tg, kind: telegram, enabled: false}}
  - {{name: shop_mail, kind: email, enabled: false}}
operators:
  - {{telegram_id: 111, role: admin, name: Alice}}
  - {{telegram_id: 222, name: Anna}}
  - {{telegram_id: 333, name: Boris}}
"""


@pytest.fixture
def shell(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Shell]:
    """Run ``switchboard ARGS`` in-process against a migrated store with three operators."""
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(url=db_url))
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(["--config", str(config), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    assert run("migrate").code == 0
    assert run("clients", "count").code == 0  # syncs bots and operators
    try:
        yield run
    finally:
        if database_proxy.obj is not None:
            database_proxy.obj.close()
        database_proxy.initialize(None)


def op(telegram_id: int) -> Operator:
    return Operator.get(Operator.telegram_id == telegram_id)


def seed() -> None:
    mail = bot("shop_mail", "email")
    client(
        "Ксения Петрова",
        "7771988777",
        lists=("VIP",),
        labels=("hot",),
        variables={"Размер": "XS"},
        block="Оплата",
        unread=True,
        created_at=local("19.04.2021 23:59"),
        responsible=op(222),
    )
    client("Bob", "bob@example.com", on=mail, pinned=True, unsubscribed=True)
    client("Boris's", "42", responsible=op(333), unread=True, blocked=True)


def test_list_json_has_every_field_and_scope(shell: Shell) -> None:
    seed()
    result = shell("clients", "list", "--json")
    assert result.code == 0, result.err
    listed = json.loads(result.out)
    assert (listed["count"], listed["count_exact"], listed["next_cursor"]) == (3, True, None)
    rows = listed["clients"]
    assert rows[0]["name"] == "Bob"  # pinned first
    fields = {
        "client_id",
        "name",
        "messenger",
        "bot",
        "messenger_id",
        "created_at",
        "last_action_at",
        "block",
        "tag",
        "unread",
        "pinned",
        "blocked",
        "unsubscribed",
        "responsible",
        "lists",
        "labels",
        "variables",
    }
    assert fields <= set(rows[0])
    ksenia = next(r for r in rows if r["name"] == "Ксения Петрова")
    assert ksenia["created_at"] == "2021-04-19T23:59:00+03:00"
    assert (ksenia["lists"], ksenia["labels"], ksenia["variables"]) == (
        ["VIP"],
        ["hot"],
        {"Размер": "XS"},
    )
    assert (ksenia["block"], ksenia["responsible"], ksenia["messenger"]) == (
        "Оплата",
        "Anna",
        "telegram",
    )
    anna = json.loads(shell("clients", "list", "--json", "--as", "222").out)["clients"]
    # Boris's client too: an operator sees others' clients (view_others), acts on hers only.
    assert {r["name"] for r in anna} == {"Ксения Петрова", "Bob", "Boris's"}
    shell("admin", "--as", "111", "/operators revoke 222 view_others")
    anna = json.loads(shell("clients", "list", "--json", "--as", "222").out)["clients"]
    assert {r["name"] for r in anna} == {"Ксения Петрова", "Bob"}
    mine = shell("clients", "list", "tab:mine", "--as", "222", "--json")
    assert [r["name"] for r in json.loads(mine.out)["clients"]] == ["Ксения Петрова"]
    text = shell("clients", "list", "ксения", "before:20.04.2021", "var:Размер=XS")
    assert text.code == 0 and "Ксения Петрова" in text.out and "Bob" not in text.out
    header, row = text.out.splitlines()
    assert header == "id\tname\tbot\tmessenger id\tlast action\tresponsible\tflags"
    # The project's time with its zone, the minute of the JSON's ISO value.
    assert row.split("\t")[4] == ksenia["last_action_at"][:16].replace("T", " ") + " MSK"
    assert "1 client(s)" in text.err
    paged = json.loads(shell("clients", "list", "--json", "--per-page", "2", "--page", "2").out)
    assert len(paged["clients"]) == 1 and paged["next_cursor"] is None


def test_list_after_a_cursor_walks_every_client_once(shell: Shell) -> None:
    seed()
    first = json.loads(shell("clients", "list", "--json", "--per-page", "2").out)
    cursor = first["next_cursor"]
    assert isinstance(cursor, str) and re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    second = json.loads(
        shell("clients", "list", "--json", "--per-page", "2", "--after", cursor).out
    )
    names = [r["name"] for r in first["clients"] + second["clients"]]
    everyone = [r["name"] for r in json.loads(shell("clients", "list", "--json").out)["clients"]]
    assert names == everyone and second["next_cursor"] is None
    text = shell("clients", "list", "--per-page", "2")
    assert text.err.strip() == f"page 1 of 2, 3 client(s); next: --after {cursor}"
    assert shell("clients", "list", "--after", cursor).out.count("\n") == 2  # header + 1 row
    # The cursor of another sort, a garbled one, or --page with --after: one line, exit 1.
    for args, message in (
        (("sort:created", "--after", cursor), "cursor is of a list sorted by activity"),
        (("--after", cursor[:-1] + ("A" if cursor[-1] != "A" else "B")), "is not a cursor"),
        (("--after", "../../etc"), "is not a cursor"),
        (("--after", cursor, "--page", "2"), "--page and --after exclude each other"),
    ):
        bad = shell("clients", "list", *args)
        assert bad.code != 0 and message in bad.err and "Traceback" not in bad.err, bad.err


def test_count_prints_the_number_alone(shell: Shell) -> None:
    seed()
    assert shell("clients", "count").out == "3\n"
    assert shell("clients", "count", "-list:VIP", "-label:hot").out == "2\n"
    # Boris counts his and the free clients, and others' too (view_others: read-only).
    assert shell("clients", "count", "unanswered", "--as", "333").out == "2\n"
    assert shell("clients", "count", "unanswered", "tab:others", "--as", "333").out == "1\n"
    client("-hot deal", "-1")
    assert shell("clients", "count", "-hot").out == "1\n"  # a bare word, not -h (help)
    assert shell("clients", "count", "-label:hot", "-h").out.startswith("Usage:")
    assert shell("clients", "count", "-list:VIP", "--as", "111").out == "3\n"
    Client.delete().where(Client.name == "-hot deal").execute()
    assert shell("clients", "unread").out == "2\n"  # admin: the project's unread dialogs
    assert shell("clients", "unread", "--as", "222").out == "1\n"  # Anna's own
    assert shell("clients", "unread", "--as", "333").out == "1\n"


BAD_INPUT = [
    (("clients", "count", "lst:VIP"), "unknown filter 'lst'; did you mean 'list:'?"),
    (("clients", "list", "list:VIPP"), "no list named 'VIPP'; did you mean 'VIP'?"),
    (("clients", "count", "after:31.02.2023"), "is not a date"),
    (("clients", "bulk", "lable-add", "x"), "did you mean 'label-add'?"),
    (("clients", "bulk", "label-add"), "label-add needs an argument"),
    (("clients", "bulk", "label-remove", "hott"), "no label named 'hott'"),
    (("clients", "bulk", "assign", "Boris", "--as", "222"), "not give them"),
    (("clients", "count", "--as", "999"), "--as 999: no active operator"),
    (("filters", "delete", "nope"), "no saved filter named 'nope'"),
    (("clients", "import", "missing.csv"), "does not exist"),
]


def test_bad_input_is_one_line_and_exit_nonzero(shell: Shell) -> None:
    seed()
    for args, message in BAD_INPUT:
        result = shell(*args)
        assert result.code != 0, args
        assert message in result.err, result.err
        assert "Traceback" not in result.err
        if result.code != 2:  # a usage error (exit 2) shows click's usage line too
            assert len(result.err.strip().splitlines()) == 1, result.err
    assert Client.select().count() == 3 and AuditLog.select().count() == 0


def test_bulk_prints_the_count_and_acts_only_with_yes(shell: Shell) -> None:
    seed()
    dry = shell("clients", "bulk", "label-add", "new,hot", "-label:hot", "--dry-run")
    assert dry.code == 0 and dry.out.splitlines() == [
        "label-add new,hot: 2 client(s) would be affected (shop_mail 1, shop_tg 1).",
        "Dry run: nothing was changed.",
    ]
    refused = shell("clients", "bulk", "label-add", "new,hot", "-label:hot")
    assert refused.code == 1 and refused.err.strip() == (
        "switchboard: not a terminal, so no one can confirm: add --yes to apply label-add "
        "new,hot (or --dry-run to see the plan only)"
    )
    assert not Label.select().where(Label.name == "new").exists()
    done = shell("clients", "bulk", "label-add", "new,hot", "-label:hot", "--yes")
    assert done.code == 0, done.err
    assert "label-add new,hot: 2 client(s), 4 change(s)" in done.out
    audit = AuditLog.get()
    assert audit.operator is not None
    assert (audit.operator.telegram_id, audit.action, audit.filter_text, audit.count) == (
        111,
        "label-add",
        "-label:hot",
        2,
    )
    not_asked = shell("clients", "bulk", "delete", "Bob")
    assert not_asked.code == 1 and not_asked.out.startswith("delete: 1 client(s) would")
    assert Client.select().count() == 3
    assert shell("clients", "bulk", "delete", "Bob", "--yes").code == 0
    assert Client.select().count() == 2
    anna = shell("clients", "bulk", "read", "--yes", "--as", "222")
    assert "read: 1 client(s), 1 change(s)" in anna.out  # Boris's client is not Anna's
    assert is_unread(Client.get(Client.name == "Boris's").id)


def test_read_all_and_purge_unsubscribed(shell: Shell) -> None:
    seed()
    unread = Client.select().where(Client.id.in_(unread_ids())).count
    before = unread()
    dry_read = shell("clients", "read-all", "--as", "222", "--dry-run")
    assert "read-all: 2 client(s) would be affected" in dry_read.out and unread() == before
    assert shell("clients", "read-all", "--as", "222").code == 1  # no terminal, no --yes
    assert unread() == before
    assert "read-all: 2 client(s)" in shell("clients", "read-all", "--as", "222", "--yes").out
    assert unread() == 1
    dry = shell("clients", "purge-unsubscribed", "--dry-run")
    assert "purge-unsubscribed: 2 client(s) would be affected" in dry.out
    assert shell("clients", "purge-unsubscribed").code == 1  # no terminal, no --yes
    assert Client.select().count() == 3
    assert shell("clients", "purge-unsubscribed", "--yes").code == 0
    assert [c.name for c in Client.select()] == ["Ксения Петрова"]
    assert [a.action for a in AuditLog.select().order_by(AuditLog.id)] == [
        "read-all",
        "purge-unsubscribed",
    ]


def test_saved_filters_from_the_shell(shell: Shell) -> None:
    seed()
    saved = shell("filters", "save", "vips", "list:VIP", "-label:cold", "--as", "222")
    assert saved.code == 1 and "no label named 'cold'" in saved.err
    assert shell("filters", "save", "vips", "list:VIP", "--as", "222").code == 0
    assert shell("filters", "list", "--as", "222").out == "vips\tlist:VIP\n"
    assert shell("filters", "list").out == ""  # Alice's own list
    assert shell("clients", "count", "saved:vips", "--as", "222").out == "1\n"
    assert shell("filters", "delete", "vips", "--as", "222").out == "deleted vips\n"
    assert SavedFilter.select().count() == 0
    assert "| `search:" in shell("filters", "help", "--markdown").out


def test_export_then_import_round_trip(shell: Shell, tmp_path: Path) -> None:
    seed()
    out = tmp_path / "clients.csv"
    result = shell("clients", "export", "-label:nothing", "-o", str(out))
    assert result.code == 1 and not out.exists()  # bad filter: no file
    refused = shell("clients", "export", "--format", "csv", "-o", str(out), "--as", "222")
    assert refused.code == 1 and "needs the 'export' permission" in refused.err
    assert shell("admin", "--as", "111", "/operators grant 222 export").code == 0
    result = shell("clients", "export", "--format", "csv", "-o", str(out), "--as", "222")
    assert result.code == 0 and "exported 2 client(s)" in result.out
    rows = list(csv.reader(out.open(encoding="utf-8", newline="")))
    assert rows[0][:3] == ["client_id", "name", "messenger"] and rows[0][11:] == ["Размер"]
    assert {r[1] for r in rows[1:]} == {"Ксения Петрова", "Bob"}
    xlsx = tmp_path / "clients.xlsx"
    assert shell("clients", "export", "--format", "xlsx", "-o", str(xlsx)).code == 0
    assert xlsx.read_bytes()[:2] == b"PK"
    Client.delete().execute()
    # The import changes many clients: its plan first; no terminal and no --yes: refused.
    plan = "import clients.csv: 2 row(s); a client already here (same bot and messenger id)"
    dry = shell("clients", "import", str(out), "--dry-run")
    assert dry.code == 0 and dry.out.startswith(plan) and "Dry run: nothing was changed" in dry.out
    refused = shell("clients", "import", str(out))
    assert refused.code == 1 and refused.out.startswith(plan)
    assert refused.err == (
        "switchboard: not a terminal, so no one can confirm: add --yes to import "
        "(or --dry-run to see the plan only)\n"
    )
    assert Client.select().count() == 0
    imported = shell("clients", "import", str(out), "--yes")
    assert imported.code == 0, imported.err
    assert "imported 2 new, 0 updated, 0 row(s) with errors" in imported.out
    refused = shell("clients", "import", str(out), "--as", "222", "--yes")
    assert refused.code == 1 and "needs the 'import' permission" in refused.err
    bad = tmp_path / "bad.csv"
    lines = out.read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([lines[0], lines[1].replace("shop_", "nope_")]) + "\n")
    report = shell("clients", "import", str(bad), "--yes")
    assert report.code == 1 and "line 2:" in report.err
    audit = [(a.action, a.count) for a in AuditLog.select().order_by(AuditLog.id)]
    assert audit == [("grant", 0), ("export", 2), ("export", 3), ("import", 2), ("import", 0)]


def test_export_format_follows_the_extension_and_never_overwrites(
    shell: Shell, tmp_path: Path
) -> None:
    seed()
    xlsx = tmp_path / "clients.xlsx"
    made = shell("clients", "export", "-o", str(xlsx))
    assert made.code == 0 and made.out.endswith("(XLSX)\n"), made.err
    assert xlsx.read_bytes()[:2] == b"PK"
    again = shell("clients", "export", "-o", str(xlsx))
    assert again.code == 1
    assert again.err == f"switchboard: {xlsx} exists: add --force to overwrite it\n"
    assert xlsx.read_bytes()[:2] == b"PK"
    forced = shell("clients", "export", "--format", "csv", "-o", str(xlsx), "--force")
    assert forced.code == 0 and xlsx.read_text(encoding="utf-8").startswith("client_id,")
    bare = tmp_path / "clients"
    assert shell("clients", "export", "-o", str(bare)).code == 0
    assert bare.read_text(encoding="utf-8").startswith("client_id,")  # no extension: CSV
    odd = shell("clients", "export", "-o", str(tmp_path / "c.txt"))
    assert odd.code == 1 and ".txt is neither .csv nor .xlsx" in odd.err
    assert not (tmp_path / "c.txt").exists()
    assert [a.count for a in AuditLog.select()] == [3, 3, 3]


def test_admin_exports_are_named_in_local_time_and_never_collide(
    shell: Shell, tmp_path: Path
) -> None:
    seed()
    before = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Moscow")).replace(microsecond=0)
    first = shell("admin", "--as", "111", "/export csv")
    second = shell("admin", "--as", "111", "/export csv")
    after = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Moscow"))
    assert first.code == 0 and second.code == 0, first.err + second.err
    files = sorted(p.name for p in tmp_path.glob("clients-*.csv"))
    assert len(files) == 2, files
    for name in files:
        match = re.fullmatch(r"clients-(\d{8}-\d{6})(-2)?\.csv", name)
        assert match, name
        stamp = dt.datetime.strptime(match[1], "%Y%m%d-%H%M%S")
        assert before.replace(tzinfo=None) <= stamp <= after.replace(tzinfo=None)
    assert all((tmp_path / n).read_bytes().count(b"\n") == 4 for n in files)


def test_help_lists_commands_actions_and_filters(shell: Shell) -> None:
    helped = shell("clients", "--help")
    for command in ("list", "count", "bulk", "export", "import", "read-all", "purge-unsubscribed"):
        assert command in helped.out
    bulk = shell("clients", "bulk", "--help").out
    assert "label-add NAME[,NAME...]" in bulk and "var:NAME=VALUE" in bulk and "--as" in bulk


def test_progress_bar_only_on_a_terminal_over_ten_thousand(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    from store.db import open_database
    from store.migrate import migrate
    from store.models import Bot

    url = f"sqlite:///{tmp_path / 'big.db'}"
    (tmp_path / "config.yaml").write_text(CONFIG.format(url=url))
    database = open_database(url)
    migrate(database)
    shop = Bot.create(name="shop_tg", kind="telegram")
    with database.atomic():
        Client.insert_many(
            ({"bot": shop.id, "messenger_id": str(n), "name": f"c{n}"} for n in range(10_001)),
        ).execute()
    database.close()
    database_proxy.initialize(None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parent.parent), COLUMNS="100")
    command = [sys.executable, "-m", "commands", "clients", "export", "-o", "out.csv", "--force"]

    def stderr_of(on_terminal: bool) -> str:
        if not on_terminal:
            done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            return done.stderr
        leader, follower = pty.openpty()
        with subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=follower
        ) as process:
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed with the process
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            assert process.wait(timeout=60) == 0
        os.close(leader)
        return b"".join(chunks).decode("utf-8", "replace")

    shown = stderr_of(True)
    assert "export" in shown and "10001/10001" in shown.replace(",", "")
    assert stderr_of(False) == ""
