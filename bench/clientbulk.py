"""Bulk actions of the client-list benchmark: label-add, mark-read and delete on N clients.

Filled in once the set-based bulk API (issue 3 item 4, helper "core") is on main; until then
it reports that the phase was skipped.
"""

from __future__ import annotations

from typing import Any

import peewee as pw


def run(db: pw.Database, size: int) -> dict[str, Any]:
    """Time the bulk actions on ``size`` clients; empty while the bulk API is missing."""
    print(f"  bulk actions on {size:,} clients: skipped (the bulk API is not on main yet)")
    return {}
