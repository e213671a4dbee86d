"""Parsing awkward mail into what the store keeps (no server needed)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.email.html_text import html_to_text
from bots.email.parse import parse_mail
from tests.email import corpus


def test_koi8r_mail_decodes_name_subject_and_body() -> None:
    mail = parse_mail(corpus.koi8r())
    assert mail.kind == "mail"
    assert mail.sender == "ivan.petrov@example.ru"  # lowercased: one client per address
    assert mail.name == "Иван Петров"
    assert mail.subject == "Заказ номер 15"
    assert mail.text == "Здравствуйте! Когда привезёте заказ?"
    assert mail.dedup_key == "mail:<koi8-1@example.ru>"
    assert mail.sent_at is not None and mail.sent_at.hour == 7  # 10:00 +0300 in UTC


def test_windows1251_quoted_printable() -> None:
    mail = parse_mail(corpus.windows1251())
    assert mail.name == "Ольга"
    assert mail.subject == "Вопрос по счёту"
    assert mail.text == "Добрый день.\nСчёт во вложении не открывается."


@pytest.mark.parametrize(
    ("from_header", "address", "name"),
    [
        ("bbb@ddd.com (John X. Doe)", "bbb@ddd.com", "John X. Doe"),  # RFC 822's example
        ("Ivan@Example.RU (=?utf-8?b?0JjQstCw0L0g0J8u?=)", "ivan@example.ru", "Иван П."),
        ('"Jane Roe" <jane@example.com> (work)', "jane@example.com", "Jane Roe"),
        ("plain@example.com", "plain@example.com", None),
        ("empty@example.com ()", "empty@example.com", None),
    ],
)
def test_display_name_from_old_style_comments(
    from_header: str, address: str, name: str | None
) -> None:
    raw = f"From: {from_header}\r\nSubject: hi\r\nMessage-ID: <c-1@x>\r\n\r\nhello\r\n"
    mail = parse_mail(raw.encode())
    assert (mail.sender, mail.name) == (address, name)


def test_html_only_mail_becomes_text() -> None:
    mail = parse_mail(corpus.html_only())
    assert "Hello there," in mail.text
    assert "- blue mug" in mail.text and "- red mug" in mail.text
    assert "this one (https://shop.example/42)" in mail.text
    assert "alert" not in mail.text and "color" not in mail.text and "<" not in mail.text


def test_nested_multiparts_keep_plain_body_attachments_and_threading() -> None:
    mail = parse_mail(corpus.nested())
    assert mail.text == "Plain part wins. Price list attached."
    by_mime = {a.mime_type: a for a in mail.attachments}
    assert set(by_mime) == {"image/png", "application/pdf", "message/rfc822"}
    assert by_mime["application/pdf"].file_name == "Прайс.pdf"
    assert by_mime["application/pdf"].size == len(corpus.PDF_BYTES)
    assert by_mime["application/pdf"].kind == "document"
    assert by_mime["image/png"].kind == "photo"
    assert by_mime["image/png"].size == len(corpus.PNG_BYTES)
    assert by_mime["image/png"].extra == {"inline": True, "content_id": "<logo@x>"}
    assert mail.in_reply_to == "<out-0@shop.example>"
    assert mail.references == ("<first@example.net>", "<out-0@shop.example>")
    event = mail.inbound("shop", uid=7)
    assert event is not None
    assert event.extra["message_id"] == "<nested-1@example.net>"
    assert event.extra["in_reply_to"] == "<out-0@shop.example>"
    assert event.extra["imap_uid"] == 7
    json.dumps(event.extra)  # storable as JSON


def test_bounce_names_our_message_and_the_reason() -> None:
    mail = parse_mail(corpus.bounce("<out-1@shop.example>"))
    assert mail.kind == "bounce"
    assert mail.bounce is not None
    assert mail.bounce.original_message_id == "<out-1@shop.example>"
    assert mail.bounce.recipient == "gone@example.com"
    assert "User unknown" in mail.bounce.reason and mail.bounce.failed


def test_delayed_notice_is_a_bounce_that_failed_nothing() -> None:
    mail = parse_mail(corpus.bounce("<out-1@shop.example>", action="delayed"))
    assert mail.kind == "bounce" and mail.bounce is not None and not mail.bounce.failed


def test_auto_replies_are_recognised_by_each_marker() -> None:
    for header in (
        ("Auto-Submitted", "auto-replied"),
        ("Auto-Submitted", "auto-generated; owner-email=x@y.z"),
        ("X-Autoreply", "yes"),
        ("Precedence", "auto_reply"),
    ):
        assert parse_mail(corpus.auto_reply(header)).kind == "auto_reply", header
    assert parse_mail(corpus.auto_reply(("Auto-Submitted", "no"))).kind == "mail"


def test_missing_message_id_falls_back_to_a_content_hash() -> None:
    one, again = parse_mail(corpus.no_message_id()), parse_mail(corpus.no_message_id())
    other = parse_mail(corpus.no_message_id("Different text."))
    assert one.message_id is None
    assert one.dedup_key.startswith("mail:sha256:")
    assert one.dedup_key == again.dedup_key != other.dedup_key
    assert one.text == "No id here."


def test_mail_without_any_sender_has_no_client() -> None:
    mail = parse_mail(corpus.no_sender())
    assert mail.sender is None and mail.text == "who am I"
    assert mail.inbound("shop") is None


def test_unknown_charsets_fall_back_instead_of_failing() -> None:
    mail = parse_mail(corpus.unknown_charset())
    assert mail.text == "café ok"
    assert mail.sender == "weird@example.com"


def test_raw_8bit_headers_and_broken_words_are_kept_readable() -> None:
    mail = parse_mail(corpus.raw_8bit_headers())
    assert mail.sender == "petr@example.com"
    assert mail.subject is not None and mail.subject.startswith("Привет")
    assert mail.text == "Тело письма"
    assert mail.sent_at is None  # "not a date at all"
    for value in (mail.subject, mail.name or "", mail.text):
        value.encode("utf-8")  # no lone surrogates left from undecodable bytes


def test_truncated_mail_keeps_what_arrived() -> None:
    raw = corpus.huge_attachment(200_000)[:50_000]
    mail = parse_mail(raw)
    assert mail.text == "See the big file."
    assert [a.file_name for a in mail.attachments] == ["big.bin"]
    assert mail.defects  # the missing end boundary is noted, not fatal


def test_html_to_text_survives_garbage() -> None:
    assert html_to_text("<p>a</p><<<>>><div>b").splitlines()[0] == "a"
    assert html_to_text("") == ""


_header_names = st.sampled_from(
    [
        "From",
        "Subject",
        "Message-ID",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Date",
        "Auto-Submitted",
        "References",
        "In-Reply-To",
        "Sender",
        "X-Weird",
    ]
)
_header_values = st.one_of(
    st.text(max_size=60),
    st.binary(max_size=60),
    st.sampled_from(
        [
            "multipart/mixed; boundary=b",
            "multipart/report; report-type=delivery-status",
            "text/plain; charset=koi8-r",
            "text/html; charset=nope",
            "base64",
            "quoted-printable",
            "=?utf-8?B?w6k=?=",
            "=?koi8-r?Q?=F0=F2?=",
            "<a@b>",
            "x <y@z.w>",
            "message/rfc822",
        ]
    ),
)


@st.composite
def raw_mails(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(_header_names, _header_values), max_size=8))
    lines = []
    for name, value in headers:
        raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        lines.append(name.encode() + b": " + raw.replace(b"\r", b"").replace(b"\n", b" "))
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            st.sampled_from(
                [
                    b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
                    b"--b\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n",
                    b"=?=\x00\xff\xfe<html><p>x",
                ]
            ),
        )
    )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_mails())
def test_any_message_parses_into_storable_values(raw: bytes) -> None:
    mail = parse_mail(raw)
    event = mail.inbound("shop", uid=1)
    strings = [mail.text, mail.subject or "", mail.name or "", mail.sender or "", mail.dedup_key]
    if event is not None:
        strings.append(json.dumps(event.extra, ensure_ascii=False))
        strings.extend(json.dumps(a.as_json(), ensure_ascii=False) for a in event.attachments)
    for value in strings:
        value.encode("utf-8")  # no lone surrogates
        assert "\x00" not in value
    assert len(mail.dedup_key) <= 512
    if mail.sender is not None:
        assert "@" in mail.sender and mail.sender == mail.sender.lower()
