"""Starting up for commands: the store's own ``open_store`` (workers use it too, and may not
import ``commands``), re-exported here where every CLI command already looks for it."""

from __future__ import annotations

from store.runtime import open_store

__all__ = ["open_store"]
