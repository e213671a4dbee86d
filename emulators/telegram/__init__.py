"""A Telegram Bot API emulator over real HTTP, for the tests, the benchmarks and the demo.

The real aiogram client talks to it like to ``api.telegram.org``: point a bot's ``api_base``
(``AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))``) at ``emu.base_url``.

HTTP shape: ``GET|POST /bot<token>/<method>`` with parameters in the query string, a JSON body,
an urlencoded or a multipart form (files as fields, or ``attach://<field>``); answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": "...",
"parameters": {"retry_after": n}}``. Files download from ``GET /file/bot<token>/<file_path>``.
Methods: getMe, setWebhook (``secret_token``, ``allowed_updates``, ``drop_pending_updates``),
deleteWebhook, getWebhookInfo, getUpdates (``offset``, ``limit``, ``timeout`` long polling,
409 while a webhook is set or when another poll starts), sendMessage, sendPhoto, sendVideo,
sendDocument (upload, URL or file_id), getFile, getUserProfilePhotos, answerCallbackQuery,
editMessageText, editMessageCaption, editMessageReplyMarkup, deleteMessage, sendChatAction,
setMyCommands, getMyCommands, deleteMyCommands, setChatMenuButton,
getChatMenuButton, getChat, approveChatJoinRequest,
declineChatJoinRequest (400 ``HIDE_REQUESTER_MISSING`` when there is no pending request),
getBusinessConnection; sends take ``business_connection_id`` (``emulators.telegram.business``).
Any update can be pushed as written with ``emu.inject(token, {...})``. A token the emulator
does not know gets 401 ``Unauthorized``; an unknown method 404.

Telegram's answers it reproduces:

* flood limits on sends (``emulators.telegram.limits``): 30 messages/s per bot,
  1 message/s per private chat with bursts of 3, 20 messages/min per group -> 429
  ``Too Many Requests: retry after N`` with ``parameters.retry_after``; counted by a flood
  model (``emulators.flood``): ``bucket`` (token buckets, default), ``window`` (strict sliding
  windows: 30 in any 1 s per bot, 1 in any 1 s per chat, 20 in any 60 s per group) or
  ``escalating`` (``window``, and a 429 within 60 s of the previous one doubles
  ``retry_after``, up to 64 s);
* a user who blocked the bot -> 403 ``Forbidden: bot was blocked by the user``; a deleted
  account -> 403 ``Forbidden: user is deactivated``; a chat nobody scripted (or listed in
  ``emu.never_existed``) -> 400 ``Bad Request: chat not found``;
* validation: empty or > 4096-character text, > 1024-character caption, ``callback_data``
  over 64 bytes (``BUTTON_DATA_INVALID``), "message is not modified", "message to edit not
  found", unknown file ids, stale callback query ids.

Python API (all in one event loop)::

    async with TelegramEmulator() as emu:            # 127.0.0.1, a free port
        emu.base_url                                  # http://127.0.0.1:<port>
        emu.bot("123:ABC", username="shop_bot")       # register a bot (BotState)
        user = emu.user("123:ABC", 42, first_name="Ann", username="ann", language_code="en")
        await user.send_text("hi")                    # -> the update dict
        await user.start("promo42")                   # "/start promo42" (deep link)
        await user.send_photo(b"...", caption="look")
        await user.send_document(b"%PDF", "bill.pdf", mime_type="application/pdf")
        await user.edit(update, "hi again")           # edited_message
        await user.block(); await user.unblock()      # my_chat_member kicked / member
        await user.react(sent[0], "👍")                 # message_reaction (None: removed)
        emu.group(token, -1001, "Club", kind="supergroup")
        await user.request_join(-1001, bio="hi")      # chat_join_request
        emu.bots[token].join_requests[(-1001, 42)]    # pending / approved / declined
        conn = await emu.connect_business(token, 500, "Owner")  # business_connection
        chat = emu.business_chat(token, conn.connection_id, 77, "Cy")
        await chat.send_text("hi"); await chat.owner_says("hello"); await chat.edit(1, "hi!")
        await chat.delete(1)                          # deleted_business_messages
        await emu.change_business(token, conn.connection_id, enabled=False)
        user.deactivate(); user.set_profile_photo(b"...")
        emu.user(token, 7, blocked=True)              # blocked from the start, no update
        emu.group(token, -100123, "Staff")            # a group chat (20/min)
        emu.never_existed.add(99)                     # 400 chat not found, always
        sent = await emu.wait_sent(1, timeout_s=5)    # SentMessage list (waits)
        emu.sent("123:ABC", chat_id=42)               # outbound messages, oldest first
        await emu.press("123:ABC", 42, sent[0], "buy:1")  # callback_query on its button
        emu.fail_next("sendMessage", status=502)      # or network=True: connection dropped
        emu.set_faults("123:ABC", 17)                 # every 17th send fails (emulators.faults)
        emu.calls, emu.calls_of("sendMessage")        # every request (Call)
        emu.set_flood("window")                       # switch the flood model
        max_in_window(emu.accepted_sends(token))      # emulators.flood: most sends in any 1 s
        emu.deliveries                                # webhook pushes (Delivery: status)
        await emu.wait_for(lambda: ..., timeout_s=5)  # any condition on the state

``SentMessage`` has ``chat_id``, ``message_id``, ``kind`` (text/photo/document), ``text``
(the caption for files), ``reply_markup`` (as sent, parsed), ``buttons()``, ``file``
(``StoredFile``: ``data``, ``file_name``), ``source`` (upload/url/file_id), ``edits``,
``deleted``, ``params`` (the request), ``json`` (the Message object). Bot state
(``emu.bots[token]``): ``webhook``, ``pending`` updates, ``commands``, ``answers`` (to
callback queries), ``chat_actions``, ``users``.

``GET /_emulator/chats/{chat_id}/messages?bot=<username>`` shows, read-only, what bots sent to
a chat (``emulators.telegram.inspect``; ``switchboard demo inbox`` reads it).

Updates go to the bot's webhook when one is set (``X-Telegram-Bot-Api-Secret-Token`` with
its secret, in order, redelivered after ``redeliver_after_s`` while the answer is not 2xx;
an injection awaits its first attempt), otherwise they wait for ``getUpdates``.

Options (keyword arguments): ``host``, ``port``, ``tokens``, ``messages_per_second``,
``chat_messages_per_second``, ``chat_burst``, ``group_messages_per_minute``, ``limits``
(False: no flood limits), ``flood`` (bucket, window, escalating), ``clock`` (monotonic seconds,
for the limits and each call's ``received`` time),
``accept_unknown_chats`` (a send to an unscripted positive chat id creates that user),
``fetch_urls`` (download files sent by URL; False: store them empty), ``redeliver_after_s``,
``webhook_timeout_s``, ``record_calls``, ``any_token`` (unknown well-formed tokens become
bots instead of 401).

Command line: ``python -m emulators.telegram --port 8081 --token 123:ABC`` (or
``--any-token``, ``--no-limits``, ``--flood window``, ``--accept-unknown-chats``; prints its
URL and runs until Ctrl-C).
"""

from __future__ import annotations

from emulators.telegram.delivery import SECRET_HEADER, Delivery
from emulators.telegram.model import Call, SentMessage, StoredFile, UserState
from emulators.telegram.server import TelegramEmulator
from emulators.telegram.users import ScriptedUser

__all__ = [
    "SECRET_HEADER",
    "Call",
    "Delivery",
    "ScriptedUser",
    "SentMessage",
    "StoredFile",
    "TelegramEmulator",
    "UserState",
]
