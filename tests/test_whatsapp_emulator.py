"""The Graph API emulator on its own: error shapes, auth, receipts, ``python -m``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import peewee

from bots.contract import OutboundMessage
from bots.whatsapp.adapter import WhatsAppAdapter
from emulators.whatsapp import GraphEmulator
from store.models import Bot, Client, Message
from tests.conftest import REPO_ROOT
from tests.whatsapp_support import ACCESS_TOKEN, APP_SECRET, PHONE_ID, serve, settings_for


async def test_errors_have_the_cloud_api_shape() -> None:
    async with GraphEmulator(access_token=ACCESS_TOKEN) as graph:
        url = f"{graph.url}/v21.0/{PHONE_ID}/messages"
        async with httpx.AsyncClient() as http:
            anonymous = await http.post(url, json={"messaging_product": "whatsapp"})
            auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
            invalid = await http.post(url, json={"messaging_product": "whatsapp"}, headers=auth)
            graph.fail_next(131000, status=502)
            text = {"messaging_product": "whatsapp", "to": "1555", "type": "text", "text": {}}
            bad_gateway = await http.post(url, json=text, headers=auth)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == 190
    error = invalid.json()["error"]
    assert invalid.status_code == 400
    assert set(error) == {"message", "type", "code", "error_data", "fbtrace_id"}
    assert error["code"] == 100 and error["message"].startswith("(#100) ")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert bad_gateway.status_code == 502 and bad_gateway.json()["error"]["code"] == 131000
    assert [c.status for c in graph.calls] == [401, 400, 502]


async def test_receipts_follow_each_accepted_message_to_the_service(
    db: peewee.Database,
) -> None:
    async with serve(settings_for()) as base:
        hook = f"{base}/webhooks/whatsapp/wa"
        async with GraphEmulator(app_secret=APP_SECRET, receipts_url=hook) as graph:
            adapter = WhatsAppAdapter(settings_for(graph.url).bots[0])  # type: ignore[arg-type]
            bot = Bot.get(Bot.name == "wa")
            client = Client.create(bot=bot, messenger_id="+16315551181")
            row = Message.create(
                client=client, bot=bot, direction="out", author_kind="bot", status="sending"
            )
            result = await adapter.send(OutboundMessage("wa", client.messenger_id, "hi"))
            Message.update(platform_message_id=result.platform_message_id, status="sent").where(
                Message.id == row.id
            ).execute()
            await adapter.close()
            for _ in range(200):  # the receipts are posted in the background
                if len(graph.webhook_results) == 2:
                    break
                await asyncio.sleep(0.02)
            assert graph.webhook_results == [200, 200]
    # 'delivered' landed unless it raced ahead of our update; either way never backwards
    assert Message.get_by_id(row.id).status in ("sent", "delivered")


def test_runs_as_a_module_and_answers_on_its_port() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "emulators.whatsapp", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Graph API emulator on http://127.0.0.1:")
        url = line.split(" on ", 1)[1].strip()
        body = {"messaging_product": "whatsapp", "to": "+1555", "type": "text", "text": {}}
        response = httpx.post(
            f"{url}/v21.0/1/messages", json=body, headers={"Authorization": "Bearer t"}
        )
        assert response.status_code == 200
        assert json.loads(response.text)["messages"][0]["id"].startswith("wamid.")
    finally:
        process.terminate()
        process.wait(timeout=10)
