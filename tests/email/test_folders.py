"""IMAP folder names in modified UTF-7 (RFC 3501 §5.1.3): the codec, and a Cyrillic folder
read from a real Dovecot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.email.imap import ImapError, ImapSession
from bots.email.mailbox import mailbox_position
from bots.email.utf7 import BadFolderName, decode_folder, encode_folder
from emulators.mail import DovecotServer
from store.models import Message
from tests.email import corpus
from tests.email.conftest import BOT, eventually, imap_settings
from tests.email.test_ingest import inbound_count, running

# RFC 3501 §5.1.3's examples, and the names of the issue.
EXAMPLES = [
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("&", "&-"),
    ("Tom & Jerry", "Tom &- Jerry"),
    ("Заказы 2024", "&BBcEMAQ6BDAENwRL- 2024"),
    ("[Gmail]/Вся почта", "[Gmail]/&BBIEQQRP- &BD8EPgRHBEIEMA-"),
    ("INBOX", "INBOX"),
    ("😀", "&2D3eAA-"),  # outside the BMP: a UTF-16 surrogate pair
]


@pytest.mark.parametrize(("text", "wire"), EXAMPLES)
def test_rfc_examples_both_ways(text: str, wire: str) -> None:
    assert encode_folder(text) == wire
    assert decode_folder(wire) == text


@given(st.text())
def test_any_name_round_trips_in_printable_ascii(name: str) -> None:
    wire = encode_folder(name)
    assert all(0x20 <= ord(ch) <= 0x7E for ch in wire)
    assert decode_folder(wire) == name


@pytest.mark.parametrize("wire", ["&U,BTFw", "Заказы", "&A-B", "&U/BTFw-", "a&b", "&2D0-"])
def test_malformed_names_are_refused(wire: str) -> None:
    with pytest.raises(BadFolderName, match="not modified UTF-7"):
        decode_folder(wire)


async def test_cyrillic_folder_is_read(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    folder = "Заказы 2024"
    dovecot.create_folder(mail_user, "&BBcEMAQ6BDAENwRL- 2024")
    dovecot.append(mail_user, corpus.simple(1), folder="&BBcEMAQ6BDAENwRL- 2024")
    dovecot.append(mail_user, corpus.simple(2))  # INBOX: not this bot's folder
    imap = imap_settings(dovecot, mail_user, folder=folder)
    async with running(imap) as adapter:
        watcher = adapter.watcher
        assert watcher is not None
        await eventually(lambda: watcher.stats["passes"] >= 1, "a pass over the folder")
        assert watcher.stats["sessions"] == 1 and watcher.stats["reconnects"] == 0
    assert inbound_count() == 1
    assert Message.get().dedup_key == "mail:<simple-1-client@example.com>"
    position = mailbox_position(BOT)
    assert position is not None and position[0] == folder and position[2] == 1


async def test_a_missing_folder_names_the_folders_there_are(
    dovecot: DovecotServer, mail_user: str
) -> None:
    dovecot.create_folder(mail_user, "&BBIEQQRP- &BD8EPgRHBEIEMA-")  # "." separates levels here
    session = await ImapSession.open(imap_settings(dovecot, mail_user), "mailbox")
    try:
        assert "Вся почта" in await session.folders()
        with pytest.raises(ImapError) as refused:
            await session.select("Заказы")
    finally:
        await session.close()
    assert "'Заказы'" in str(refused.value) and "'Вся почта'" in str(refused.value)
