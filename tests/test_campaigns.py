"""Campaigns in the store (issue 18): audience frozen at launch, the tick's clock and slices,
pause/resume/cancel, quiet hours, and at most one outbox row per (campaign, client) whatever
happens — on both databases."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import peewee
import pytest

from store import outbox
from store.campaigns import audience, model, schedule, send
from store.campaigns.schedule import Pacing, QuietHours
from store.models import Campaign, CampaignRecipient, Client, Message
from tests import factories

T0 = dt.datetime(2026, 12, 24, 7, 0)  # 10:00 in Moscow
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def pacing(steps: dict[int, float] | None = None, quiet: str | None = None) -> Pacing:
    return Pacing(
        steps=steps or {},
        zone=MOSCOW,
        quiet=QuietHours.parse(quiet) if quiet else None,
        window_since=lambda now: now - dt.timedelta(hours=23),
    )


def everyone() -> peewee.ModelSelect[Client]:
    return Client.select()


def launched(variants: int = 1, **kw: object) -> Campaign:
    contents = [{"text": f"Variant {i}"} for i in range(variants)]
    campaign = model.create("Xmas", contents, filter_text="", **kw)  # type: ignore[arg-type]
    return audience.launch(
        campaign.id, everyone(), steps={}, window_since=T0 - dt.timedelta(hours=23), now=T0
    )


def rows_per_client() -> dict[int, int]:
    counts: dict[int, int] = {}
    for m in Message.select().where(Message.direction == "out"):
        counts[m.client_id] = counts.get(m.client_id, 0) + 1
    return counts


def statuses(campaign_id: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for r in CampaignRecipient.select().where(CampaignRecipient.campaign_id == campaign_id):
        found[r.status] = found.get(r.status, 0) + 1
    return found


def test_launch_freezes_the_audience_with_skip_reasons(db: peewee.Database) -> None:
    tg = factories.bot("shop_tg", "telegram")
    wa = factories.bot("shop_wa", "whatsapp")
    factories.client("Анна Петрова", on=tg)
    factories.client("Борис", on=tg, blocked=True)
    factories.client("Вера", on=tg, unsubscribed=True)
    silent = factories.client("Глеб", "79990000001", on=wa)
    talking = factories.client("Дина", "79990000002", on=wa)
    outbox_time = T0 - dt.timedelta(hours=2)
    Message.create(
        client=talking, bot=wa, direction="in", author_kind="client", created_at=outbox_time
    )
    campaign = launched()
    assert campaign.status == "scheduled" and campaign.total == 5
    reasons = {
        r.client.name: (r.status, r.reason)
        for r in CampaignRecipient.select().where(CampaignRecipient.campaign_id == campaign.id)
    }
    assert reasons == {
        "Анна Петрова": ("pending", None),
        "Борис": ("skipped", "blocked"),
        "Вера": ("skipped", "unsubscribed"),
        "Глеб": ("skipped", "outside_window"),
        "Дина": ("pending", None),
    }
    assert silent.id not in rows_per_client()
    # A client who arrives later is not added by surprise.
    factories.client("Ева", on=tg)
    schedule.tick(pacing(), now=T0)
    frozen = CampaignRecipient.select().where(CampaignRecipient.campaign_id == campaign.id)
    assert frozen.count() == 5


def test_a_second_launch_is_refused_and_changes_nothing(db: peewee.Database) -> None:
    for i in range(3):
        factories.client(f"c{i}")
    campaign = launched()
    with pytest.raises(model.CampaignError, match="already scheduled"):
        audience.launch(campaign.id, everyone(), steps={}, window_since=T0, now=T0)
    assert CampaignRecipient.select().count() == 3 and model.get(campaign.id).total == 3


def test_a_scheduled_campaign_starts_at_its_time_and_paces_over_its_spread(
    db: peewee.Database,
) -> None:
    for i in range(10):
        factories.client(f"c{i}")
    start = T0 + dt.timedelta(minutes=1)
    campaign = launched(start_at=start, spread_s=120.0)
    schedule.tick(pacing(), now=T0)
    assert model.get(campaign.id).status == "scheduled" and not rows_per_client()
    schedule.tick(pacing(), now=start)
    assert model.get(campaign.id).status == "sending"
    assert len(rows_per_client()) == 1  # slot 0 only: the others are 13.3 s apart
    moment = start
    for _ in range(12):  # ticks every 10 s of the campaign's clock
        moment += dt.timedelta(seconds=10)
        schedule.tick(pacing(), now=moment)
    assert sorted(rows_per_client().values()) == [1] * 10
    slots = sorted(r.slot_s for r in CampaignRecipient.select())
    assert slots == pytest.approx([120.0 * i / 9 for i in range(10)])  # the last at 2 min


def test_the_clock_stands_still_in_quiet_hours_and_while_nobody_ticks(
    db: peewee.Database,
) -> None:
    for i in range(4):
        factories.client(f"c{i}")
    campaign = launched(spread_s=30.0)
    quiet = pacing(quiet="22:00-09:00")
    night = dt.datetime(2026, 12, 24, 20, 0)  # 23:00 in Moscow
    schedule.tick(quiet, now=night)
    for s in range(1, 100):
        schedule.tick(quiet, now=night + dt.timedelta(seconds=s))
    assert model.get(campaign.id).elapsed_s == 0.0 and not rows_per_client()
    morning = dt.datetime(2026, 12, 25, 6, 0)  # 09:00 in Moscow, hours later
    schedule.tick(quiet, now=morning)
    schedule.tick(quiet, now=morning + dt.timedelta(seconds=3))
    # The night counts at most one step (MAX_STEP_S), then 3 s: slots 0 and 10 are due,
    # 20 is not (the lookahead is 1 s).
    assert model.get(campaign.id).elapsed_s == pytest.approx(schedule.MAX_STEP_S + 3.0)
    assert len(rows_per_client()) == 2


def test_two_processes_ticking_the_same_moment_enqueue_each_client_once(
    db: peewee.Database,
) -> None:
    for i in range(20):
        factories.client(f"c{i}")
    campaign = launched()
    schedule.tick(pacing(), now=T0)
    stale = model.get(campaign.id)  # what a second process read before the first wrote
    schedule.tick_one(campaign.id, pacing(), now=T0 + dt.timedelta(seconds=1))
    assert model.get(campaign.id).version == stale.version + 1
    # The slow process's compare-and-set fails: it does nothing.
    with db.atomic():
        won = (
            Campaign.update(elapsed_s=99)
            .where((Campaign.id == campaign.id) & (Campaign.version == stale.version))
            .execute()
        )
    assert won == 0
    # Even a slice taken twice (the bookkeeping lost) inserts no second row.
    CampaignRecipient.update(status="pending").execute()
    with db.atomic():
        send.enqueue_due(model.get(campaign.id), 1e9, window_since=T0, now=T0)
    assert sorted(rows_per_client().values()) == [1] * 20
    linked = CampaignRecipient.select().where(CampaignRecipient.message_id.is_null(False)).count()
    assert linked == 20


def test_pause_takes_back_unclaimed_rows_and_resume_sends_each_once(
    db: peewee.Database,
) -> None:
    for i in range(6):
        factories.client(f"c{i}")
    campaign = launched()
    schedule.tick(pacing(), now=T0)
    first = Message.select().order_by(Message.id).first()
    assert outbox.claim(first.id, now=T0) is not None  # one is being sent right now
    model.pause(campaign.id, now=T0)
    assert Message.select().count() == 1  # the claimed one stays, the rest came back
    assert outbox.mark_sent(first.id, "p-1")
    with pytest.raises(model.CampaignError, match="is paused: it cannot be paused"):
        model.pause(campaign.id)
    schedule.tick(pacing(), now=T0 + dt.timedelta(seconds=5))
    assert Message.select().count() == 1  # paused: nothing new
    model.resume(campaign.id, now=T0 + dt.timedelta(seconds=6))
    schedule.tick(pacing(), now=T0 + dt.timedelta(seconds=7))
    assert sorted(rows_per_client().values()) == [1] * 6
    for m in Message.select().where(Message.status == "queued"):
        outbox.claim(m.id, now=T0 + dt.timedelta(seconds=7))
        outbox.mark_sent(m.id, f"p{m.id}")
    schedule.tick(pacing(), now=T0 + dt.timedelta(seconds=8))
    assert statuses(campaign.id) == {"sent": 6}
    assert model.get(campaign.id).status == "done"


def test_cancel_sends_nothing_more(db: peewee.Database) -> None:
    for i in range(4):
        factories.client(f"c{i}")
    campaign = launched(spread_s=60.0)
    schedule.tick(pacing(), now=T0)
    assert len(rows_per_client()) == 1
    model.cancel(campaign.id, now=T0)
    schedule.tick(pacing(), now=T0 + dt.timedelta(seconds=60))
    assert not rows_per_client()
    assert model.get(campaign.id).status == "cancelled"
    with pytest.raises(model.CampaignError, match="cancelled: it cannot be resumed"):
        model.resume(campaign.id)


def test_a_live_campaign_adds_the_clients_matching_at_its_start(db: peewee.Database) -> None:
    factories.client("early")
    start = T0 + dt.timedelta(hours=1)
    campaign = launched(start_at=start, live=True)
    factories.client("late")
    schedule.tick(pacing(), now=start)
    assert model.get(campaign.id).total == 2
    assert len(rows_per_client()) == 2


def test_ab_variants_are_drawn_at_random_and_sent_as_drawn(db: peewee.Database) -> None:
    for i in range(40):
        factories.client(f"c{i}")
    campaign = launched(variants=2)
    split = [r.variant for r in CampaignRecipient.select()]
    assert sorted(set(split)) == [0, 1]  # one variant for all 40: odds 2 in 2**40
    schedule.tick(pacing(), now=T0)
    texts = {m.client_id: m.text for m in Message.select().where(Message.direction == "out")}
    for r in CampaignRecipient.select().where(CampaignRecipient.campaign_id == campaign.id):
        assert texts[r.client_id] == f"Variant {r.variant}"


def test_a_dead_workers_campaign_row_is_uncertain_not_resent(db: peewee.Database) -> None:
    factories.client("c0")
    factories.client("c1")
    launched()
    schedule.tick(pacing(), now=T0)
    ids = [m.id for m in Message.select().order_by(Message.id)]
    outbox.claim(ids[0], worker_id="dead:1:x", now=T0)
    plain = outbox.enqueue(Client.get(), "hello", now=T0)
    outbox.claim(plain.id, worker_id="dead:1:x", now=T0)
    from store import leases

    back = leases.recover(8.0, now=T0 + dt.timedelta(seconds=60))
    assert back == [plain.id]  # an ordinary row is sent again
    assert Message.get_by_id(ids[0]).status == "uncertain"
    assert outbox.claim(ids[0], now=T0 + dt.timedelta(seconds=61)) is None


@pytest.mark.parametrize(
    ("text", "error"),
    [("22-09", "expected HH:MM-HH:MM"), ("10:00-10:00", "the same"), ("25:00-01:00", "HH:MM")],
)
def test_quiet_hours_refuse_bad_text_in_one_line(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        QuietHours.parse(text)


def test_quiet_hours_wrap_past_midnight() -> None:
    quiet = QuietHours.parse("22:00-09:00")
    utc = dt.UTC
    assert quiet.covers(dt.datetime(2026, 1, 1, 23, 0), utc)
    assert not quiet.covers(dt.datetime(2026, 1, 1, 21, 59), utc)
    assert quiet.covers(dt.datetime(2026, 1, 1, 8, 59), utc)
    assert not quiet.covers(dt.datetime(2026, 1, 1, 9, 0), utc)
    day = QuietHours.parse("13:00-14:00")
    assert day.covers(dt.datetime(2026, 1, 1, 13, 30), utc)
    assert not day.covers(dt.datetime(2026, 1, 1, 14, 0), utc)


def test_processes_ticking_at_once_enqueue_each_client_once(pg_db: peewee.Database) -> None:
    """Four threads (each its own PostgreSQL connection, as four processes would be) tick the
    same campaign over and over at the same moments: each client gets one outbox row."""
    import threading

    from store.db import database_proxy

    for i in range(60):
        factories.client(f"c{i}")
    campaign = launched(spread_s=20.0)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def ticker() -> None:
        try:
            start.wait()
            for s in range(40):
                schedule.tick(pacing(), now=T0 + dt.timedelta(seconds=s))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            database_proxy.close()

    threads = [threading.Thread(target=ticker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(rows_per_client().values()) == [1] * 60
    assert model.get(campaign.id).elapsed_s <= 40.0


def test_the_dispatchers_hook_starts_a_campaign_due_now(db: peewee.Database) -> None:
    from commands.campaigns import tick_hook
    from config import Settings

    bots = [{"name": "shop_tg", "kind": "telegram", "token": "1:abc"}]
    settings = Settings.model_validate({"bots": bots, "campaigns": {"quiet_hours": None}})
    tg = factories.bot("shop_tg")
    for i in range(3):
        factories.client(f"c{i}", on=tg)
    draft = model.create("Now", [{"text": "Sale"}])
    audience.launch(draft.id, everyone(), steps={}, window_since=T0)
    hook = tick_hook(settings)
    hook()
    assert model.get(draft.id).status == "sending"
    assert sorted(rows_per_client().values()) == [1] * 3
    hook()  # again: nothing new
    assert Message.select().count() == 3
