"""``parse_mode=HTML`` as the Bot API reads it: the supported tags, balanced, or 400.

Telegram answers text it cannot parse with ``Bad Request: can't parse entities: ...`` and
counts the 4,096 characters of a message (1,024 of a caption) on the text *after* the markup is
parsed; a message's ``text`` / ``caption`` in its answer is that visible text. This reads the
markup with the standard library's HTML parser (independently of Switchboard's own check, so
tests compare the two).
"""

from __future__ import annotations

from html.parser import HTMLParser

SUPPORTED = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "tg-spoiler", "span", "blockquote", "tg-emoji",
    }
)  # fmt: skip


class EntityError(ValueError):
    """The markup cannot be parsed; ``str()`` is Telegram's wording after the prefix."""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SUPPORTED:
            raise EntityError(f'unsupported start tag "{tag}" at byte offset {self.byte_offset()}')
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise EntityError(f'unsupported start tag "{tag}" at byte offset {self.byte_offset()}')

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise EntityError(f"unexpected end tag at byte offset {self.byte_offset()}")
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.visible.append(data)

    def byte_offset(self) -> int:
        line, column = self.getpos()
        text = "".join(self.rawdata.splitlines(keepends=True)[: line - 1])
        return len(text.encode()) + column


def visible_text(markup: str) -> str:
    """The text Telegram shows for ``markup``; ``EntityError`` when it cannot be parsed."""
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    if reader.open:
        raise EntityError(f"can't find end tag corresponding to start tag {reader.open[-1]}")
    return "".join(reader.visible)
