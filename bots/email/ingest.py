"""The mailbox loop of an email bot: fetch new mail by UID, then wait (IDLE or polling), forever.

Each pass asks for UIDs above the last one stored, fetches them one at a time (oldest first)
and files each with ``bots.email.mailbox.ingest_raw`` (parse + store + advance, one
transaction). Then it waits: IMAP IDLE when the server offers it and ``use_idle`` is on
(woken by the server's push at once), else ``poll_interval_s``. When the connection or the
store fails the loop waits ``Backoff`` (``delay_s`` doubling up to ``max_s``) and starts a
new session from the UID the store last recorded, so nothing is lost or stored twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass

from bots.email.first_sync import start_after
from bots.email.imap import ImapAuthError, ImapConnectionLost, ImapError, ImapSession
from bots.email.mailbox import begin_session, ingest_raw, known_position, skip_uid
from bots.ingest_health import note
from bots.webhook import store_call
from config import ImapSettings
from store.errors import StoreError

log = logging.getLogger("switchboard.email")


@dataclass
class Backoff:
    """Reconnect delays: ``delay_s``, then doubling up to ``max_s`` (seconds); ``reset()``
    after a session that worked."""

    delay_s: float = 1.0
    max_s: float = 300.0
    factor: float = 2.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.max_s, self.delay_s * self.factor**self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


class MailboxWatcher:
    """Keeps one bot's mailbox in the store. ``await run()`` until cancelled.

    ``stats`` counts outcomes (``stored``, ``duplicate``, ``bounce``, ``auto_reply``, ...) and
    events (``sessions``, ``passes``, ``reconnects``, ``idle_wakeups``, ``polls``) for logs and
    tests.
    """

    def __init__(self, bot_name: str, settings: ImapSettings) -> None:
        self.bot_name = bot_name
        self.settings = settings
        self.backoff = Backoff(settings.reconnect_delay_s, settings.reconnect_max_s)
        self.stats: Counter[str] = Counter()
        self.mode: str | None = None  # "idle" or "poll" once a session is up
        self._session: ImapSession | None = None

    async def run(self) -> None:
        while True:
            try:
                await self._run_session()
            except asyncio.CancelledError:
                raise
            except ImapAuthError as exc:
                log.error("%s", exc)
                await self._failed(str(exc))
            except (ImapConnectionLost, OSError, TimeoutError) as exc:
                log.warning(
                    "mailbox %s: IMAP connection to %s:%s failed: %s",
                    self.bot_name,
                    self.settings.host,
                    self.settings.port,
                    exc or type(exc).__name__,
                )
                why = str(exc) or type(exc).__name__
                where = f"{self.settings.host}:{self.settings.port}"
                await self._failed(f"IMAP connection to {where} failed: {why}")
            except (ImapError, StoreError) as exc:
                log.warning("mailbox %s: %s", self.bot_name, exc)
                await self._failed(str(exc))
            except Exception as exc:
                log.exception("mailbox %s: unexpected error in the mailbox loop", self.bot_name)
                await self._failed(f"unexpected: {type(exc).__name__}: {exc}")
            finally:
                session, self._session = self._session, None
                if session is not None:
                    await session.close()
            delay = self.backoff.next_delay()
            self.stats["reconnects"] += 1
            log.info("mailbox %s: reconnecting in %.1f s", self.bot_name, delay)
            await asyncio.sleep(delay)

    async def _run_session(self) -> None:
        s = self.settings
        self._session = session = await ImapSession.open(s, self.bot_name)
        self.stats["sessions"] += 1
        selected = await session.select(s.folder)
        uidvalidity = selected.uidvalidity
        known = await store_call(known_position, self.bot_name, s.folder, uidvalidity)
        start = known.last_uid
        if start is None:
            start = await start_after(session, s, selected, known)
            log.info(
                "mailbox %s: %s is new here (initial_sync %s): storing mail after UID %s",
                self.bot_name,
                s.folder,
                s.initial_sync,
                start,
            )
        last_uid = await store_call(
            begin_session, self.bot_name, s.folder, uidvalidity, start_after=start
        )
        use_idle = s.use_idle and session.has_idle()
        self.mode = "idle" if use_idle else "poll"
        log.info(
            "mailbox %s: %s on %s:%s (%s, from UID %s)",
            self.bot_name,
            s.folder,
            s.host,
            s.port,
            "IDLE" if use_idle else f"polling every {s.poll_interval_s:g} s",
            last_uid + 1,
        )
        while True:
            before = last_uid
            last_uid = await self._sync(session, last_uid)
            self.stats["passes"] += 1
            await note(self.bot_name, self.mode, connected=True, inbound=last_uid != before)
            self.backoff.reset()  # a full pass worked: the next failure starts from delay_s
            if use_idle:
                if await session.wait_for_news(s.idle_renew_s):
                    self.stats["idle_wakeups"] += 1
            else:
                await session.guard(asyncio.sleep(s.poll_interval_s))
                self.stats["polls"] += 1

    async def _failed(self, error: str) -> None:
        mode = self.mode or ("idle" if self.settings.use_idle else "poll")
        line = (error.splitlines() or ["failed"])[0]
        await note(self.bot_name, mode, ok=False, error=line, connected=False)

    async def _sync(self, session: ImapSession, last_uid: int) -> int:
        for uid in await session.uids_after(last_uid):
            raw = await session.fetch(uid, self.settings.max_message_bytes)
            if raw is None:
                await store_call(skip_uid, self.bot_name, uid)
                self.stats["vanished"] += 1
            else:
                limit = self.settings.max_message_bytes
                truncated_at = limit if len(raw) >= limit else None
                outcome = await store_call(
                    ingest_raw, self.bot_name, uid, raw, truncated_at=truncated_at
                )
                self.stats[outcome] += 1
            last_uid = uid
        return last_uid
