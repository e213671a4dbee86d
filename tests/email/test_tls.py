"""IMAP and SMTP over TLS and STARTTLS with verified certificates: a real Dovecot and aiosmtpd
serving a certificate of a throwaway CA (trustme), trusted through the mailbox's ``ca_file``."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee
import pytest
import trustme

from bots.contract import OutboundMessage
from bots.email.adapter import EmailAdapter
from bots.errors import PermanentError
from config import SmtpSettings
from emulators.mail import DovecotServer, MailServerError, SmtpSink
from store.models import Message
from tests.email import corpus
from tests.email.conftest import BOT, email_bot_settings, eventually, imap_settings, smtp_settings
from tests.email.test_ingest import inbound_count, running


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def pem_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The CA's certificate, and the server's key and chain for 127.0.0.1, as PEM files."""
    root = tmp_path_factory.mktemp("tls")
    server = ca.issue_cert("127.0.0.1")
    paths = {"ca": root / "ca.pem", "chain": root / "chain.pem", "key": root / "key.pem"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(paths["chain"]), append=True)
    server.private_key_pem.write_to_path(str(paths["key"]))
    for path in paths.values():
        path.chmod(0o644)
    return {name: str(path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def tls_dovecot(pem_files: dict[str, str]) -> Iterator[DovecotServer]:
    try:
        server = DovecotServer(tls=(pem_files["chain"], pem_files["key"]))
        server.start()
    except MailServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_imap_over_tls_and_starttls_stores_mail(
    tls_dovecot: DovecotServer,
    pem_files: dict[str, str],
    mail_user: str,
    email_bot: str,
    security: str,
) -> None:
    tls_dovecot.append(mail_user, corpus.simple(1))
    port = tls_dovecot.tls_port if security == "tls" else tls_dovecot.port
    imap = imap_settings(
        tls_dovecot, mail_user, security=security, port=port, ca_file=pem_files["ca"]
    )
    async with running(imap) as adapter:
        await eventually(lambda: inbound_count() == 1, f"the mail over {security}")
        assert adapter.watcher is not None and adapter.watcher.stats["sessions"] == 1
    assert Message.get().subject == "Hello 1"


async def test_imap_refuses_a_certificate_it_cannot_trust(
    tls_dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    tls_dovecot.append(mail_user, corpus.simple(1))
    imap = imap_settings(tls_dovecot, mail_user, security="tls", port=tls_dovecot.tls_port)
    async with running(imap) as adapter:
        watcher = adapter.watcher
        assert watcher is not None
        await eventually(lambda: watcher.stats["reconnects"] >= 2, "retries after refusals")
        assert watcher.stats["sessions"] == 0  # never logged in: the password never left
    assert inbound_count() == 0


def server_context(pem_files: dict[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem_files["chain"], pem_files["key"])
    return context


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_smtp_over_tls_and_starttls_delivers(
    pem_files: dict[str, str], security: str, db: peewee.Database, email_bot: str
) -> None:
    sink = SmtpSink(
        user="shop",
        password="smtp-secret",
        tls=server_context(pem_files),
        implicit_tls=security == "tls",
    )
    with sink:
        adapter = EmailAdapter(
            email_bot_settings(smtp=smtp_settings(sink, security=security, ca_file=pem_files["ca"]))
        )
        await adapter.send(
            OutboundMessage(bot_name=BOT, messenger_id="a@example.com", text="hi", subject="x")
        )
        await adapter.close()
    [sent] = sink.messages
    assert sent.rcpt_tos == ["a@example.com"] and sent.message["Subject"] == "x"


async def test_smtp_untrusted_certificate_is_permanent_and_says_so(
    pem_files: dict[str, str], db: peewee.Database, email_bot: str
) -> None:
    with SmtpSink(tls=server_context(pem_files), implicit_tls=True) as sink:
        adapter = EmailAdapter(email_bot_settings(smtp=smtp_settings(sink, security="tls")))
        with pytest.raises(PermanentError, match="TLS certificate not trusted"):
            await adapter.send(
                OutboundMessage(bot_name=BOT, messenger_id="a@example.com", text="hi")
            )
        await adapter.close()
    assert sink.messages == []


def test_ca_file_must_exist(tmp_path: Path) -> None:
    values: dict[str, Any] = {"host": "h", "from_address": "a@b.example"}
    with pytest.raises(ValueError, match="no such file"):
        SmtpSettings(**values, ca_file=str(tmp_path / "missing.pem"))
