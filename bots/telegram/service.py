"""Telegram service messages, reactions and join requests as dialog service events.

A service message (a pin, a title or photo change, members joining or leaving, a video chat,
a payment, a boost, ...) is a ``Message`` whose content is one of ``SERVICE_FIELDS`` instead
of text. It becomes an ``InboundMessage`` with ``author_kind="system"`` — F7's "Service
events" — a readable ``text`` and ``extra["service"]`` naming the field, and
``mark_unread=False``: it neither marks the client unread nor counts as their last message.
``message_reaction`` updates become the same kind of event. A ``chat_join_request`` is a
service event of the requesting user's private chat that does mark the client unread (an
operator has to approve or decline it); its dedup key starts with ``JOIN_KEY``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Currencies without minor units (``total_amount`` is in the smallest unit, per Bot API).
WHOLE_UNITS = frozenset({"XTR", "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "PYG", "XAF", "XOF"})
JOIN_KEY = "tg:join:"  # dedup key prefix of a join request: the one service event to answer


def _names(users: Any) -> str:
    people = users if isinstance(users, list) else [users]
    names = []
    for user in people:
        if isinstance(user, dict):
            parts = [user.get("first_name"), user.get("last_name")]
            name = " ".join(str(p) for p in parts if p) or user.get("username") or user.get("id")
            names.append(str(name))
    return ", ".join(names) or "someone"


def _amount(payment: Any) -> str:
    if not isinstance(payment, dict):
        return ""
    currency = str(payment.get("currency", ""))
    total = payment.get("total_amount")
    if not isinstance(total, int) or isinstance(total, bool):
        return currency
    if currency in WHOLE_UNITS:
        return f"{total} {currency}"
    return f"{total / 100:.2f} {currency}"


def _pinned(value: Any) -> str:
    if isinstance(value, dict):
        text = value.get("text") or value.get("caption")
        if isinstance(text, str) and text.strip():
            short = " ".join(text.split())
            return f"pinned «{short[:60]}{'…' if len(short) > 60 else ''}»"
    return "pinned a message"


def _field(name: str, key: str, template: str) -> Callable[[Any], str]:
    """A describer filling ``template`` with ``value[key]``."""

    def describe(value: Any) -> str:
        inner = value.get(key) if isinstance(value, dict) else None
        return template.format(inner if inner is not None else "?")

    describe.__name__ = f"describe_{name}"
    return describe


# Every service field of a Bot API Message, with how the dialog reads it.
SERVICE_FIELDS: dict[str, Callable[[Any], str]] = {
    "new_chat_members": lambda v: f"joined: {_names(v)}",
    "left_chat_member": lambda v: f"left: {_names(v)}",
    "new_chat_title": lambda v: f"changed the chat title to «{v}»",
    "new_chat_photo": lambda v: "changed the chat photo",
    "delete_chat_photo": lambda v: "deleted the chat photo",
    "group_chat_created": lambda v: "created the group",
    "supergroup_chat_created": lambda v: "created the supergroup",
    "channel_chat_created": lambda v: "created the channel",
    "message_auto_delete_timer_changed": _field(
        "timer", "message_auto_delete_time", "set messages to auto-delete after {} s"
    ),
    "migrate_to_chat_id": lambda v: f"the group became the supergroup {v}",
    "migrate_from_chat_id": lambda v: f"the supergroup was the group {v}",
    "pinned_message": _pinned,
    "successful_payment": lambda v: f"paid {_amount(v)}",
    "refunded_payment": lambda v: f"payment refunded: {_amount(v)}",
    "users_shared": lambda v: f"shared users: {_names((v or {}).get('users', []))}",
    "chat_shared": _field("chat_shared", "chat_id", "shared the chat {}"),
    "connected_website": lambda v: f"logged in on {v}",
    "write_access_allowed": lambda v: "allowed the bot to write",
    "proximity_alert_triggered": lambda v: "proximity alert",
    "boost_added": _field("boost", "boost_count", "boosted the chat ({} boosts)"),
    "chat_background_set": lambda v: "set a chat background",
    "checklist_tasks_done": lambda v: "marked checklist tasks done",
    "checklist_tasks_added": lambda v: "added checklist tasks",
    "direct_message_price_changed": lambda v: "changed the direct message price",
    "paid_message_price_changed": lambda v: "changed the paid message price",
    "forum_topic_created": _field("topic", "name", "created the topic «{}»"),
    "forum_topic_edited": lambda v: "edited a topic",
    "forum_topic_closed": lambda v: "closed a topic",
    "forum_topic_reopened": lambda v: "reopened a topic",
    "general_forum_topic_hidden": lambda v: "hid the General topic",
    "general_forum_topic_unhidden": lambda v: "showed the General topic",
    "giveaway_created": lambda v: "started a giveaway",
    "giveaway_completed": lambda v: "a giveaway ended",
    "video_chat_scheduled": lambda v: "scheduled a video chat",
    "video_chat_started": lambda v: "started a video chat",
    "video_chat_ended": _field("video_end", "duration", "ended the video chat ({} s)"),
    "video_chat_participants_invited": lambda v: (
        f"invited to the video chat: {_names((v or {}).get('users', []))}"
    ),
    "web_app_data": _field("web_app", "data", "sent data from a web app: {}"),
    "gift": lambda v: "sent a gift",
    "unique_gift": lambda v: "sent a unique gift",
    "suggested_post_approved": lambda v: "a suggested post was approved",
    "suggested_post_declined": lambda v: "a suggested post was declined",
    "suggested_post_paid": lambda v: "a suggested post was paid",
    "suggested_post_refunded": lambda v: "a suggested post was refunded",
    "suggested_post_approval_failed": lambda v: "a suggested post could not be approved",
}
# Kept in ``extra`` as they came: small values an operator or a report may need.
KEEP_VALUE = frozenset(
    {
        "new_chat_title",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "successful_payment",
        "refunded_payment",
        "users_shared",
        "chat_shared",
        "connected_website",
        "boost_added",
        "video_chat_ended",
        "web_app_data",
    }
)


def service_of(message: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """``(field, text, extra)`` when ``message`` is a service message, else None."""
    for name, describe in SERVICE_FIELDS.items():
        if name in message and message[name] is not None:
            value = message[name]
            extra: dict[str, Any] = {"service": name}
            if name in KEEP_VALUE:
                extra[name] = value
            if name == "pinned_message" and isinstance(value, dict):
                extra["pinned_message_id"] = value.get("message_id")
            return name, describe(value), extra
    return None


def reaction_text(old: Any, new: Any) -> str:
    """``reacted 👍`` / ``removed the reaction 👍`` from a ``message_reaction``'s lists."""

    def shown(reactions: Any) -> list[str]:
        found = []
        for reaction in reactions if isinstance(reactions, list) else []:
            if not isinstance(reaction, dict):
                continue
            kind = reaction.get("type")
            if kind == "emoji":
                found.append(str(reaction.get("emoji", "")))
            elif kind == "custom_emoji":
                found.append(f"custom:{reaction.get('custom_emoji_id', '')}")
            elif kind == "paid":
                found.append("⭐")
        return found

    added = shown(new)
    if added:
        return f"reacted {' '.join(added)}"
    removed = shown(old)
    return f"removed the reaction {' '.join(removed)}".strip()
