"""The emulators' flood models (emulators.flood): bucket, window, escalating, counted with an
injected clock; the Bot API emulator answering 429 to the real aiogram client and the Graph
API emulator answering 130429 / 131056 over HTTP."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from aiogram.exceptions import TelegramRetryAfter
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.telegram.client import make_bot
from emulators.flood import FLOOD_MODELS, FloodGate, Limit, max_in_window
from emulators.telegram import TelegramEmulator
from emulators.telegram.limits import FloodLimits
from emulators.whatsapp import GraphEmulator
from tests.conftest import REPO_ROOT
from tests.telegram_support import TOKEN, FakeClock
from tests.whatsapp_support import ACCESS_TOKEN, PHONE_ID

PER_SECOND_30 = Limit(30, 1.0)


def _sends(gate: FloodGate, limit: Limit, times: list[float], key: str = "k") -> list[int | None]:
    return [gate.admit([(key, limit)], at) for at in times]


# ---- window -----------------------------------------------------------------------------------
def test_window_admits_exactly_n_per_window_and_names_the_wait() -> None:
    gate = FloodGate("window")
    answers = _sends(gate, PER_SECOND_30, [10.0 + i * 0.01 for i in range(31)])
    assert answers[:30] == [None] * 30
    assert answers[30] == 1  # the first send leaves the window 0.7 s later: 1 whole second
    assert gate.admit([("k", PER_SECOND_30)], 10.99) == 1  # refusals counted as nothing
    assert gate.admit([("k", PER_SECOND_30)], 11.0) is None  # the first left [10.0, 11.0)
    assert gate.admit([("k", PER_SECOND_30)], 11.0) == 1  # ... but only the first


def test_window_has_no_burst_after_a_pause_where_the_bucket_has_one() -> None:
    # 30 sends spread over 0.9 s, then 30 more right after the first second: the bucket has
    # refilled (a burst passes), the window still holds most of the first 30.
    times = [i * 0.03 for i in range(30)] + [1.0 + i * 0.001 for i in range(30)]
    bucket = _sends(FloodGate("bucket"), PER_SECOND_30, times)
    window = _sends(FloodGate("window"), PER_SECOND_30, times)
    assert sum(a is None for a in bucket) > sum(a is None for a in window)
    accepted = [t for t, a in zip(times, window, strict=True) if a is None]
    assert max_in_window(accepted) == 30


def test_window_retry_after_counts_whole_seconds_to_the_slot() -> None:
    gate = FloodGate("window")
    per_minute = Limit(20, 60.0)
    assert _sends(gate, per_minute, [float(i) for i in range(20)]) == [None] * 20
    assert gate.admit([("k", per_minute)], 20.5) == 40  # the send at 0.0 leaves at 60.0
    assert gate.admit([("k", per_minute)], 59.2) == 1
    assert gate.admit([("k", per_minute)], 60.0) is None


def test_every_key_must_admit_and_a_refusal_counts_against_none() -> None:
    gate = FloodGate("window")
    chat, bot = Limit(1, 1.0), Limit(2, 1.0)
    assert gate.admit([("chat1", chat), ("bot", bot)], 0.0) is None
    assert gate.admit([("chat1", chat), ("bot", bot)], 0.1) == 1  # the chat refuses
    assert gate.admit([("chat2", chat), ("bot", bot)], 0.2) is None  # bot had room still
    assert gate.admit([("chat3", chat), ("bot", bot)], 0.3) == 1  # now the bot refuses
    assert gate.admit([("chat3", chat), ("bot", bot)], 1.0) is None


# ---- escalating ---------------------------------------------------------------------------------
def test_escalating_answers_double_for_a_sender_retrying_early_capped_at_64_s() -> None:
    gate = FloodGate("escalating")
    one = Limit(1, 1.0)
    assert gate.admit([("k", one)], 0.0) is None
    now, answers = 0.5, []
    for _ in range(9):  # retries after half of each answer: refused while closed, every time
        retry_after = gate.admit([("k", one)], now)
        assert retry_after is not None
        answers.append(retry_after)
        now += retry_after / 2
    assert answers == [1, 2, 4, 8, 16, 32, 64, 64, 64]


def test_escalating_series_is_1_2_4_8_and_resets_after_60_s_quiet() -> None:
    gate = FloodGate("escalating")
    one = Limit(1, 1.0)
    assert gate.admit([("k", one)], 0.0) is None
    now, answers = 0.5, []
    for _ in range(4):
        retry_after = gate.admit([("k", one)], now)
        assert retry_after is not None
        answers.append(retry_after)
        now += retry_after  # waits exactly as told
        assert gate.admit([("k", one)], now) is None  # admitted when the wait is over
        now += 0.1  # and floods again at once
    assert answers == [1, 2, 4, 8]
    now += 60.5  # a quiet minute: the next 429 starts the series again
    assert gate.admit([("k", one)], now) is None
    assert gate.admit([("k", one)], now + 0.1) == 1


def test_escalating_keeps_the_key_closed_for_the_whole_answer() -> None:
    gate = FloodGate("escalating")
    one = Limit(1, 1.0)
    gate.admit([("k", one)], 0.0)
    assert gate.admit([("k", one)], 0.5) == 1
    assert gate.admit([("k", one)], 1.4) == 2  # the window is open again, the key is not
    assert gate.admit([("k", one)], 3.4) is None
    assert gate.admit([("k", one)], 3.5) == 4  # closed until 7.5 though the window opens at 4.4
    assert gate.admit([("k", one)], 5.0) == 8  # sent early: refused, and the answer doubles
    assert gate.admit([("other", one)], 5.0) is None  # per key


# ---- bucket (today's behaviour) ------------------------------------------------------------------
def test_bucket_is_unchanged_burst_of_three_then_one_a_second() -> None:
    limits = FloodLimits(FakeClock())
    assert [limits.take(TOKEN, 42, 0.0) for _ in range(3)] == [None, None, None]
    assert limits.take(TOKEN, 42, 0.0) == 1
    assert limits.take(TOKEN, 42, 1.0) is None
    assert limits.take(TOKEN, -100, 1.0) is None  # a group has its own 20 at once
    assert [limits.take(TOKEN, -100, 1.0) for _ in range(19)] == [None] * 19
    assert limits.take(TOKEN, -100, 1.0) == 3  # 20/min refills one every 3 s


def test_telegram_window_limits_per_bot_chat_and_group() -> None:
    limits = FloodLimits(FakeClock(), model="window")
    assert limits.take(TOKEN, 42, 0.0) is None
    assert limits.take(TOKEN, 42, 0.2) == 1  # private chat: 1 in any 1 s, no burst
    assert [limits.take(TOKEN, chat, 0.3) for chat in range(1, 30)] == [None] * 29
    assert limits.take(TOKEN, 99, 0.4) == 1  # the bot's 30 in 1 s are used up
    assert [limits.take(TOKEN, -100, 1.5 + i) for i in range(20)] == [None] * 20
    assert limits.take(TOKEN, -100, 21.0) == 41  # 20 in any 60 s: the first leaves at 61.5
    limits.set_model("bucket")  # switching forgets the counts
    assert limits.take(TOKEN, 42, 21.0) is None


@pytest.mark.parametrize("model", ["window", "escalating"])
@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.floats(0.0, 0.4, allow_nan=False), min_size=1, max_size=120),
    count=st.integers(1, 5),
    window_s=st.sampled_from([0.5, 1.0, 3.0]),
)
def test_accepted_sends_never_exceed_n_in_any_window(
    model: str, gaps: list[float], count: int, window_s: float
) -> None:
    gate = FloodGate(model)
    limit = Limit(count, window_s)
    now, accepted = 100.0, []
    for gap in gaps:
        now += gap
        retry_after = gate.admit([("k", limit)], now)
        if retry_after is None:
            accepted.append(now)
        else:
            assert retry_after >= 1
    assert accepted  # the first send always passes
    assert max_in_window(accepted, window_s) <= count


@given(times=st.lists(st.floats(0.0, 10.0, allow_nan=False), max_size=60))
def test_max_in_window_matches_counting_every_window(times: list[float]) -> None:
    brute = max((sum(0 <= u - t < 1.0 for u in times) for t in times), default=0)
    assert max_in_window(times, 1.0) == brute


def test_unknown_model_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown flood model 'strict'.*bucket, window"):
        FloodGate("strict")
    with pytest.raises(ValueError, match="unknown flood model"):
        TelegramEmulator(flood="strict")
    assert FLOOD_MODELS == ("bucket", "window", "escalating")


# ---- through the real clients -------------------------------------------------------------------
async def test_aiogram_gets_429_from_the_window_model_and_accepted_sends_hold() -> None:
    clock = FakeClock()
    async with TelegramEmulator(tokens=[TOKEN], clock=clock, flood="window") as emu:
        bot = make_bot(TOKEN, emu.base_url)
        try:
            for chat in range(1, 32):
                emu.user(TOKEN, chat)
            for chat in range(1, 31):
                clock.advance(0.01)
                await bot.send_message(chat, "hi")
            with pytest.raises(TelegramRetryAfter) as caught:
                await bot.send_message(31, "one too many")
            assert caught.value.retry_after == 1
            clock.advance(0.69)  # 0.99 s after the first send: still in its window
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(31, "still too many")
            clock.advance(0.05)
            await bot.send_message(31, "after the first left the window")
            # the bucket model would have let a refilled burst through; switch and see
            emu.set_flood("bucket")
            assert emu.flood == "bucket"
            await bot.send_message(1, "counts start from zero")
        finally:
            await bot.session.close()
    accepted = emu.accepted_sends(TOKEN)
    assert len(accepted) == 32 and len(emu.sent(TOKEN)) == 32
    assert max_in_window(accepted[:31]) == 30
    assert [c.status for c in emu.calls_of("sendMessage")].count(429) == 2


async def test_graph_window_holds_the_pair_limit_and_the_throughput() -> None:
    clock = FakeClock()
    graph = GraphEmulator(access_token=ACCESS_TOKEN, messages_per_second=3, clock=clock)
    graph.set_flood("window")
    auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}

    async def send(to: str) -> int:
        body = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "x"}}
        url = f"{graph.url}/v21.0/{PHONE_ID}/messages"
        response = await http.post(url, json=body, headers=auth)
        return 0 if response.status_code == 200 else int(response.json()["error"]["code"])

    async with graph, httpx.AsyncClient() as http:
        assert await send("15550001") == 0
        clock.advance(5.9)
        assert await send("15550001") == 131056  # one per 6 s to the same recipient
        clock.advance(0.1)
        assert await send("15550001") == 0
        assert [await send(f"1555000{i}") for i in (2, 3)] == [0, 0]
        assert await send("15550004") == 130429  # 3 in any 1 s for this number
        clock.advance(1.0)
        assert await send("15550004") == 0
    assert len(graph.accepted_sends(PHONE_ID)) == 5 == len(graph.sent)
    assert max_in_window(graph.accepted_sends()) == 3
    assert graph.calls[1].received - graph.calls[0].received == pytest.approx(5.9)


async def test_graph_escalating_closes_the_pair_longer_each_time() -> None:
    clock = FakeClock()
    async with GraphEmulator(flood="escalating", clock=clock) as graph, httpx.AsyncClient() as http:
        auth = {"Authorization": "Bearer any"}
        body = {"messaging_product": "whatsapp", "to": "1555", "type": "text", "text": {}}
        url = f"{graph.url}/v21.0/{PHONE_ID}/messages"
        codes = []
        # at 1.0: refused, closed for 5 s; at 3.0: closed for 10 s; at 12.0 (the window alone
        # would admit from 6.0): still closed
        for step in (0.0, 1.0, 2.0, 9.0):
            clock.advance(step)
            response = await http.post(url, json=body, headers=auth)
            codes.append(response.json()["error"]["code"] if response.status_code != 200 else 0)
        assert codes == [0, 131056, 131056, 131056]


@pytest.mark.parametrize("module", ["emulators.telegram", "emulators.whatsapp"])
def test_the_command_lines_take_flood_and_refuse_an_unknown_model(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--flood", "strict"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "invalid choice: 'strict'" in result.stderr and "Traceback" not in result.stderr
    helped = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "--flood {bucket,window,escalating}" in helped.stdout


# ---- the benchmark rig's view of the emulators --------------------------------------------------
async def test_rig_platforms_count_refusals_by_answer_and_accepted_times() -> None:
    from bench.broadcast import Result, table
    from tests.broadcast_rig import WA, telegram, whatsapp

    async with whatsapp(3, 2.0, "window") as platform, httpx.AsyncClient() as http:
        platform.emulator.clock = FakeClock()  # the 1 s window must not depend on the load
        url = f"{platform.bot['api_base']}/v21.0/{WA['phone_number_id']}/messages"
        auth = {"Authorization": f"Bearer {WA['access_token']}"}
        for to in ("15550000000", "15550000000", "15550000001", "15550000002"):
            body: dict[str, object] = {"messaging_product": "whatsapp", "to": to, "type": "text"}
            body["text"] = {}
            await http.post(url, json=body, headers=auth)
        # 1st accepted; 2nd: same recipient (131056); 3rd accepted; 4th: 2 in 1 s used (130429)
        assert platform.refusals() == {"131056": 1, "130429": 1}
        assert platform.refused() == 2 and platform.flood == "window"
        assert len(platform.accepted_times()) == 2 == max_in_window(platform.accepted_times())
    async with telegram(2, 30.0, "escalating") as platform:
        platform.emulator.clock = FakeClock()
        bot = make_bot(platform.bot["token"], platform.bot["api_base"])
        try:
            await bot.send_message(int(platform.recipients[0]), "hi")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(int(platform.recipients[0]), "again")
        finally:
            await bot.session.close()
        assert platform.refusals() == {"429": 1} and len(platform.accepted_times()) == 1
    result = Result(
        "telegram", "window", 1, 8, 600, 30.0, 600, 20.0, 29.9, 99.7, 29.5, 1, 1.67,
        {"429": 1.67}, 0, 0, 28, 30, True,
    )  # fmt: skip
    assert "| telegram (30/s) | window | 1 | 600 | 29.90 | 99.7 % |" in table([result])
    assert "| 429: 1.67 | 0 | 0 | 30 |" in table([result])
    result.finished, result.lost = False, 120
    assert "| 429: 1.67 | 120 (timed out) | 0 | 30 |" in table([result])
