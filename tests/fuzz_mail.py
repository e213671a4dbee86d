"""Raw emails for the fuzz test: valid mails (RFC 5322 / MIME) as JSON-shaped documents the
mutations of ``tests.fuzz_payloads`` work on, and the renderer that makes bytes of any of
them, however mutated (a header whose value became a list, a body that became a number).

A document is ``{"headers": [[name, value], ...], "body": text | [part, ...]}``; a part is a
document too (``multipart/*`` when its body is a list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.fuzz_payloads import VALUES, Raw

MAILS: list[dict[str, Any]] = [
    {
        "headers": [
            ["From", "Ann Lee <ann@example.com>"],
            ["To", "shop@example.org"],
            ["Subject", "Order 42"],
            ["Date", "Mon, 24 Nov 2025 10:00:00 +0300"],
            ["Message-ID", "<order42@example.com>"],
            ["Content-Type", "text/plain; charset=utf-8"],
        ],
        "body": "Hello,\nwhere is my order?\n",
    },
    {
        "headers": [
            ["From", "=?utf-8?b?0JHQvtGA0LjRgQ==?= <boris@example.ru>"],
            ["To", "shop@example.org"],
            ["Subject", "=?utf-8?q?=D0=97=D0=B0=D0=BA=D0=B0=D0=B7?="],
            ["Date", "Tue, 25 Nov 2025 08:30:00 +0000"],
            ["Message-ID", "<b1@example.ru>"],
            ["In-Reply-To", "<sent1@example.org>"],
            ["MIME-Version", "1.0"],
            ["Content-Type", "multipart/alternative"],
        ],
        "body": [
            {
                "headers": [
                    ["Content-Type", "text/plain; charset=koi8-r"],
                    ["Content-Transfer-Encoding", "8bit"],
                ],
                "body": "Привет",
            },
            {
                "headers": [
                    ["Content-Type", "text/html; charset=utf-8"],
                    ["Content-Transfer-Encoding", "quoted-printable"],
                ],
                "body": "<p>=D0=9F=D1=80=D0=B8=D0=B2=D0=B5=D1=82</p>",
            },
        ],
    },
    {
        "headers": [
            ["From", "cy@example.net"],
            ["To", "shop@example.org"],
            ["Subject", "invoice"],
            ["Message-ID", "<inv@example.net>"],
            ["Content-Type", "multipart/mixed"],
        ],
        "body": [
            {"headers": [["Content-Type", "text/plain"]], "body": "see attached"},
            {
                "headers": [
                    ["Content-Type", "application/pdf; name=bill.pdf"],
                    ["Content-Disposition", "attachment; filename=bill.pdf"],
                    ["Content-Transfer-Encoding", "base64"],
                ],
                "body": "JVBERi0xLjQK",
            },
        ],
    },
]


def _text(value: Any, raws: dict[str, str]) -> str:
    if isinstance(value, str):
        return raws.get(value, value)
    if isinstance(value, Raw):
        return value.text
    return repr(value)


def render(doc: Any, raws: dict[str, str], depth: int = 0) -> str:
    """The mail text of ``doc`` (anything: what is not a document becomes a body line)."""
    if not isinstance(doc, dict):
        return f"\n{_text(doc, raws)}"
    body = doc.get("body")
    lines = []
    subtype = "multipart/mixed"
    headers = doc.get("headers")
    for header in headers if isinstance(headers, list) else []:
        if isinstance(header, list) and len(header) >= 2:
            name, value = _text(header[0], raws), _text(header[1], raws)
            if isinstance(body, list) and name.lower() == "content-type":
                if value.startswith("multipart/"):
                    subtype = value.split(";")[0]
                continue  # a multipart body gets its own, with the boundary
            lines.append(f"{name}: {value}")
        else:
            lines.append(_text(header, raws))
    if isinstance(body, list):
        boundary = f"=_b{depth}"
        lines.append(f'Content-Type: {subtype}; boundary="{boundary}"')
        parts = []
        for part in body:  # a loop, not a comprehension: one frame per level of nesting
            parts.append(f"--{boundary}\n{render(part, raws, depth + 1)}")
        return "\n".join(lines) + "\n\n" + "\n".join(parts) + f"\n--{boundary}--\n"
    return "\n".join(lines) + "\n\n" + _text(body, raws)


def mail_bytes(doc: Any, raws: dict[str, str]) -> bytes:
    """``render`` as bytes, CRLF line ends; lone surrogates become the bytes they stand for
    (invalid UTF-8: what a broken mailer sends)."""
    return render(doc, raws).replace("\n", "\r\n").encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Multipart:
    """A text part inside ``depth`` levels of multipart, built when the case is applied (a
    case stays small enough to print)."""

    depth: int

    def build(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"headers": [["Content-Type", "text/plain"]], "body": "deep"}
        for _ in range(self.depth):
            doc = {"headers": [], "body": [doc]}
        return doc


MAIL_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{k: v for k, v in VALUES.items() if k not in ("long_number", "deep_nesting")},
    "deep_multipart": st.sampled_from([5, 60, 400]).map(Multipart),
    "odd_date": st.sampled_from(
        [
            "Fri, 31 Dec 9999 23:59:59 +0000",
            "Sat, 01 Jan 0001 00:00:00 +0000",
            "Thu, 01 Jan 1970 00:00:00 -9999",
            "31 Feb 2025 25:61:61 +0000",
            "yesterday",
            "",
        ]
    ),
}
