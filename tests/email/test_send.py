"""Outbound mail through aiosmtplib to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import peewee
import pytest

from bots.contract import OutboundAttachment, OutboundMessage
from bots.email.adapter import EmailAdapter
from bots.email.mailbox import begin_session, ingest_raw
from bots.errors import PermanentError, RecipientGone, TransientError
from emulators.loopback import free_port
from emulators.mail import SmtpSink
from tests.email import corpus
from tests.email.conftest import BOT, email_bot_settings, smtp_settings


def adapter_for(sink: SmtpSink, **overrides: object) -> EmailAdapter:
    return EmailAdapter(email_bot_settings(smtp=smtp_settings(sink, **overrides)))


async def test_reply_threads_on_the_clients_last_mail(
    db: peewee.Database, email_bot: str, smtp_sink: SmtpSink
) -> None:
    begin_session(BOT, "INBOX", 1)
    ingest_raw(BOT, 1, corpus.simple(1))
    ingest_raw(BOT, 2, corpus.nested_reply_from("client@example.com"))
    result = await adapter_for(smtp_sink).send(
        OutboundMessage(bot_name=BOT, messenger_id="client@example.com", text="Ready on Monday.")
    )
    [sent] = smtp_sink.messages
    mail = sent.message
    assert sent.rcpt_tos == ["client@example.com"] and sent.mail_from == "shop@shop.example"
    assert mail["In-Reply-To"] == "<reply-2@example.com>"
    # Their references, then the mail answered: the whole conversation, in order.
    assert str(mail["References"]).split() == [
        "<simple-1-client@example.com>",
        "<out-7@shop.example>",
        "<reply-2@example.com>",
    ]
    assert mail["Subject"] == "Re: Hello again"
    assert str(mail["From"]) == "Corner Shop <shop@shop.example>"
    assert mail.get_content().strip() == "Ready on Monday."
    assert result.platform_message_id == mail["Message-ID"]
    assert result.platform_message_id.endswith("@shop.example>")


async def test_reply_to_names_the_mail_answered(
    db: peewee.Database, email_bot: str, smtp_sink: SmtpSink
) -> None:
    begin_session(BOT, "INBOX", 1)
    ingest_raw(BOT, 1, corpus.simple(1))
    ingest_raw(BOT, 2, corpus.simple(2))
    await adapter_for(smtp_sink).send(
        OutboundMessage(
            bot_name=BOT,
            messenger_id="client@example.com",
            text="About your first mail",
            reply_to="<simple-1-client@example.com>",
        )
    )
    mail = smtp_sink.messages[0].message
    assert mail["In-Reply-To"] == "<simple-1-client@example.com>"
    assert mail["Subject"] == "Re: Hello 1"


async def test_new_subject_starts_a_new_conversation_with_buttons_and_files(
    db: peewee.Database, email_bot: str, smtp_sink: SmtpSink, tmp_path: pytest.TempPathFactory
) -> None:
    price_list = tmp_path / "prices.pdf"  # type: ignore[operator]
    price_list.write_bytes(corpus.PDF_BYTES)
    await adapter_for(smtp_sink).send(
        OutboundMessage(
            bot_name=BOT,
            messenger_id="new@example.com",
            text="Our offer",
            subject="Spring sale",
            reply_markup={"inline_keyboard": [[{"text": "Shop", "url": "https://s.example"}]]},
            attachments=(
                OutboundAttachment(kind="document", path=str(price_list)),
                OutboundAttachment(kind="photo", url="https://s.example/p.jpg"),
            ),
        )
    )
    mail = smtp_sink.messages[0].message
    assert mail["Subject"] == "Spring sale" and mail["In-Reply-To"] is None
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Our offer" in text and "1. Shop (https://s.example)" in text
    assert "https://s.example/p.jpg" in text
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "prices.pdf"
    assert attachment.get_content() == corpus.PDF_BYTES


@pytest.mark.parametrize(
    ("code", "error"), [(550, RecipientGone), (450, TransientError), (553, RecipientGone)]
)
async def test_refused_recipients_are_classified(
    smtp_sink: SmtpSink, code: int, error: type[Exception]
) -> None:
    smtp_sink.behaviour.refuse_recipients["nobody@example.com"] = (code, "5.1.1 no such user")
    with pytest.raises(error) as raised:
        await adapter_for(smtp_sink).send(
            OutboundMessage(bot_name=BOT, messenger_id="nobody@example.com", text="hi", subject="x")
        )
    assert str(code) in str(raised.value) and "nobody@example.com" in str(raised.value)
    assert smtp_sink.messages == []


async def test_temporary_data_refusal_is_transient(smtp_sink: SmtpSink) -> None:
    smtp_sink.behaviour.data_reply = "451 4.3.0 try again later"
    with pytest.raises(TransientError, match="451"):
        await adapter_for(smtp_sink).send(
            OutboundMessage(bot_name=BOT, messenger_id="a@example.com", text="hi", subject="x")
        )


async def test_permanent_data_refusal_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.behaviour.data_reply = "554 5.7.1 message refused as spam"
    with pytest.raises(PermanentError, match="spam"):
        await adapter_for(smtp_sink).send(
            OutboundMessage(bot_name=BOT, messenger_id="a@example.com", text="hi", subject="x")
        )


async def test_bad_login_is_permanent_and_names_the_mailbox(smtp_sink: SmtpSink) -> None:
    with pytest.raises(PermanentError) as raised:
        await adapter_for(smtp_sink, password="wrong").send(
            OutboundMessage(bot_name=BOT, messenger_id="a@example.com", text="hi", subject="x")
        )
    message = str(raised.value)
    assert f"mailbox {BOT}" in message and "'shop'" in message and "535" in message


async def test_unreachable_server_is_transient() -> None:
    port = free_port()  # nobody listens there
    sink = SmtpSink()
    sink.port = port
    with pytest.raises(TransientError, match=str(port)):
        await adapter_for(sink).send(
            OutboundMessage(bot_name=BOT, messenger_id="a@example.com", text="hi", subject="x")
        )
