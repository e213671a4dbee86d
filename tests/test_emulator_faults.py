"""The emulators' ``--faults`` mode (emulators.faults) and the Telegram emulator's read-only
chat view that ``switchboard demo inbox`` reads."""

from __future__ import annotations

import httpx
from hypothesis import given
from hypothesis import strategies as st

from emulators.faults import FAULT_KINDS, FaultCycle
from emulators.telegram import TelegramEmulator
from emulators.whatsapp import GraphEmulator
from tests.whatsapp_support import ACCESS_TOKEN, PHONE_ID

TOKEN = "123:ABC"


@given(st.integers(1, 50), st.integers(0, 400))
def test_every_nth_send_fails_by_kind_in_turn(every: int, sends: int) -> None:
    cycle = FaultCycle(every)
    got = [cycle.next_fault() for _ in range(sends)]
    faults = [(n + 1, kind) for n, kind in enumerate(got) if kind is not None]
    assert [n for n, _ in faults] == list(range(every, sends + 1, every))
    assert [kind for _, kind in faults] == [
        FAULT_KINDS[i % len(FAULT_KINDS)] for i in range(len(faults))
    ]
    assert sum(cycle.injected.values()) == len(faults)


def test_no_faults_by_default() -> None:
    cycle = FaultCycle()
    assert all(cycle.next_fault() is None for _ in range(100))


async def test_telegram_faults_answer_as_telegram_and_only_for_that_bot() -> None:
    async with TelegramEmulator(limits=False) as emu:
        emu.bot(TOKEN)
        emu.bot("456:STAFF", username="staff_bot")
        emu.user(TOKEN, 42, first_name="Ann")
        emu.user("456:STAFF", 42, first_name="Ann")
        emu.set_faults(TOKEN, 2)
        async with httpx.AsyncClient() as http:
            answers = [
                await http.post(f"{emu.base_url}/bot{TOKEN}/sendMessage", json={
                    "chat_id": 42, "text": f"m{n}"})
                for n in range(8)
            ]  # fmt: skip
            staff = [
                await http.post(f"{emu.base_url}/bot456:STAFF/sendMessage", json={
                    "chat_id": 42, "text": "s", "reply_markup": {"inline_keyboard": [[
                        {"text": "Open", "callback_data": "open:1"}]]}})
                for _ in range(4)
            ]  # fmt: skip
            inbox = await http.get(
                f"{emu.base_url}/_emulator/chats/42/messages", params={"bot": "staff_bot"}
            )
            bad = await http.get(f"{emu.base_url}/_emulator/chats/x/messages")
    assert [a.status_code for a in answers] == [200, 429, 200, 403, 200, 502, 200, 400]
    assert answers[1].json()["parameters"]["retry_after"] == 2
    assert answers[3].json()["description"] == "Forbidden: bot was blocked by the user"
    assert answers[7].json()["description"] == "Bad Request: chat not found"
    assert all(a.status_code == 200 for a in staff)  # the staff bot never faults
    messages = inbox.json()["messages"]
    assert len(messages) == 4 and {m["bot"] for m in messages} == {"staff_bot"}
    assert messages[0]["buttons"] == [{"text": "Open", "callback_data": "open:1"}]
    assert messages[0]["text"] == "s" and messages[0]["edits"] == 0
    assert bad.status_code == 400


async def test_whatsapp_faults_answer_with_cloud_api_codes() -> None:
    async with GraphEmulator(access_token=ACCESS_TOKEN, seconds_per_recipient=0) as graph:
        graph.set_faults(1)
        url = f"{graph.url}/v21.0/{PHONE_ID}/messages"
        text = {"messaging_product": "whatsapp", "to": "1555", "type": "text", "text": {}}
        auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
        async with httpx.AsyncClient() as http:
            answers = [await http.post(url, json=text, headers=auth) for _ in range(4)]
    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [
        (400, 130429),
        (400, 131026),
        (500, 131000),
        (400, 131026),
    ]
