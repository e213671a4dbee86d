"""Awkward real-world mail shapes, carried by the tests themselves (raw RFC 5322 bytes)."""

from __future__ import annotations

import base64
import quopri
from email.header import Header

CRLF = b"\r\n"


def _mail(headers: list[tuple[str, str | bytes]], body: bytes) -> bytes:
    lines = []
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("ascii")
        lines.append(name.encode("ascii") + b": " + raw)
    return CRLF.join(lines) + CRLF + CRLF + body.replace(b"\r\n", b"\n").replace(b"\n", CRLF)


def _word(text: str, charset: str, encoding: str = "b") -> str:
    if encoding == "b":
        return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="
    return Header(text, charset).encode()


def koi8r() -> bytes:
    """A Russian mail in KOI8-R: encoded-word name and subject, 8-bit body."""
    return _mail(
        [
            ("From", f"{_word('Иван Петров', 'koi8-r')} <Ivan.Petrov@Example.RU>"),
            ("To", "shop@shop.example"),
            ("Subject", _word("Заказ номер 15", "koi8-r")),
            ("Date", "Tue, 24 Nov 2026 10:00:00 +0300"),
            ("Message-ID", "<koi8-1@example.ru>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", 'text/plain; charset="koi8-r"'),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        "Здравствуйте! Когда привезёте заказ?\n".encode("koi8-r"),
    )


def windows1251() -> bytes:
    """Windows-1251 quoted-printable body, Q-encoded subject, folded header."""
    body = quopri.encodestring("Добрый день.\nСчёт во вложении не открывается.\n".encode("cp1251"))
    return _mail(
        [
            ("From", f'"{_word("Ольга", "windows-1251", "q")}" <olga@example.com>'),
            ("To", "shop@shop.example"),
            ("Subject", _word("Вопрос по счёту", "windows-1251", "q")),
            ("Date", "Tue, 24 Nov 2026 11:00:00 +0300"),
            ("Message-ID", "<cp1251-1@example.com>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain;\r\n charset=windows-1251"),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ],
        body,
    )


def html_only() -> bytes:
    html = (
        "<html><head><style>p {color: red}</style><title>x</title></head><body>"
        "<p>Hello&nbsp;there,</p><p>I want <b>two</b> of these:</p>"
        '<ul><li>blue mug</li><li>red mug</li></ul><p><a href="https://shop.example/42">'
        "this one</a></p><script>alert(1)</script></body></html>"
    )
    return _mail(
        [
            ("From", "Mary Major <mary@example.org>"),
            ("To", "shop@shop.example"),
            ("Subject", "HTML only"),
            ("Message-ID", "<html-1@example.org>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Transfer-Encoding", "base64"),
        ],
        base64.encodebytes(html.encode()),
    )


PDF_BYTES = b"%PDF-1.4\n" + bytes(range(256)) * 8
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300


def nested() -> bytes:
    """mixed( related( alternative(plain, html), inline png ), pdf with RFC 2231 name,
    a forwarded message/rfc822 )."""
    pdf = base64.encodebytes(PDF_BYTES).decode()
    png = base64.encodebytes(PNG_BYTES).decode()
    body = f"""--outer
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Plain part wins. Price list attached.
--alt
Content-Type: text/html; charset=utf-8

<p>HTML part loses.</p><img src="cid:logo@x">
--alt--
--rel
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <logo@x>
Content-Disposition: inline

{png}
--rel--
--outer
Content-Type: application/pdf
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename*=utf-8''%D0%9F%D1%80%D0%B0%D0%B9%D1%81.pdf

{pdf}
--outer
Content-Type: message/rfc822
Content-Disposition: attachment

From: someone@example.net
Subject: the forwarded one
Message-ID: <inner@example.net>

inner body
--outer--
"""
    return _mail(
        [
            ("From", "Kim <kim@example.net>"),
            ("To", "shop@shop.example"),
            ("Subject", "Nested"),
            ("Message-ID", "<nested-1@example.net>"),
            ("In-Reply-To", "<out-0@shop.example>"),
            ("References", "<first@example.net> <out-0@shop.example>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", 'multipart/mixed; boundary="outer"'),
        ],
        body.encode(),
    )


def bounce(
    original_message_id: str, recipient: str = "gone@example.com", action: str = "failed"
) -> bytes:
    """A DSN (RFC 3464) from a mailer daemon about one of our mails."""
    body = f"""--dsn
Content-Type: text/plain; charset=us-ascii

This is the mail system. Your message could not be delivered.
--dsn
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

--dsn
Content-Type: text/rfc822-headers

From: shop@shop.example
To: {recipient}
Subject: Your order
Message-ID: {original_message_id}

--dsn--
"""
    return _mail(
        [
            ("From", "Mail Delivery System <MAILER-DAEMON@mx.example.com>"),
            ("To", "shop@shop.example"),
            ("Subject", "Undelivered Mail Returned to Sender"),
            ("Message-ID", f"<bounce-{action}-{original_message_id.strip('<>')}>"),
            ("Auto-Submitted", "auto-replied"),
            ("MIME-Version", "1.0"),
            ("Content-Type", 'multipart/report; report-type=delivery-status; boundary="dsn"'),
        ],
        body.encode(),
    )


def auto_reply(header: tuple[str, str] = ("Auto-Submitted", "auto-replied")) -> bytes:
    return _mail(
        [
            ("From", "Away Person <away@example.com>"),
            ("To", "shop@shop.example"),
            ("Subject", "Out of office: Your order"),
            ("Message-ID", f"<ooo-{header[0]}@example.com>"),
            header,
        ],
        b"I am away until Monday.\n",
    )


def no_message_id(text: str = "No id here.") -> bytes:
    return _mail(
        [("From", "noid@example.com"), ("To", "shop@shop.example"), ("Subject", "no id")],
        text.encode() + b"\n",
    )


def no_sender() -> bytes:
    return _mail([("Subject", "from nobody"), ("Message-ID", "<nobody@x>")], b"who am I\n")


def unknown_charset() -> bytes:
    return _mail(
        [
            ("From", "weird@example.com"),
            ("Subject", "=?x-unknown?B?SGVsbG8=?="),
            ("Message-ID", "<weird-1@example.com>"),
            ("Content-Type", "text/plain; charset=x-no-such-charset"),
            ("Content-Transfer-Encoding", "8bit"),
        ],
        "caf\u00e9 ok\n".encode(),
    )


def raw_8bit_headers() -> bytes:
    """Unencoded UTF-8 in the subject, cp1251 bytes in the display name, a broken encoded-word."""
    return _mail(
        [
            ("From", "Пётр".encode("cp1251") + b" <petr@example.com>"),
            ("Subject", "Привет =?utf-8?B?broken!!!?=".encode()),
            ("Message-ID", "<raw8-1@example.com>"),
            ("Date", "not a date at all"),
        ],
        "Тело письма\n".encode(),
    )


def huge_attachment(size: int = 3 * 1024 * 1024) -> bytes:
    blob = base64.encodebytes(bytes(size)).decode()
    body = f"""--b
Content-Type: text/plain; charset=utf-8

See the big file.
--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="big.bin"

{blob}
--b--
"""
    return _mail(
        [
            ("From", "big@example.com"),
            ("Subject", "big one"),
            ("Message-ID", "<huge-1@example.com>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", 'multipart/mixed; boundary="b"'),
        ],
        body.encode(),
    )


def simple(n: int, sender: str = "client@example.com", subject: str = "Hello") -> bytes:
    return _mail(
        [
            ("From", f"Client {n} <{sender}>"),
            ("To", "shop@shop.example"),
            ("Subject", f"{subject} {n}"),
            ("Message-ID", f"<simple-{n}-{sender}>"),
        ],
        f"message number {n}\n".encode(),
    )


def nested_reply_from(sender: str) -> bytes:
    """The client's second mail, answering ours and referencing their first."""
    return _mail(
        [
            ("From", f"Client <{sender}>"),
            ("To", "shop@shop.example"),
            ("Subject", "Hello again"),
            ("Message-ID", "<reply-2@example.com>"),
            ("In-Reply-To", "<out-7@shop.example>"),
            ("References", f"<simple-1-{sender}> <out-7@shop.example>"),
            ("Date", "Tue, 24 Nov 2026 12:00:00 +0000"),
        ],
        b"Any news?\n",
    )
