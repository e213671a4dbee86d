"""The "More" screen's endpoints (``commands.app.tools``): ``/tools``, ``/write/whatsapp``,
``/write/email`` (F1, F2), ``/readall/*`` (F3), ``/preview`` (F6), ``/purge/*`` (F8)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from commands.app import tools
from commands.app.api import API, ApiModel, NoParams
from commands.app.context import ApiContext
from commands.write import Started
from config import EmailBotSettings, WhatsAppBotSettings


class ToolsOut(ApiModel):
    whatsapp_bots: list[str]
    """Enabled WhatsApp bots (F1 asks which when there are several)."""
    email_bots: list[str]
    """Enabled email bots (F2)."""
    can_write: bool
    """The operator may write to clients (capability `reply`)."""
    can_purge: bool
    """The operator may delete the unsubscribed (capability `purge`)."""


@API.endpoint("GET", "/tools", ToolsOut, "What the More screen offers this operator.")
def get_tools(ctx: ApiContext, _: NoParams) -> ToolsOut:
    return ToolsOut(
        whatsapp_bots=tools.bot_names(ctx.settings, WhatsAppBotSettings),
        email_bots=tools.bot_names(ctx.settings, EmailBotSettings),
        can_write=ctx.can("reply"),
        can_purge=ctx.can("purge"),
    )


class WhatsAppIn(ApiModel):
    bot: str = ""
    """The WhatsApp bot; may be left out when only one is configured."""
    phone: str = Field(min_length=1, max_length=40)
    """The number, +E.164 or in the bot's default region."""
    text: str = Field(min_length=1, max_length=4096)
    """The first message (a template goes instead outside WhatsApp's 24-hour window)."""


class EmailIn(ApiModel):
    bot: str = ""
    """The email bot; may be left out when only one is configured."""
    address: str = Field(min_length=1, max_length=320)
    """The address."""
    subject: str = Field(min_length=1, max_length=500)
    """The subject."""
    text: str = Field(min_length=1, max_length=100_000)
    """The text."""


class WrittenOut(ApiModel):
    client_id: int
    """The client written to (open their dialog to see the delivery)."""
    client_created: bool
    """A new client."""
    message_id: int
    """The outbox row."""
    recipient: str
    """As stored: E.164 number or lowercased address."""
    message: str
    """One line for the operator."""


def _written(started: Started, what: str) -> WrittenOut:
    return WrittenOut(
        client_id=started.client_id,
        client_created=started.client_created,
        message_id=started.message_id,
        recipient=started.recipient,
        message=tools.sent_line(started, what),
    )


@API.endpoint(
    "POST",
    "/write/whatsapp",
    WrittenOut,
    "F1: write to a new or known phone number from a WhatsApp bot (the admin bot's "
    "/write_whatsapp); the message is queued in the outbox.",
    request=WhatsAppIn,
    capability="reply",
)
def post_write_whatsapp(ctx: ApiContext, params: WhatsAppIn) -> WrittenOut:
    started = tools.write_whatsapp(ctx, params.bot, params.phone, params.text)
    return _written(started, "WhatsApp message")


@API.endpoint(
    "POST",
    "/write/email",
    WrittenOut,
    "F2: mail a new or known address from an email bot (the admin bot's /write_email); "
    "the mail is queued in the outbox.",
    request=EmailIn,
    capability="reply",
)
def post_write_email(ctx: ApiContext, params: EmailIn) -> WrittenOut:
    started = tools.write_email(ctx, params.bot, params.address, params.subject, params.text)
    return _written(started, "Mail")


class PlannedOut(ApiModel):
    count: int
    """Clients it would touch (within the operator's scope)."""
    question: str
    """The confirmation to show."""
    token: str | None
    """Send it to `.../confirm` to run the action once; null when there is nothing to do."""


class ConfirmIn(ApiModel):
    token: str = Field(min_length=1, max_length=64)
    """The plan's token."""


class DoneOut(ApiModel):
    message: str
    """One line: what was done."""


class CancelOut(ApiModel):
    ok: bool
    """Always true."""


def _out(planned: tools.Planned) -> PlannedOut:
    return PlannedOut(count=planned.count, question=planned.question, token=planned.token)


@API.endpoint(
    "POST", "/readall/plan", PlannedOut, "F3: count the unread dialogs in the operator's scope."
)
def post_readall_plan(ctx: ApiContext, _: NoParams) -> PlannedOut:
    return _out(tools.plan_readall(ctx))


@API.endpoint(
    "POST",
    "/readall/confirm",
    DoneOut,
    "F3: mark them all read (the admin bot's /readall), once per plan.",
    request=ConfirmIn,
)
def post_readall_confirm(ctx: ApiContext, params: ConfirmIn) -> DoneOut:
    return DoneOut(message=tools.confirm(ctx, tools.READALL_TOKEN_KIND, params.token))


@API.endpoint(
    "POST",
    "/purge/plan",
    PlannedOut,
    "F8: count the blocked or unsubscribed clients in scope that the purge would delete.",
    capability="purge",
)
def post_purge_plan(ctx: ApiContext, _: NoParams) -> PlannedOut:
    return _out(tools.plan_purge(ctx))


@API.endpoint(
    "POST",
    "/purge/confirm",
    DoneOut,
    "F8: delete them (the admin bot's /purge_unsubscribed), once per plan.",
    request=ConfirmIn,
    capability="purge",
)
def post_purge_confirm(ctx: ApiContext, params: ConfirmIn) -> DoneOut:
    return DoneOut(message=tools.confirm(ctx, tools.BULK_TOKEN_KIND, params.token))


class CancelIn(ApiModel):
    kind: Literal["readall", "purge"]
    """Which plan."""
    token: str = Field(min_length=1, max_length=64)
    """Its token."""


@API.endpoint(
    "POST", "/tools/cancel", CancelOut, "Drop a planned mark-all-read or purge.", request=CancelIn
)
def post_cancel(ctx: ApiContext, params: CancelIn) -> CancelOut:
    kind = tools.READALL_TOKEN_KIND if params.kind == "readall" else tools.BULK_TOKEN_KIND
    tools.cancel(ctx, kind, params.token)
    return CancelOut(ok=True)


class PreviewField(ApiModel):
    key: str
    """The field's key."""
    label: str
    """Its label."""
    shown: bool
    """List cards show it."""


class PreviewOut(ApiModel):
    fields: list[PreviewField]
    """Every field a card can show, in display order."""
    variables: list[str]
    """Client variables the cards show."""


class PreviewIn(ApiModel):
    fields: list[str] = Field(max_length=50)
    """The keys of the fields to show (the rest are hidden)."""
    variables: list[str] = Field(default_factory=list, max_length=50)
    """Variable names to show."""


def _preview(found: tools.Preview) -> PreviewOut:
    return PreviewOut(
        fields=[PreviewField(key=k, label=label, shown=s) for k, label, s in found.fields],
        variables=found.variables,
    )


@API.endpoint("GET", "/preview", PreviewOut, "F6: what the list's client cards show (/preview).")
def get_preview(ctx: ApiContext, _: NoParams) -> PreviewOut:
    return _preview(tools.preview(ctx))


@API.endpoint(
    "PUT",
    "/preview",
    PreviewOut,
    "F6: choose the fields and variables the list's client cards show.",
    request=PreviewIn,
)
def put_preview(ctx: ApiContext, params: PreviewIn) -> PreviewOut:
    return _preview(tools.set_preview(ctx, params.fields, params.variables))
