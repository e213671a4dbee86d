"""Per-operator display settings as toggle buttons: card preview (F6) and chat view (F7)."""

from __future__ import annotations

from typing import Final

from commands.admin.args import split_args
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from store.models import OperatorPreference

# Fields a client card can show in the list, in display order, with their labels.
PREVIEW_FIELDS: Final[dict[str, str]] = {
    "messenger_id": "Messenger id",
    "username": "Username",
    "created": "First contact",
    "last_action": "Last action",
    "block": "Block",
    "tag": "Tag",
    "responsible": "Responsible",
    "stage": "Deal stage",
    "lists": "Lists",
    "labels": "Labels",
    "last_message": "Last message",
}
DEFAULT_PREVIEW: Final = ("last_action", "responsible", "last_message")

# Kinds of messages a dialog can show: Message.author_kind values.
CHAT_KINDS: Final[dict[str, str]] = {
    "client": "Client messages",
    "bot": "Bot messages",
    "operator": "Operator messages",
    "comment": "Comments",
    "system": "Service events",
}
DEFAULT_CHAT_VIEW: Final = tuple(CHAT_KINDS)


def preferences_of(operator_id: int) -> OperatorPreference:
    """The operator's settings, created with the defaults on first use."""
    pref, _ = OperatorPreference.get_or_create(
        operator=operator_id,
        defaults={
            "preview_fields": list(DEFAULT_PREVIEW),
            "preview_variables": [],
            "chat_view": list(DEFAULT_CHAT_VIEW),
        },
    )
    return pref


def _preview_reply(pref: OperatorPreference, edit: bool = False) -> Reply:
    shown = set(pref.preview_fields)
    rows = [
        [Button(("✅ " if key in shown else "▫️ ") + label, data=f"pv:f:{key}")]
        for key, label in PREVIEW_FIELDS.items()
    ]
    variables = ", ".join(pref.preview_variables) or "none"
    text = (
        "Client card preview: tap a field to show or hide it.\n"
        f"Variables shown: {variables} (/preview var NAME toggles one)."
    )
    return Reply(text, buttons=rows, edit=edit)


@ADMIN_COMMANDS.command("preview", "/preview [var NAME]", "Choose what client cards show in lists.")
def preview(ctx: CommandContext, args: str) -> Reply:
    pref = preferences_of(ctx.operator.id)
    words = split_args(args)
    if words:
        if words[0] != "var" or len(words) != 2:
            raise CommandError("Use /preview, or /preview var NAME to toggle a variable.")
        names = list(pref.preview_variables)
        names.remove(words[1]) if words[1] in names else names.append(words[1])
        OperatorPreference.update(preview_variables=names).where(
            OperatorPreference.id == pref.id
        ).execute()
        pref = preferences_of(ctx.operator.id)
    return _preview_reply(pref)


@ADMIN_COMMANDS.button("pv")
def preview_button(ctx: CommandContext, payload: str) -> Reply:
    kind, _, key = payload.partition(":")
    if kind != "f" or key not in PREVIEW_FIELDS:
        raise CommandError("Unknown field.")
    pref = preferences_of(ctx.operator.id)
    fields = [f for f in PREVIEW_FIELDS if (f in pref.preview_fields) != (f == key)]
    OperatorPreference.update(preview_fields=fields).where(
        OperatorPreference.id == pref.id
    ).execute()
    return _preview_reply(preferences_of(ctx.operator.id), edit=True)


def _chat_reply(pref: OperatorPreference, edit: bool = False) -> Reply:
    shown = set(pref.chat_view)
    rows = [
        [Button(("✅ " if key in shown else "▫️ ") + label, data=f"cv:{key}")]
        for key, label in CHAT_KINDS.items()
    ]
    return Reply("Dialog view: tap a kind of message to show or hide it.", rows, edit=edit)


@ADMIN_COMMANDS.command("chatview", "/chatview", "Choose which messages dialogs show.")
def chatview(ctx: CommandContext, args: str) -> Reply:
    return _chat_reply(preferences_of(ctx.operator.id))


@ADMIN_COMMANDS.button("cv")
def chatview_button(ctx: CommandContext, payload: str) -> Reply:
    if payload not in CHAT_KINDS:
        raise CommandError("Unknown kind of message.")
    pref = preferences_of(ctx.operator.id)
    kinds = [k for k in CHAT_KINDS if (k in pref.chat_view) != (k == payload)]
    OperatorPreference.update(chat_view=kinds).where(OperatorPreference.id == pref.id).execute()
    return _chat_reply(preferences_of(ctx.operator.id), edit=True)
