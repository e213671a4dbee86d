"""What a command answers, independent of Telegram: text, buttons and files.

The Telegram front end turns a ``Reply`` into messages with inline keyboards; the CLI prints
it with its buttons listed. Telegram caps a message at 4,096 characters and callback data at
64 bytes, so both limits are enforced here, where every command's answer passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MESSAGE_LIMIT = 4096  # characters (UTF-16 code units) in one Telegram message
CALLBACK_LIMIT = 64  # bytes of callback_data


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: ``data`` comes back as a callback (≤ 64 bytes), ``url`` opens a link,
    ``web_app`` (an HTTPS URL) opens the Mini App inside Telegram."""

    text: str
    data: str | None = None
    url: str | None = None
    web_app: str | None = None

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
    to replace the message the button was pressed on instead of sending a new one.

    A ``text`` longer than one message is sent as ``chunks()``, the buttons under the last.
    ``live`` is callback data of a refresh (a job's progress): a front end may press it again
    every few seconds and edit the message with the answer, until an answer has no ``live``.
    ``about_client``: the client the message is about; a Telegram reply to it writes to them.
    ``force_reply`` opens the operator's reply to the message at once (when it has no buttons).
    """

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    files: list[ReplyFile] = field(default_factory=list)
    edit: bool = False
    about_client: int | None = None
    force_reply: bool = False
    notice: str | None = None  # a short toast for a button press
    live: str | None = None
    error: bool = False  # the command was refused (bad arguments, no permission): nothing done

    def chunks(self) -> list[str]:
        """The text split into messages within Telegram's limit, on line breaks where possible."""
        return split_text(self.text)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-16 length is at most ``limit``."""
    if utf16_len(text[:limit]) <= limit:
        return text[:limit]
    units = 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:i]
    return text


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` UTF-16 units (Telegram's measure).

    A piece ends at the last line break that fits (the break itself is dropped), else at the
    last space (dropped too), else it is cut hard. Text without a line longer than ``limit``
    is therefore split at line boundaries only: every piece is whole lines.
    """
    if utf16_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        window = _fitting_prefix(rest, limit)
        cut = window.rfind("\n")
        if cut < 0:
            cut = window.rfind(" ")
        if cut < 0:
            pieces.append(window)
            rest = rest[len(window) :]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut + 1 :]
    pieces.append(rest)
    return pieces


def render_text(reply: Reply, *, with_data: bool = False) -> str:
    """The reply as text: the message, then one line per row of ``[buttons]`` (with their
    callback data when ``with_data``, so a shell user can press them), then the files."""
    lines = [reply.text]
    for row in reply.buttons:
        if with_data:
            lines.append(
                "  ".join(f"[{b.text}] --press {b.data or b.url or b.web_app}" for b in row)
            )
        else:
            lines.append("  ".join(f"[{b.text}]" for b in row))
    if reply.live and with_data:
        lines.append(f"(refresh: --press {reply.live})")
    for f in reply.files:
        lines.append(f"(file {f.file_name}, {len(f.content)} bytes)")
    return "\n".join(lines)
