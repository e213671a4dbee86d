"""Reading admin command arguments: one tokenizer for every command.

It is the filter language's (``store.filters.syntax.token_spans``), so a value is quoted the
same way in ``/assign 12 "Anna Maria"`` as in ``/clients search:"Анна Мария"``:

* values are separated by spaces; double quotes keep spaces inside one value, and a backslash
  inside quotes escapes the next character (``"say \\"hi\\""``);
* a free TEXT at the end (``/reply ID TEXT``) is the rest of the line as written; written
  wholly inside one pair of double quotes, the quotes are dropped (``/reply 12 "hi there"``
  sends ``hi there``), otherwise quotes in it are part of the text;
* FILTER... is handed to the filter language as written.
"""

from __future__ import annotations

from itertools import islice

from commands.admin.context import CommandError
from store.filters.errors import FilterError
from store.filters.syntax import token_spans, unquote


def split_args(args: str) -> list[str]:
    """Every value of ``args``, unquoted; ``CommandError`` on an unclosed quote."""
    try:
        return [unquote(args[a:b], args[a:b]) for a, b in token_spans(args)]
    except FilterError as exc:
        raise CommandError(f"Cannot read the arguments: {exc}.") from None


def head_and_rest(args: str, count: int) -> tuple[list[str], str]:
    """The first ``count`` values of ``args`` (unquoted; fewer when there are fewer) and the
    rest of the line after them, stripped, as written. Quotes in the rest are not read here,
    so a free text may hold an unpaired ``"``."""
    try:
        spans = list(islice(token_spans(args), count))
    except FilterError as exc:
        raise CommandError(f"Cannot read the arguments: {exc}.") from None
    head = [unquote(args[a:b], args[a:b]) for a, b in spans]
    end = spans[-1][1] if spans else 0
    return head, args[end:].strip()


def free_text(rest: str) -> str:
    """A command's trailing TEXT: ``rest`` stripped, without its quotes when it is one quoted
    value (``"hi there"`` -> ``hi there``); any other text is kept as written."""
    text = rest.strip()
    if not (len(text) >= 2 and text.startswith('"') and text.endswith('"')):
        return text
    try:
        spans = list(islice(token_spans(text), 2))
    except FilterError:
        return text  # an unpaired quote inside: plain text
    if spans != [(0, len(text))]:
        return text  # "a" and "b": several values, quotes belong to the text
    return unquote(text, text)
