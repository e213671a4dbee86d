"""The Cloud API webhook items this service reads, as pydantic models: the type check of the
ingest boundary (issue 19) before a message or a status is used.

Only the fields the store keys on are strict — a message's ``id`` (the wamid, at most 512
characters), ``from`` (the sender's WhatsApp id: digits only, at most 20) and
``from_user_id`` (a business-scoped user id, ``US.13491208655302741918``), a status's ``id``
and ``status`` — plus the types of the fields that are read as they are. ``from`` may be
absent (a user known by BSUID only, ``bots.whatsapp.payloads``). Every other
field is allowed and kept (``extra="allow"``): Meta adds fields, and unknown message types are
stored as they came. An item that fails is an unusable item (``bots.unusable``), never the
whole request.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

WAMID_CHARS = 512
Wamid = Annotated[str, StringConstraints(min_length=1, max_length=WAMID_CHARS)]
WA_ID = re.compile(r"[0-9]{1,20}")
BSUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # country code, dot, digits (so far)
WaId = Annotated[str, StringConstraints(pattern=rf"^{WA_ID.pattern}$")]
Bsuid = Annotated[str, StringConstraints(pattern=rf"^{BSUID.pattern}$")]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)


class MessageShape(_Shape):
    """One entry of ``value.messages``."""

    id: Wamid
    sender: WaId | None = Field(default=None, alias="from")
    from_user_id: Bsuid | None = None
    timestamp: str | int | None = None
    type: str | None = None


class StatusShape(_Shape):
    """One entry of ``value.statuses``: a delivery receipt of a message we sent."""

    id: Wamid
    status: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    recipient_id: str | None = None
    timestamp: str | int | None = None
    errors: list[Any] | None = None


def problem(exc: ValidationError, kind: str) -> tuple[str, str]:
    """``(reason, detail)`` of the first error: ``message.from`` and ``message.from: Field
    required`` — the field and pydantic's words, never the value (it may be huge or hostile)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = [str(part) for part in first["loc"]] or ["item"]
    reason = f"{kind}.{loc[0]}"[:100]
    return reason, f"{kind}.{'.'.join(loc)}: {first['msg']}"[:300]
