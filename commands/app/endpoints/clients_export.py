"""``POST /clients/export`` (F13): the selection as a CSV or Excel file, made by the admin bot's
``/export`` and delivered the way the bot delivers it: a document in the operator's chat."""

from __future__ import annotations

from typing import Literal

from commands.admin.telegram import ADMIN_BOT_KEY
from commands.app import client_actions as actions
from commands.app.api import API, ApiModel
from commands.app.context import ApiContext, ApiError
from commands.app.endpoints.clients import SelectionIn


class ExportIn(ApiModel):
    kind: Literal["csv", "xlsx"] = "csv"
    """csv or xlsx."""
    selection: SelectionIn
    """The clients chosen (all matching a filter, or picked by hand)."""


class ExportOut(ApiModel):
    message: str
    """One line: how many clients the file holds and where it went."""


@API.endpoint(
    "POST",
    "/clients/export",
    ExportOut,
    "Export the chosen clients as a file sent to the operator's chat with the admin bot.",
    request=ExportIn,
    capability="export",
)
def export(ctx: ApiContext, params: ExportIn) -> ExportOut:
    admin = ctx.app.get(ADMIN_BOT_KEY) if ctx.app is not None else None
    if admin is None:
        raise ApiError(503, "the admin bot is not running here, so the file cannot be delivered")
    reply = actions.export_reply(ctx, params.kind, params.selection.selection())
    if not admin.send_from_thread(reply, ctx.operator.telegram_id):
        raise ApiError(502, "Telegram did not take the file; try again")
    return ExportOut(message=f"{reply.text} Sent to your chat with the bot.")
