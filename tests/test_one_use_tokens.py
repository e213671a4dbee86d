"""One-use confirmation tokens (``commands.admin.tokens.take_confirmation``): every Send,
Resend, Launch and Confirm of the admin bot and the Mini App takes its token there, so of any
number of presses — in a row, replayed, or racing from several connections — one acts; the
others, and presses by another operator or for another kind, are refused by kind and do not
spend the token. On both databases."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.admin import tokens
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.app import tools
from store.clock import utcnow
from store.db import database_proxy
from store.models import Client, ProjectSetting
from tests import factories
from tests.admin_support import make_staff, press

KINDS = sorted(tokens.GONE)
# A press: (who presses: "admin" owns the token, "operator" does not; the kind pressed for).
PRESS = st.tuples(st.sampled_from(["admin", "operator"]), st.sampled_from(KINDS))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(KINDS), presses=st.lists(PRESS, min_size=1, max_size=6))
def test_a_confirmation_is_taken_once_by_its_owner_for_its_kind(
    db: peewee.Database, kind: str, presses: list[tuple[str, str]]
) -> None:
    staff = make_staff()
    token = tokens.put(staff["admin"].operator.id, kind, {"n": 1})
    taken = False
    for who, pressed_kind in presses:
        owner_press = who == "admin" and pressed_kind == kind
        if owner_press and not taken:
            assert tokens.take_confirmation(staff[who], token, pressed_kind) == {"n": 1}
            taken = True
        else:
            with pytest.raises(CommandError) as refused:
                tokens.take_confirmation(staff[who], token, pressed_kind)
            assert str(refused.value) == tokens.GONE[pressed_kind]


def test_presses_racing_from_several_connections_act_once(db: peewee.Database) -> None:
    """Eight threads, each its own database connection as eight requests of the Mini App or
    the bot's webhook would be, press the same confirmation at once, round after round: each
    round one takes it, seven are refused."""
    admin = make_staff()["admin"]
    racers, rounds = 8, 10
    for _ in range(rounds):
        token = tokens.put(admin.operator.id, "bulk", {"n": 1})
        start = threading.Barrier(racers)
        outcomes: list[Any] = []

        def press_once(
            token: str = token, start: threading.Barrier = start, outcomes: list[Any] = outcomes
        ) -> None:
            try:
                start.wait()
                outcomes.append(tokens.take_confirmation(admin, token, "bulk"))
            except CommandError as exc:
                outcomes.append(str(exc))
            except BaseException as exc:  # reported below, not lost in the thread
                outcomes.append(exc)
            finally:
                database_proxy.close()

        threads = [threading.Thread(target=press_once) for _ in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(map(str, outcomes)) == sorted(
            [str({"n": 1})] + [tokens.GONE["bulk"]] * (racers - 1)
        )


def test_the_apps_mass_tools_confirm_once(db: peewee.Database) -> None:
    admin = make_staff()["admin"]
    factories.client("Gone", unsubscribed=True)
    factories.client("Kept")
    planned = tools.plan_purge(admin)
    assert planned.token is not None and planned.count == 1
    assert tools.confirm(admin, tools.BULK_TOKEN_KIND, planned.token).startswith("Deleted 1")
    with pytest.raises(CommandError, match="already confirmed"):
        tools.confirm(admin, tools.BULK_TOKEN_KIND, planned.token)  # a replayed request
    assert [c.name for c in Client.select()] == ["Kept"]


def test_a_campaigns_cancel_then_launch_acts_once(db: peewee.Database) -> None:
    staff: dict[str, CommandContext] = make_staff()
    admin = staff["admin"]
    factories.client("Anna")
    ADMIN_COMMANDS.handle_text(admin, "/campaign Sale")
    ADMIN_COMMANDS.handle_text(admin, "Hello")
    plan = ADMIN_COMMANDS.handle_text(admin, "tab:all")
    assert "nothing was sent" in press(admin, plan, "Cancel").text
    again = press(admin, plan, "Cancel")  # a double tap of Cancel
    assert again.error and again.text.endswith(tokens.GONE["campaign"])
    launched = press(admin, plan, "🚀")
    assert launched.error and launched.text.endswith(tokens.GONE["campaign"])


def test_a_new_token_clears_the_expired_ones_in_its_own_transaction(
    db: peewee.Database,
) -> None:
    """``put`` stores the token and deletes the expired ones together (one commit); inside a
    caller's transaction it is part of it: rolled back, neither happened."""
    staff = make_staff()
    me = staff["admin"].operator.id
    old = tokens.put(me, "bulk", {"n": 1})
    stale = utcnow() - dt.timedelta(seconds=tokens.TOKEN_TTL_S + 60)
    ProjectSetting.update(updated_at=stale).where(
        ProjectSetting.key == tokens.PREFIX + old
    ).execute()
    with database_proxy.atomic() as transaction:
        inner = tokens.put(me, "bulk", {"n": 2})
        transaction.rollback()
    assert tokens.get(inner, me, "bulk") is None
    assert ProjectSetting.get_or_none(ProjectSetting.key == tokens.PREFIX + old) is not None
    new = tokens.put(me, "bulk", {"n": 3})
    assert tokens.get(new, me, "bulk") == {"n": 3}
    assert ProjectSetting.get_or_none(ProjectSetting.key == tokens.PREFIX + old) is None
