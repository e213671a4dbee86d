"""The TLS context of IMAP and SMTP connections: verified certificates, optionally a private CA."""

from __future__ import annotations

import ssl


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A client context that checks the server's certificate and host name against the system's
    trust store, or against ``ca_file`` (PEM) for a server with its own certificate authority."""
    return ssl.create_default_context(cafile=ca_file)
