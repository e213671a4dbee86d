"""Client filters: the text syntax, the one registry of filters, and their SQL.

Use ``parse_filter(text, viewer, zone)`` to get a checked ``ClientFilter``; run it with
``store.clients.query``.
"""

from __future__ import annotations

from store.filters.errors import FilterError
from store.filters.registry import (
    REGISTRY,
    SPECS,
    ClientFilter,
    Condition,
    FilterSpec,
    help_markdown,
    help_text,
    parse_filter,
)

__all__ = [
    "REGISTRY",
    "SPECS",
    "ClientFilter",
    "Condition",
    "FilterError",
    "FilterSpec",
    "help_markdown",
    "help_text",
    "parse_filter",
]
