"""The Cloud API webhook of one bot: ``GET``/``POST /webhooks/whatsapp/{bot_name}``.

GET is Meta's subscription handshake: ``hub.mode=subscribe`` and the configured
``hub.verify_token`` -> 200 with ``hub.challenge``; anything else -> 403.
POST carries messages and statuses. In order: body over 1 MiB -> 413; ``X-Hub-Signature-256``
missing -> 401, wrong -> 403; not a Cloud API JSON payload as a whole -> 400; store down -> 503
(Meta redelivers); otherwise every usable item is stored and the answer is 200. An item that
cannot be used (a message without a valid ``from``, a status of the wrong shape, a message the
database refuses) is logged, counted and kept in ``unparsed_item`` (``bots.unusable``) and costs
its neighbours nothing: Meta would redeliver a refused batch forever. Nothing is stored unless
the request was accepted. Redeliveries store nothing twice (``wa:{wamid}`` dedup keys, receipts
that only move forward).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import peewee
from aiohttp import web

from bots.ingest_health import note
from bots.unusable import Unusable, record_unusable
from bots.webhook import (
    error_response,
    parse_json_object,
    read_body,
    secrets_match,
    store_call,
    unavailable,
)
from bots.whatsapp.payloads import ParsedPayload, PayloadError, parse_payload
from bots.whatsapp.signature import SIGNATURE_HEADER, signature_valid
from store import identities
from store.delivery_status import apply_receipts
from store.errors import NotFound, StoreUnavailable, first_line, is_unavailable
from store.inbound import record_inbound

log = logging.getLogger("switchboard.whatsapp")


@dataclass(frozen=True, slots=True)
class StoredCounts:
    messages: int  # new inbound messages (redeliveries not counted)
    receipts: int  # outbound messages whose status changed
    unusable: int  # items left out (``bots.unusable``)


def webhook_path(bot_name: str) -> str:
    return f"/webhooks/whatsapp/{bot_name}"


def store_payload(bot_name: str, parsed: ParsedPayload) -> StoredCounts:
    """Record the messages, apply the receipts and keep the unusable items of one webhook
    (blocking; run in a thread). A message the database refuses becomes an unusable item; a
    database that cannot be reached raises (``store_call`` makes it ``StoreUnavailable``)."""
    new = 0
    unusable = list(parsed.unusable)
    events = identities.resolve(parsed.messages)  # phone and BSUID: one client per person
    for message in events:
        try:
            if not record_inbound(message).duplicate:
                new += 1
        except peewee.DatabaseError as exc:
            if is_unavailable(exc):  # down or read-only: Meta redelivers the whole webhook
                raise
            detail = f"the store refused it: {first_line(exc)}"
            item = {"id": message.platform_message_id, "from": message.messenger_id}
            unusable.append(Unusable("message.store", detail, item))
    identities.attach(events)
    identities.follow_changes(events)  # "changed their number" system messages
    receipts = [(s.wamid, s.status, s.error_code, s.error_text) for s in parsed.statuses]
    changed = apply_receipts(bot_name, receipts)
    if unusable:
        record_unusable(bot_name, "whatsapp", unusable)
    return StoredCounts(new, changed, len(unusable))


class WhatsAppWebhook:
    """The handlers of one bot, bound to its secrets."""

    def __init__(
        self, bot_name: str, phone_number_id: str, app_secret: str, verify_token: str
    ) -> None:
        self.bot_name = bot_name
        self.phone_number_id = phone_number_id
        self._app_secret = app_secret
        self._verify_token = verify_token

    def add_routes(self, app: web.Application) -> None:
        path = webhook_path(self.bot_name)
        app.router.add_get(path, self.verify)
        app.router.add_post(path, self.receive)

    async def verify(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("hub.mode") == "subscribe" and secrets_match(
            query.get("hub.verify_token"), self._verify_token
        ):
            return web.Response(text=query.get("hub.challenge", ""))
        return error_response(403, "verification failed")

    async def receive(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        header = request.headers.get(SIGNATURE_HEADER)
        if header is None:
            return error_response(401, f"missing {SIGNATURE_HEADER}")
        if not signature_valid(body, header, self._app_secret):
            return error_response(403, f"wrong {SIGNATURE_HEADER}")
        data = parse_json_object(body)
        try:
            parsed = parse_payload(
                data, bot_name=self.bot_name, phone_number_id=self.phone_number_id
            )
        except PayloadError as exc:
            return error_response(400, f"not a WhatsApp webhook payload: {exc}")
        try:
            counts = await store_call(store_payload, self.bot_name, parsed)
        except StoreUnavailable as exc:
            log.warning(
                "whatsapp %s: store unavailable, Meta will redeliver: %s", self.bot_name, exc
            )
            await note(self.bot_name, "webhook", ok=False, error=f"store unavailable: {exc}")
            return unavailable()
        except NotFound as exc:
            return error_response(404, str(exc))
        await note(self.bot_name, "webhook", inbound=counts.messages > 0)
        return web.json_response(
            {
                "ok": True,
                "messages": counts.messages,
                "receipts": counts.receipts,
                "unusable": counts.unusable,
            }
        )
