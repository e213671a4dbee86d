"""``python -m emulators.telegram``: run the Bot API emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from emulators.flood import FLOOD_MODELS
from emulators.telegram.server import TelegramEmulator


async def _serve(args: argparse.Namespace) -> None:
    emu = TelegramEmulator(
        host=args.host,
        port=args.port,
        tokens=args.token,
        limits=not args.no_limits,
        accept_unknown_chats=args.accept_unknown_chats,
        any_token=args.any_token,
        flood=args.flood,
    )
    async with emu:
        print(f"Telegram Bot API emulator on {emu.base_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", action="append", default=[], help="a bot token (repeat)")
    parser.add_argument("--no-limits", action="store_true", help="no flood limits")
    parser.add_argument(
        "--flood", choices=FLOOD_MODELS, default="bucket", help="how sends are counted"
    )
    parser.add_argument("--accept-unknown-chats", action="store_true")
    parser.add_argument("--any-token", action="store_true", help="accept every bot token")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
