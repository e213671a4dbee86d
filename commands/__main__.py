from __future__ import annotations

from commands.cli import main

main()
