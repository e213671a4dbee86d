"""Where a folder new to the store starts: ``initial_sync`` (``new``, ``all``, ``since:DAY``).

A mailbox connected for the first time usually holds years of mail; ``new`` (the default)
leaves it alone and stores only mail arriving from then on, ``all`` stores the whole folder,
``since:YYYY-MM-DD`` the mail the server received from that day on (and every mail after the
first such one: UIDs grow with arrival, so the rare older mail moved in later comes along).

After a UIDVALIDITY change (the server renumbered the folder) the old position means nothing:
``all`` reads the folder again, the others read again from the day before the old numbering
was last read; mails already stored are dropped by their dedup keys either way.
"""

from __future__ import annotations

import datetime as dt

from bots.email.imap import ImapSession, Selected
from bots.email.mailbox import Known
from config import ImapSettings


async def start_after(
    session: ImapSession, settings: ImapSettings, selected: Selected, known: Known
) -> int:
    """The UID after which the first pass over a folder new to the store begins."""
    if settings.initial_sync == "all":
        return 0
    since = settings.initial_sync_since
    if known.renumbered_on is not None:
        resume = known.renumbered_on - dt.timedelta(days=1)  # a day of slack: server time zones
        since = resume if since is None else max(since, resume)
    if since is not None:
        uids = await session.uids_since(since)
        if uids:
            return uids[0] - 1
    return await _highest_uid(session, selected)


async def _highest_uid(session: ImapSession, selected: Selected) -> int:
    if selected.uidnext is not None:
        return selected.uidnext - 1
    uids = await session.uids_after(0)  # a server that keeps UIDNEXT to itself
    return uids[-1] if uids else 0
