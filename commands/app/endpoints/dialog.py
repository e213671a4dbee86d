"""The dialog: its pages, what changed since the last poll (live arrival), the reply (text, or
text with photos and documents as ``multipart/form-data``), comments, and the operator's F7
chat view (``commands.app.dialog``, ``commands.app.uploads``)."""

from __future__ import annotations

from typing import Literal

from aiohttp import BodyPartReader, web
from pydantic import Field

from bots.webhook import store_call
from commands.admin.assignment import client_for
from commands.admin.forward import send_to_client
from commands.admin.messaging import add_comment
from commands.app import dialog, uploads
from commands.app.api import API, ApiModel
from commands.app.context import ApiContext, ApiError
from commands.app.scope import client_in_scope
from store.models import Bot

TEXT_FIELD_BYTES = 64 * 1024  # the text part of an upload: a message is at most 4,096 chars


class MessageOut(ApiModel):
    id: int
    """The message's id (ids grow: a higher one is newer)."""
    direction: str
    """`in` (from the client) or `out`."""
    kind: str
    """`client`, `bot`, `operator`, `comment` or `system` (F7's kinds)."""
    label: str
    """Who wrote it, as F14 labels it: Client, You, an operator, Comment (with its author)…"""
    time: str
    """When, for a person, in the project's zone."""
    at: str
    """When, ISO 8601 with the offset."""
    text: str
    """The text (may be empty with files)."""
    subject: str | None
    """An email's subject."""
    files: list[dict[str, str]]
    """Attachments: `kind` and `name`."""
    status: str | None
    """Delivery status of an outgoing message: queued, sending, sent, delivered, read, failed."""
    status_mark: str
    """The status as the admin bot marks it (🕓 ✓ ✓✓ ❌)."""
    error: str | None
    """Why a failed message failed."""
    deleted: bool
    """The client deleted it."""


class PageIn(ApiModel):
    client_id: int
    """The client's internal id."""
    before: int | None = None
    """The oldest message id on screen: the page just before it; none: the newest page."""


class PageOut(ApiModel):
    messages: list[MessageOut]
    """The page, oldest first."""
    more: bool
    """Older messages exist."""
    hidden_kinds: list[str]
    """Kinds this operator's chat view hides."""
    newest_id: int
    """Poll `/changes` with `after` = this."""
    since: str
    """Poll `/changes` with `since` = this."""


@API.endpoint(
    "GET",
    "/clients/{client_id}/messages",
    PageOut,
    "A page of the dialog by the operator's chat view (F7), newest first, `before` for older.",
    request=PageIn,
)
def get_messages(ctx: ApiContext, params: PageIn) -> PageOut:
    client_in_scope(ctx, params.client_id, viewing=True)
    return PageOut.model_validate(dialog.page(ctx, params.client_id, params.before))


class ChangesIn(ApiModel):
    client_id: int
    """The client's internal id."""
    after: int = 0
    """The newest message id on screen."""
    since: str | None = None
    """The `since` of the last answer: delivery statuses changed after it come back too."""
    seen: bool = False
    """The dialog is on screen: new client messages are read."""


class ChangesOut(ApiModel):
    messages: list[MessageOut]
    """New messages, oldest first."""
    updated: list[MessageOut]
    """Messages on screen whose status changed."""
    newest_id: int
    """The next poll's `after`."""
    since: str
    """The next poll's `since`."""


@API.endpoint(
    "GET",
    "/clients/{client_id}/changes",
    ChangesOut,
    "What is new in the dialog since the last poll: the app asks every few seconds.",
    request=ChangesIn,
)
def get_changes(ctx: ApiContext, params: ChangesIn) -> ChangesOut:
    client_in_scope(ctx, params.client_id, viewing=True)
    found = dialog.changes(ctx, params.client_id, params.after, params.since, seen=params.seen)
    return ChangesOut.model_validate(found)


class TextIn(ApiModel):
    client_id: int
    """The client's internal id."""
    text: str = Field(min_length=1, max_length=4096)
    """The message or comment."""


class SentOut(ApiModel):
    notice: str
    """What happened, in one line."""


@API.endpoint(
    "POST",
    "/clients/{client_id}/reply",
    SentOut,
    "Send a text to the client through the outbox (the interactive lane), as /reply.",
    request=TextIn,
    capability="reply",
)
def post_reply(ctx: ApiContext, params: TextIn) -> SentOut:
    client_in_scope(ctx, params.client_id)
    return SentOut(notice=send_to_client(ctx, params.client_id, params.text, []).text)


@API.endpoint(
    "POST",
    "/clients/{client_id}/comment",
    SentOut,
    "Add an internal comment to the dialog (never sent), as /comment.",
    request=TextIn,
    capability="reply",
)
def post_comment(ctx: ApiContext, params: TextIn) -> SentOut:
    client_in_scope(ctx, params.client_id)
    add_comment(ctx, client_for(ctx, str(params.client_id)), params.text)
    return SentOut(notice=f"Comment added to #{params.client_id}.")


class UploadIn(ApiModel):
    client_id: int
    """The client's internal id. The body is `multipart/form-data`: an optional `text` part,
    then files in parts named `photo` (JPEG or PNG) or `document`."""


def _messenger(ctx: ApiContext, client_id: int) -> str:
    client_in_scope(ctx, client_id)
    return str(Bot.get_by_id(client_for(ctx, str(client_id)).bot_id).kind)


@API.stream(
    "POST",
    "/clients/{client_id}/upload",
    "Send photos and documents (with an optional text) to the client: size and type checked "
    "before anything is kept; 413 too big, 415 wrong type.",
    request=UploadIn,
    capability="reply",
)
async def post_upload(ctx: ApiContext, params: UploadIn, request: web.Request) -> web.Response:
    messenger = await store_call(_messenger, ctx, params.client_id)
    limits = uploads.SIZE_LIMITS.get(messenger, uploads.SIZE_LIMITS["email"])
    if not request.content_type.startswith("multipart/"):
        raise ApiError(415, "send the files as multipart/form-data")
    text = ""
    files: list[uploads.Upload] = []
    # All the files of one message together: at most the largest one file may have, so a
    # request holds at most that much in memory however many parts it has.
    left = max(limits.values())
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise ApiError(400, "nested multipart bodies are not taken")
        if part.name == "text":
            text = (await _read(part, TEXT_FIELD_BYTES, "the text")).decode("utf-8", "replace")
            continue
        if part.name not in ("photo", "document"):
            raise ApiError(400, f"unknown part {part.name!r}: send text, photo or document")
        if len(files) >= uploads.FILES_PER_MESSAGE:
            raise ApiError(400, f"at most {uploads.FILES_PER_MESSAGE} files per message")
        name = part.filename or part.name
        limit = min(limits[part.name], left)
        what = f"{uploads.safe_name(name, part.name)}: a {part.name} to {messenger}"
        if limit < limits[part.name]:
            what = f"{uploads.safe_name(name, part.name)}: the files of one message together"
        content = await _read(part, limit, what)
        left -= len(content)
        files.append(uploads.Upload(part.name, name, content))
    files_dir = ctx.settings.admin_bot.files_dir if ctx.settings.admin_bot else "files"
    try:
        notice = await store_call(
            uploads.send_with_files, ctx, params.client_id, text, files, files_dir
        )
    except uploads.UploadRefused as exc:
        raise ApiError(exc.status, str(exc)) from None
    return web.json_response(SentOut(notice=notice).model_dump(mode="json"))


async def _read(part: BodyPartReader, limit: int, what: str) -> bytes:
    """The part's bytes; 413 as soon as it passes ``limit`` (the rest is never read)."""
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data.extend(chunk)
        if len(data) > limit:
            raise ApiError(413, f"{what} may have at most {uploads.size_text(limit)}")
    return bytes(data)


class ChatKind(ApiModel):
    kind: str
    """`client`, `bot`, `operator`, `comment` or `system`."""
    label: str
    """For a person."""
    shown: bool
    """This operator's dialogs show it."""


class ChatViewOut(ApiModel):
    kinds: list[ChatKind]
    """Each kind of message and whether dialogs show it (F7)."""


@API.endpoint("GET", "/chatview", ChatViewOut, "The operator's dialog display settings (F7).")
def get_chat_view(ctx: ApiContext, _: object) -> ChatViewOut:
    return ChatViewOut(kinds=[ChatKind.model_validate(k) for k in dialog.chat_view(ctx)])


class ToggleIn(ApiModel):
    kind: Literal["client", "bot", "operator", "comment", "system"]
    """The kind of message to show or hide."""


@API.endpoint(
    "POST",
    "/chatview",
    ChatViewOut,
    "Show or hide one kind of message in this operator's dialogs (F7), as /chatview.",
    request=ToggleIn,
)
def post_chat_view(ctx: ApiContext, params: ToggleIn) -> ChatViewOut:
    return ChatViewOut(
        kinds=[ChatKind.model_validate(k) for k in dialog.toggle_kind(ctx, params.kind)]
    )
