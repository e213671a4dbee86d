"""Placeholders of a campaign's text: ``{name}``, ``{first_name}``, ``{var:Город|default}``.

Grammar (one rule everywhere: text, caption, buttons, subject, template parameters):

* ``{name}``: the client's name; ``{first_name}``: its first word (up to a space);
* ``{var:NAME}``: the client's custom variable NAME (any Unicode, no ``{ } |``), exactly as
  filters name it;
* any of them with ``|default``: the default when the client has no value (an empty value
  counts as none), e.g. ``{first_name|friend}``;
* ``{{`` and ``}}`` are a literal brace; any other ``{`` or ``}`` is an error (so a typo
  such as ``{frist_name}`` is caught before sending, not sent to 10,000 people).

``parse`` splits a text once into literal parts and ``Placeholder`` parts; ``fill`` puts a
client's values in, through an ``escape`` (HTML for Telegram, URL quoting for a button's
link, none for plain text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

FIELDS = ("name", "first_name")
TOKEN = re.compile(r"\{\{|\}\}|\{(?P<body>[^{}]*)\}|[{}]")
VAR_PREFIX = "var:"
MAX_VAR_NAME = 200  # Variable.name width


class PlaceholderError(ValueError):
    """A text whose braces are not placeholders; ``str()`` is one line naming where."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    """``field`` is ``name``, ``first_name`` or ``var``; ``variable`` the var's name."""

    field: str
    variable: str | None = None
    default: str | None = None

    @property
    def key(self) -> str:
        """How the plan names it: ``{first_name}``, ``{var:Город}`` (without the default)."""
        return f"{{var:{self.variable}}}" if self.field == "var" else f"{{{self.field}}}"


@dataclass(frozen=True, slots=True)
class ClientFields:
    """What a client's placeholders are filled from."""

    name: str = ""
    variables: Mapping[str, str] | None = None

    def value(self, placeholder: Placeholder) -> str:
        """The client's value for ``placeholder`` ('' when none; the default is not applied).
        Only spaces are trimmed, as SQL's TRIM does (the plan counts empties in SQL)."""
        if placeholder.field == "name":
            return self.name.strip(" ")
        if placeholder.field == "first_name":
            return self.name.strip(" ").split(" ", 1)[0]
        return (self.variables or {}).get(placeholder.variable or "", "").strip(" ")


Part = str | Placeholder


def _placeholder(body: str, at: int) -> Placeholder:
    spec, bar, default = body.partition("|")
    spec = spec.strip()
    if spec in FIELDS:
        return Placeholder(spec, None, default if bar else None)
    if spec.startswith(VAR_PREFIX):
        variable = spec[len(VAR_PREFIX) :].strip()
        if not variable:
            raise PlaceholderError(f"{{{body}}} at {at}: a variable name is missing after var:")
        if len(variable) > MAX_VAR_NAME:
            raise PlaceholderError(f"{{var:...}} at {at}: variable name over {MAX_VAR_NAME}")
        return Placeholder("var", variable, default if bar else None)
    raise PlaceholderError(
        f"unknown placeholder {{{body}}} at {at}: use {{name}}, {{first_name}} or "
        "{var:NAME|default}; write {{ and }} for literal braces"
    )


def parse(text: str) -> list[Part]:
    """``text`` as literal strings and ``Placeholder``s, in order; ``PlaceholderError`` if a
    brace is neither."""
    parts: list[Part] = []
    literal: list[str] = []
    at = 0
    for match in TOKEN.finditer(text):
        literal.append(text[at : match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif match.group("body") is not None:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_placeholder(match.group("body"), match.start()))
        else:
            raise PlaceholderError(
                f"a lone {token!r} at {match.start()}: write {token * 2} for a literal brace"
            )
        at = match.end()
    literal.append(text[at:])
    if "".join(literal):
        parts.append("".join(literal))
    return parts


def placeholders_of(text: str) -> list[Placeholder]:
    """The placeholders of ``text`` in order (repeats kept)."""
    return [p for p in parse(text) if isinstance(p, Placeholder)]


def escape_braces(text: str) -> str:
    """``text`` written so that ``parse`` reads it back literally."""
    return text.replace("{", "{{").replace("}", "}}")


def fill(parts: list[Part] | str, fields: ClientFields, escape: Callable[[str], str] = str) -> str:
    """The text with the client's values (or the defaults) in place, each through ``escape``."""
    out: list[str] = []
    for part in parse(parts) if isinstance(parts, str) else parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = fields.value(part)
        if not value and part.default is not None:
            value = part.default
        out.append(escape(value))
    return "".join(out)
