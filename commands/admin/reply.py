"""What a command answers, independent of Telegram: text, buttons and files.

The Telegram front end turns a ``Reply`` into messages with inline keyboards; the CLI prints
it with its buttons listed. Telegram caps a message at 4,096 characters and callback data at
64 bytes, so both limits are enforced here, where every command's answer passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MESSAGE_LIMIT = 4096  # characters in one Telegram message
CALLBACK_LIMIT = 64  # bytes of callback_data


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: ``data`` comes back as a callback (≤ 64 bytes), or ``url`` opens."""

    text: str
    data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.data is not None and len(self.data.encode()) > CALLBACK_LIMIT:
            raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {self.data!r}")


@dataclass(frozen=True, slots=True)
class ReplyFile:
    """A file sent as a document: ``content`` bytes under ``file_name``."""

    file_name: str
    content: bytes
    caption: str = ""


@dataclass(slots=True)
class Reply:
    """One answer: ``text`` (plain), rows of ``buttons``, ``files``; ``edit`` asks the front end
    to replace the message the button was pressed on instead of sending a new one."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    files: list[ReplyFile] = field(default_factory=list)
    edit: bool = False
    notice: str | None = None  # a short toast for a button press

    def chunks(self) -> list[str]:
        """The text split into messages within Telegram's limit, on line breaks where possible."""
        return split_text(self.text)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters, preferring line breaks."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n") if rest[cut : cut + 1] == "\n" else rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def render_text(reply: Reply, *, with_data: bool = False) -> str:
    """The reply as text: the message, then one line per row of ``[buttons]`` (with their
    callback data when ``with_data``, so a shell user can press them), then the files."""
    lines = [reply.text]
    for row in reply.buttons:
        if with_data:
            lines.append("  ".join(f"[{b.text}] --press {b.data or b.url}" for b in row))
        else:
            lines.append("  ".join(f"[{b.text}]" for b in row))
    for f in reply.files:
        lines.append(f"(file {f.file_name}, {len(f.content)} bytes)")
    return "\n".join(lines)
