"""One IMAP session with aioimaplib: connect (TLS, STARTTLS or plain), log in, select a folder,
search and fetch by UID, IDLE. Every call fails fast with ``ImapConnectionLost`` once the server
closes the connection, instead of waiting for a command timeout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import aioimaplib

from bots.email.tls import tls_context
from bots.email.utf7 import BadFolderName, decode_folder, encode_folder
from config import ImapSettings

T = TypeVar("T")

_SELECT_CODE = re.compile(rb"\[(UIDVALIDITY|UIDNEXT) (\d+)\]")
# IMAP dates are English whatever the locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# A LIST answer without "* LIST": (\HasNoChildren) "." "name" (or an atom name)
_LIST = re.compile(rb'^\([^)]*\) (?:NIL|"(?:[^"\\]|\\.)*") ("(?:[^"\\]|\\.)*"|\S+)\s*$')


class ImapError(Exception):
    """The IMAP server refused something; ``str()`` says what, for the log."""


class ImapAuthError(ImapError):
    """The login was refused (wrong user or password): retrying soon will not help."""


class ImapConnectionLost(ImapError):
    """The server closed the connection (restart, network, idle timeout)."""


@dataclass(frozen=True, slots=True)
class Selected:
    """What SELECT told about a folder: ``uidvalidity`` and ``uidnext`` (the UID the next mail
    will get), each None when the server did not say."""

    uidvalidity: int | None
    uidnext: int | None


class ImapSession:
    """A logged-in connection to one mailbox; ``await ImapSession.open(settings)``."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self.lost = asyncio.Event()
        self.client: aioimaplib.IMAP4 | None = None

    @classmethod
    async def open(cls, settings: ImapSettings, label: str) -> ImapSession:
        session = cls(settings)
        try:
            await session._connect(label)
        except BaseException:
            await session.close()
            raise
        return session

    def _on_lost(self, exc: Exception | None) -> None:
        self.lost.set()

    async def _connect(self, label: str) -> None:
        s = self.settings
        if s.security == "tls":
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                s.host, s.port, timeout=s.timeout_s, ssl_context=tls_context(s.ca_file)
            )
        else:
            client = aioimaplib.IMAP4(s.host, s.port, timeout=s.timeout_s)
        # IMAP4_SSL takes no callback; the protocol object is created at once, so set it there.
        client.protocol.conn_lost_cb = self._on_lost
        self.client = client
        await self.guard(client.wait_hello_from_server())
        if s.security == "starttls":
            await self._starttls(client)
        response = await self.guard(client.login(s.user, s.password.get_secret_value()))
        if response.result != "OK":
            raise ImapAuthError(
                f"mailbox {label}: IMAP login as {s.user!r} at {s.host}:{s.port} refused: "
                f"{_text(response.lines)}"
            )

    async def _starttls(self, client: aioimaplib.IMAP4) -> None:
        # aioimaplib has no STARTTLS: send the command, then upgrade the transport in place.
        protocol = client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapError(f"{self.settings.host}:{self.settings.port} does not offer STARTTLS")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        response = await self.guard(
            asyncio.wait_for(protocol.execute(command), self.settings.timeout_s)
        )
        if response.result != "OK":
            raise ImapError(f"STARTTLS refused: {_text(response.lines)}")
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            protocol.transport,
            protocol,
            tls_context(self.settings.ca_file),
            server_hostname=self.settings.host,
        )
        protocol.transport = transport
        await self.guard(asyncio.wait_for(protocol.capability(), self.settings.timeout_s))

    async def guard(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the connection goes first (then ``ImapConnectionLost``)."""
        task = asyncio.ensure_future(awaitable)
        if self.lost.is_set() and not task.done():
            task.cancel()
            raise ImapConnectionLost("connection closed by the server")
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            lost.cancel()
        if task in done:
            return task.result()
        task.cancel()
        raise ImapConnectionLost("connection closed by the server")

    @property
    def _client(self) -> aioimaplib.IMAP4:
        if self.client is None:
            raise ImapConnectionLost("not connected")
        return self.client

    def has_idle(self) -> bool:
        return self._client.has_capability("IDLE")

    async def select(self, folder: str) -> Selected:
        """Select ``folder`` (its name as people write it: ``Заказы 2024``, sent in modified
        UTF-7); returns its UIDVALIDITY and UIDNEXT (None where the server does not say)."""
        response = await self.guard(self._client.select(_quote(encode_folder(folder))))
        if response.result != "OK":
            known = ", ".join(repr(name) for name in await self.folders())
            raise ImapError(
                f"cannot select folder {folder!r}: {_text(response.lines)} "
                f"(the server has: {known or 'no folders listed'})"
            )
        found: dict[bytes, int] = {}
        for line in response.lines:
            if isinstance(line, bytes | bytearray) and (match := _SELECT_CODE.search(line)):
                found[match.group(1)] = int(match.group(2))
        return Selected(found.get(b"UIDVALIDITY"), found.get(b"UIDNEXT"))

    async def folders(self) -> list[str]:
        """Every folder's name, decoded from modified UTF-7 (names that do not decode are
        shown as the server wrote them)."""
        response = await self.guard(self._client.list('""', "*"))
        names: list[str] = []
        for line in response.lines[:-1]:
            if isinstance(line, bytes | bytearray) and (match := _LIST.match(bytes(line))):
                wire = match.group(1).decode("ascii", "replace")
                if wire.startswith('"'):
                    wire = re.sub(r"\\(.)", r"\1", wire[1:-1])
                try:
                    names.append(decode_folder(wire))
                except BadFolderName:
                    names.append(wire)
        return names

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs greater than ``last_uid``, ascending (``N:*`` also matches the highest UID
        when every UID is below N, so the result is filtered)."""
        response = await self.guard(self._client.uid_search(f"UID {last_uid + 1}:*", charset=None))
        if response.result != "OK":
            raise ImapError(f"UID SEARCH failed: {_text(response.lines)}")
        return [uid for uid in _search_uids(response.lines) if uid > last_uid]

    async def uids_since(self, day: dt.date) -> list[int]:
        """UIDs of the mails the server received on ``day`` or later (its INTERNALDATE),
        ascending."""
        criteria = f"SINCE {day.day}-{_MONTHS[day.month - 1]}-{day.year}"
        response = await self.guard(self._client.uid_search(criteria, charset=None))
        if response.result != "OK":
            raise ImapError(f"UID SEARCH {criteria} failed: {_text(response.lines)}")
        return _search_uids(response.lines)

    async def fetch(self, uid: int, max_bytes: int) -> bytes | None:
        """The raw message ``uid`` (its first ``max_bytes``), None when it no longer exists.

        ``BODY.PEEK`` leaves the ``\\Seen`` flag alone, so people reading the same mailbox in
        a mail client still see the mail as new.
        """
        response = await self.guard(
            self._client.uid("fetch", str(uid), f"(UID BODY.PEEK[]<0.{max_bytes}>)")
        )
        if response.result != "OK":
            raise ImapError(f"UID FETCH {uid} failed: {_text(response.lines)}")
        for line in response.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def wait_for_news(self, timeout_s: float) -> bool:
        """IDLE until the server reports a change or ``timeout_s`` passes; True on a change."""
        client = self._client
        queue = client.protocol.idle_queue
        while not queue.empty():  # pushes left over from an earlier IDLE: we sync anyway
            queue.get_nowait()
        idle = await self.guard(client.idle_start(timeout=timeout_s))
        try:
            pushed = await self.guard(client.wait_server_push(timeout=timeout_s + 5))
        except TimeoutError:
            pushed = aioimaplib.STOP_WAIT_SERVER_PUSH
        finally:
            if client.has_pending_idle() and not self.lost.is_set():
                client.idle_done()
        await self.guard(asyncio.wait_for(idle, self.settings.timeout_s))
        return pushed != aioimaplib.STOP_WAIT_SERVER_PUSH

    async def noop(self) -> None:
        await self.guard(self._client.noop())

    async def close(self) -> None:
        """Log out politely when the connection is still there; never raises."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            # In the middle of IDLE (cancelled while waiting) there is nothing to say politely.
            if (
                not self.lost.is_set()
                and not client.has_pending_idle()
                and client.get_state() in ("AUTH", "SELECTED", "NONAUTH")
            ):
                await asyncio.wait_for(client.logout(), timeout=2)
        except Exception:  # noqa: S110 - a server that is going away needs no goodbye
            pass
        finally:
            transport = client.protocol.transport
            if transport is not None:
                transport.close()


def _search_uids(lines: list[bytes | bytearray]) -> list[int]:
    uids: set[int] = set()
    # aioimaplib strips "* SEARCH" from the untagged lines; the last line is the status.
    for line in lines[:-1]:
        if isinstance(line, bytes | bytearray):
            uids.update(int(tok) for tok in line.split() if tok.isdigit())
    return sorted(uids)


def _quote(folder: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./-]+", folder):
        return folder
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(lines: list[bytes | bytearray]) -> str:
    last = lines[-1] if lines else b""
    return bytes(last).decode("utf-8", "replace").strip() or "no reason given"
