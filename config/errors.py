"""The one error a bad configuration raises."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is one line naming the file and the key."""

    exit_code = 2
